/**
 * A strict JSON reader for security documents (manifests, indexes, bundles, statements, ML-BOMs).
 *
 * The bytes modelgate judges are later read by other programs: oras, containerd and cosign decode
 * OCI JSON with Go's encoding/json, which matches object keys to struct fields case-insensitively
 * (Unicode simple folding: `Layers`, `LAYERS`, `layerſ` and a Kelvin-sign `K` all reach a field), keeps
 * the LAST of duplicate keys, and replaces invalid UTF-8 and lone surrogates with U+FFFD. JSON.parse
 * treats `Layers` as another key. A document on which two such readers can disagree is refused
 * here, with code `ARTIFACT_AMBIGUOUS`, instead of being judged on one reading and used on another:
 *   - a duplicate key, or two keys of one object equal up to case folding;
 *   - a key equal to a known field up to case (or `_`/`-`), but not spelled as the field;
 *   - bytes that are not UTF-8, and `\u` escapes that leave a lone surrogate;
 *   - with `integersOnly`, a number written with a fraction or exponent (`1.0e3`: JSON.parse reads
 *     1000, Go refuses it for an int64 field);
 *   - nesting deeper than `maxDepth` or input larger than `maxBytes` (limits, not differentials, but
 *     a document beyond them is not read at all, so it is refused the same way).
 * Syntax errors, and a top-level value that is not an object, are `JSON_INVALID`.
 *
 * One pass over the text with an explicit stack (no recursion, no backtracking): linear time, and a
 * hostile document is refused when its nesting passes the bound, not after it was read.
 */

export type StrictJsonCode = 'ARTIFACT_AMBIGUOUS' | 'JSON_INVALID';

/** Why a document was refused; tests assert on these. */
export type StrictJsonReason =
  | 'duplicate-key'
  | 'case-variant'
  | 'invalid-utf8'
  | 'lone-surrogate'
  | 'non-integer'
  | 'too-deep'
  | 'too-large'
  | 'syntax'
  | 'not-object';

export class StrictJsonError extends Error {
  override readonly name = 'StrictJsonError';
  readonly code: StrictJsonCode;
  readonly reason: StrictJsonReason;

  constructor(reason: StrictJsonReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.code = reason === 'syntax' || reason === 'not-object' ? 'JSON_INVALID' : 'ARTIFACT_AMBIGUOUS';
  }
}

export function isStrictJsonError(e: unknown): e is StrictJsonError {
  return e instanceof StrictJsonError;
}

/** Field names a consumer matches case-insensitively, compiled for lookup by their folded form. */
export interface KnownFields {
  /** folded name (without `_` and `-`) -> the exact spellings that are the field. */
  readonly byFolded: ReadonlyMap<string, ReadonlySet<string>>;
}

export function knownFields(names: Iterable<string>): KnownFields {
  const byFolded = new Map<string, Set<string>>();
  for (const name of names) {
    const f = fieldFold(name);
    const set = byFolded.get(f) ?? new Set<string>();
    set.add(name);
    byFolded.set(f, set);
  }
  return { byFolded };
}

/** Merges several field sets (a document that embeds another). */
export function mergeKnownFields(...sets: KnownFields[]): KnownFields {
  return knownFields(sets.flatMap((s) => [...s.byFolded.values()].flatMap((v) => [...v])));
}

export interface StrictJsonOptions {
  /** Fields that a consumer reads case-insensitively; any other spelling of one is refused. */
  readonly known?: KnownFields;
  /**
   * Fields whose value is a map with keys of the author's choosing (Go: `map[string]...` or
   * `interface{}`), matched exactly by every consumer: `known` does not apply inside them, so an
   * annotation named `Size` is not taken for the descriptor's `size`. Duplicates are still refused.
   * Default: `FREE_FORM_FIELDS`.
   */
  readonly maps?: ReadonlySet<string>;
  /** Refuse numbers written with a fraction or an exponent (documents whose numbers are all integers). */
  readonly integersOnly?: boolean;
  /** Deepest nesting of arrays and objects (default 64). */
  readonly maxDepth?: number;
  /** Largest input, in bytes (default 4 MiB). */
  readonly maxBytes?: number;
  /** Accept (and drop) a leading UTF-8 byte order mark: for documents whose consumers do (Python). */
  readonly allowBom?: boolean;
  /** What the top-level value must be (default `object`). */
  readonly topLevel?: 'object' | 'any';
}

/**
 * Map-valued fields of the documents read strictly: OCI and in-toto `annotations`, image config
 * `labels`, in-toto's `digest` set. Not SLSA's `externalParameters`: modelgate reads fields inside it
 * (`workflow.repository`, `source`) that slsa-verifier decodes into structs, so case variants there
 * stay refused.
 */
export const FREE_FORM_FIELDS: ReadonlySet<string> = new Set(['annotations', 'labels', 'Labels', 'digest']);

export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

// ignoreBOM keeps a BOM in the text (the default decoder drops it silently, and Go refuses it).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses a security document strictly. Throws `StrictJsonError`; on success the value equals what
 * JSON.parse returns for the same text.
 */
export function parseStrictJson(input: Uint8Array | string, options: StrictJsonOptions = {}): unknown {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let text: string;
  if (typeof input === 'string') {
    // UTF-16 units are at most 3 UTF-8 bytes each: cheap bound first, exact length only near it.
    if (input.length * 3 > maxBytes && Buffer.byteLength(input, 'utf8') > maxBytes)
      throw new StrictJsonError('too-large', `document larger than ${maxBytes} bytes`);
    if (!input.isWellFormed())
      throw new StrictJsonError('lone-surrogate', 'document text carries a lone surrogate');
    text = input;
  } else {
    if (input.length > maxBytes)
      throw new StrictJsonError('too-large', `document of ${input.length} bytes is larger than ${maxBytes}`);
    try {
      text = utf8.decode(input);
    } catch (err) {
      throw new StrictJsonError('invalid-utf8', 'document is not valid UTF-8', { cause: err });
    }
  }
  if (options.allowBom === true && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  new Reader(text, options).check();
  if ((options.topLevel ?? 'object') === 'object' && text.charCodeAt(firstNonSpace(text)) !== 0x7b)
    throw new StrictJsonError('not-object', 'document is not a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    // Unreachable when the check above is right; kept so a gap there still refuses with a code.
    throw new StrictJsonError('syntax', `not JSON (native parser): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function firstNonSpace(s: string): number {
  let i = 0;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/**
 * A key as Go's encoding/json compares it, made coarser where Go versions differ: each code point is
 * mapped through its simple upper case, then its simple lower case. This merges every simple-folding
 * orbit (`K`/`k`/U+212A, `S`/`s`/U+017F) and also dotless `ı` with `i`, which Go 1.21 matched
 * (unicode.ToUpper) and later versions do not. Coarser only refuses more.
 */
export function foldKey(key: string): string {
  let lower = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return foldUnicode(key);
    if (c >= 0x41 && c <= 0x5a) lower = false;
  }
  return lower ? key : key.toLowerCase();
}

function foldUnicode(key: string): string {
  let out = '';
  for (const ch of key) {
    const up = ch.toUpperCase();
    const u = isOneCodePoint(up) ? up : ch;
    const low = u.toLowerCase();
    out += isOneCodePoint(low) ? low : u;
  }
  return out;
}

function isOneCodePoint(s: string): boolean {
  return s.length === 1 || (s.length === 2 && (s.codePointAt(0) ?? 0) > 0xffff);
}

/**
 * The form a known field is looked up by: folded, and blind to `_` and `-` (Go's JSON v2 ignores
 * them; protojson reads `media_type` as `mediaType`). A leading `_` stays: in-toto's `_type` is not
 * CycloneDX's `type`.
 */
function fieldFold(key: string): string {
  return withoutDelimiters(foldKey(key));
}

function withoutDelimiters(folded: string): string {
  if (!folded.includes('_', 1) && !folded.includes('-')) return folded;
  return folded.charAt(0) + folded.slice(1).replace(/[_-]/g, '');
}

/** An open container: `undefined` for an array, the folded keys seen so far for an object. */
type Frame = string[] | Set<string> | undefined;

/** The value of four hex digits at `at`, or -1. */
function hex4(s: string, at: number): number {
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const c = s.charCodeAt(k);
    const d =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x61 && c <= 0x66
          ? c - 0x57
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

function digits(s: string, from: number): number {
  let j = from;
  for (;;) {
    const c = s.charCodeAt(j);
    if (c >= 0x30 && c <= 0x39) j++;
    else return j;
  }
}

/**
 * Checks a document's grammar, keys, numbers and nesting without building it: JSON.parse builds the
 * value afterwards (natively, several times faster), so the value is by construction JSON.parse's.
 * Keys are decoded (they are compared); other strings are only scanned.
 */
class Reader {
  readonly #s: string;
  readonly #known: KnownFields | undefined;
  readonly #integersOnly: boolean;
  readonly #maxDepth: number;
  readonly #maps: ReadonlySet<string>;
  #i = 0;
  /** The last key read: the key of the value that follows it. */
  #lastKey = '';
  /** Stack depth at which a free-form map was entered (known fields are not checked inside), or -1. */
  #free = -1;

  constructor(text: string, options: StrictJsonOptions) {
    this.#s = text;
    this.#known = options.known;
    this.#maps = options.maps ?? FREE_FORM_FIELDS;
    this.#integersOnly = options.integersOnly === true;
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  check(): void {
    const s = this.#s;
    const stack: Frame[] = [];
    for (;;) {
      // One value; a container with content pushes a frame and reads its first element next.
      this.#ws();
      const c = s.charCodeAt(this.#i);
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (stack.length >= this.#maxDepth)
          throw new StrictJsonError(
            'too-deep',
            `nested deeper than ${this.#maxDepth} at character ${this.#i}`,
          );
        this.#i++;
        this.#ws();
        // A container that is the value of a map-valued field: keys inside are the author's. Set only
        // when a frame is pushed, so that it ends exactly with that frame.
        const free =
          this.#free < 0 &&
          stack.length > 0 &&
          stack[stack.length - 1] !== undefined &&
          this.#maps.has(this.#lastKey);
        if (c === 0x7b) {
          if (s.charCodeAt(this.#i) === 0x7d) this.#i++;
          else {
            const seen: string[] = [];
            if (free) this.#free = stack.length;
            stack.push(seen);
            this.#key(stack, seen);
            continue;
          }
        } else if (s.charCodeAt(this.#i) === 0x5d) this.#i++;
        else {
          if (free) this.#free = stack.length;
          stack.push(undefined);
          continue;
        }
      } else if (c === 0x22 /* " */) {
        this.#skipString();
      } else if (c === 0x74 /* t */ && s.startsWith('true', this.#i)) {
        this.#i += 4;
      } else if (c === 0x66 /* f */ && s.startsWith('false', this.#i)) {
        this.#i += 5;
      } else if (c === 0x6e /* n */ && s.startsWith('null', this.#i)) {
        this.#i += 4;
      } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
        this.#number();
      } else {
        throw this.#syntax(Number.isNaN(c) ? 'unexpected end of document' : 'unexpected character');
      }
      // The value is complete: a comma goes on in its container; a closing bracket completes that too.
      for (;;) {
        this.#ws();
        if (stack.length === 0) {
          if (this.#i !== s.length) throw this.#syntax('unexpected content after the document');
          return;
        }
        const top = stack[stack.length - 1];
        const d = s.charCodeAt(this.#i);
        if (d === 0x2c /* , */) {
          this.#i++;
          if (top !== undefined) {
            this.#ws();
            this.#key(stack, top);
          }
          break;
        }
        if (d !== (top === undefined ? 0x5d : 0x7d))
          throw this.#syntax(top === undefined ? "expected ',' or ']'" : "expected ',' or '}'");
        this.#i++;
        stack.pop();
        if (stack.length <= this.#free) this.#free = -1;
      }
    }
  }

  /** Reads `"key" :` and checks it against the object's other keys and the known fields. */
  #key(stack: Frame[], frame: string[] | Set<string>): void {
    if (this.#s.charCodeAt(this.#i) !== 0x22) throw this.#syntax('expected a string key');
    const at = this.#i;
    const key = this.#string();
    const folded = foldKey(key);
    let seen = frame;
    // Most objects have a few keys: a list, then a set once it grows (quadratic scans are a stall).
    if (Array.isArray(seen) && seen.length >= 16) {
      seen = new Set(seen);
      stack[stack.length - 1] = seen;
    }
    if (Array.isArray(seen) ? seen.includes(folded) : seen.has(folded)) {
      throw new StrictJsonError(
        'duplicate-key',
        `key ${JSON.stringify(key)} at character ${at} repeats a key of the same object (up to case)`,
      );
    }
    if (Array.isArray(seen)) seen.push(folded);
    else seen.add(folded);
    this.#lastKey = key;
    if (this.#known !== undefined && this.#free < 0) {
      const spellings = this.#known.byFolded.get(withoutDelimiters(folded));
      if (spellings !== undefined && !spellings.has(key)) {
        throw new StrictJsonError(
          'case-variant',
          `key ${JSON.stringify(key)} at character ${at} is another spelling of the field ${JSON.stringify([...spellings][0])}`,
        );
      }
    }
    this.#ws();
    if (this.#s.charCodeAt(this.#i) !== 0x3a) throw this.#syntax("expected ':'");
    this.#i++;
  }

  /** Skips a string value. */
  #skipString(): void {
    this.#i = this.#scanString(this.#i) + 1;
  }

  /** Reads a string (a key): its text between the quotes, or JSON.parse's decoding when it has escapes. */
  #string(): string {
    const start = this.#i;
    const end = this.#scanString(start);
    this.#i = end + 1;
    const body = this.#s.slice(start + 1, end);
    // The literal was checked just now: JSON.parse decodes it natively, and can no longer fail.
    return body.includes('\\') ? (JSON.parse(this.#s.slice(start, end + 1)) as string) : body;
  }

  /**
   * Checks the string literal opening at `start` (escapes, control characters, and escapes that leave a
   * lone surrogate) without building it; returns the index of its closing quote.
   */
  #scanString(start: number): number {
    const s = this.#s;
    let j = start + 1;
    // An escaped high surrogate waiting for its escaped low half (raw text is well formed already).
    let high = false;
    for (;;) {
      const c = s.charCodeAt(j);
      if (c === 0x5c) {
        const e = s.charCodeAt(j + 1);
        if (e === 0x75) {
          const unit = hex4(s, j + 2);
          if (unit < 0) {
            this.#i = j;
            throw this.#syntax('invalid \\u escape');
          }
          const isHigh = unit >= 0xd800 && unit <= 0xdbff;
          const isLow = unit >= 0xdc00 && unit <= 0xdfff;
          if (high !== isLow) this.#lone(j);
          high = isHigh;
          j += 6;
          continue;
        }
        // " \ / b f n r t
        if (
          !(
            e === 0x22 ||
            e === 0x5c ||
            e === 0x2f ||
            e === 0x62 ||
            e === 0x66 ||
            e === 0x6e ||
            e === 0x72 ||
            e === 0x74
          )
        ) {
          this.#i = j;
          throw this.#syntax('invalid escape');
        }
        if (high) this.#lone(j);
        j += 2;
        continue;
      }
      if (high) this.#lone(j);
      if (c === 0x22) return j;
      if (c < 0x20 || Number.isNaN(c)) {
        this.#i = j;
        throw this.#syntax(Number.isNaN(c) ? 'unterminated string' : 'control character in a string');
      }
      j++;
    }
  }

  #lone(at: number): never {
    throw new StrictJsonError(
      'lone-surrogate',
      `a \\u escape before character ${at} leaves a lone surrogate (Go reads it as U+FFFD)`,
    );
  }

  #number(): void {
    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, scanned by hand (hot: every size of every layer).
    const s = this.#s;
    const start = this.#i;
    let j = start;
    if (s.charCodeAt(j) === 0x2d) j++;
    const first = s.charCodeAt(j);
    if (first === 0x30) j++;
    else if (first >= 0x31 && first <= 0x39) j = digits(s, j + 1);
    else throw this.#syntax('invalid number');
    let integer = true;
    if (s.charCodeAt(j) === 0x2e) {
      integer = false;
      const k = digits(s, j + 1);
      if (k === j + 1) throw this.#syntax('invalid number');
      j = k;
    }
    const e = s.charCodeAt(j);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      j++;
      const sign = s.charCodeAt(j);
      if (sign === 0x2b || sign === 0x2d) j++;
      const k = digits(s, j);
      if (k === j) throw this.#syntax('invalid number');
      j = k;
    }
    if (this.#integersOnly && !integer) {
      throw new StrictJsonError(
        'non-integer',
        `number ${s.slice(start, Math.min(j, start + 40))} at character ${start} is not written as an integer`,
      );
    }
    this.#i = j;
  }

  #ws(): void {
    const s = this.#s;
    let i = this.#i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.#i = i;
  }

  #syntax(what: string): StrictJsonError {
    return new StrictJsonError('syntax', `not JSON: ${what} at character ${this.#i}`);
  }
}
