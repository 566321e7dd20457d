// NumPy .npy: magic "\x93NUMPY", major and minor version, header length (u16 for v1, u32 for v2/3),
// then the header: a Python dict literal that numpy reads with ast.literal_eval
// (numpy.lib.format._read_array_header: latin1 for v1/v2, UTF-8 for v3; keys exactly descr,
// fortran_order and shape). An array whose dtype holds Python objects anywhere ('O' alone, in a
// structured dtype, in a subarray) stores its elements as a pickle, which np.load(allow_pickle=True)
// runs: such a file is classified as pickle.
//
// The header is parsed as a Python literal the way literal_eval does (either quote, prefixes,
// escapes, implicit concatenation, tuples, lists, comments), and a dtype counts as object-free only
// when every leaf is a dtype string of a known object-free form. Anything else (not a literal, a
// `dtype(...)` repr, unknown keys, an unknown dtype string, a header longer than what was read) is
// not positively object-free: `objectArray` is then true and `parsed` false, so callers fail closed.
// test/integration/evidence/pickle-differential.test.ts checks this against numpy itself.
import { hasBytes, u16le, u32le } from '../bytes.ts';

export const NUMPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

export interface NumpySniff {
  /** True when the dtype holds objects, and also when the header could not be read (fail closed). */
  readonly objectArray: boolean;
  /** False when the header is not one numpy reads as an object-free array (see objectArray). */
  readonly parsed: boolean;
  readonly evidence: string;
}

/** Offset and length of the header dict, from the first bytes; undefined when not an .npy. */
export function numpyHeaderSpan(
  head: Uint8Array,
): { start: number; length: number; major: number } | undefined {
  if (!hasBytes(head, 0, NUMPY_MAGIC) || head.length < 10) return undefined;
  const major = head[6]!;
  if (major < 1 || major > 3) return undefined;
  const length = major === 1 ? u16le(head, 8) : u32le(head, 8);
  if (length === undefined) return undefined;
  return { start: major === 1 ? 10 : 12, length, major };
}

/** Classifies an .npy from its first bytes (the header must be within them). */
export function sniffNumpy(head: Uint8Array): NumpySniff | undefined {
  const span = numpyHeaderSpan(head);
  if (span === undefined) return undefined;
  const version = `v${span.major}.${head[7]}`;
  if (head[7] !== 0) return failClosed(`NumPy .npy ${version}: numpy reads only minor version 0`);
  if (span.start + span.length > head.length) {
    return failClosed(`NumPy .npy ${version}: header of ${span.length} bytes runs past the bytes read`);
  }
  const raw = head.subarray(span.start, span.start + span.length);
  let text: string;
  if (span.major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return failClosed(`NumPy .npy ${version}: header is not UTF-8`);
    }
  } else {
    text = Buffer.from(raw).toString('latin1');
  }
  return judgeHeader(text, version);
}

/** Reads the header with `read` when it lies past `head` (headers may be up to 4 GiB; bounded here). */
export async function inspectNumpy(
  src: { read(start: number, length: number): Promise<Uint8Array> },
  head: Uint8Array,
  maxHeaderBytes = 1024 * 1024,
): Promise<NumpySniff | undefined> {
  const span = numpyHeaderSpan(head);
  if (span === undefined) return undefined;
  if (span.start + span.length <= head.length) return sniffNumpy(head);
  if (span.length > maxHeaderBytes) {
    return failClosed(
      `NumPy .npy header of ${span.length} bytes is larger than the ${maxHeaderBytes}-byte bound`,
    );
  }
  const all = await src.read(0, span.start + span.length);
  return sniffNumpy(all);
}

function failClosed(evidence: string): NumpySniff {
  return { objectArray: true, parsed: false, evidence: `${evidence} (treated as an object array)` };
}

function judgeHeader(text: string, version: string): NumpySniff {
  const where = `NumPy .npy ${version}`;
  let d: PyValue;
  try {
    d = parseLiteral(text);
  } catch (e) {
    return failClosed(`${where}: header is not a Python literal (${(e as Error).message})`);
  }
  if (d.t !== 'dict') return failClosed(`${where}: header is not a dict`);
  const map = new Map<string, PyValue>();
  for (const [k, v] of d.entries) {
    if (k.t !== 'str') return failClosed(`${where}: header has a key that is not a string`);
    map.set(k.v, v);
  }
  const keys = [...map.keys()].sort().join(',');
  if (keys !== 'descr,fortran_order,shape') return failClosed(`${where}: header keys are ${keys || 'none'}`);
  const shape = map.get('shape')!;
  if (shape.t !== 'tuple' || !shape.items.every((x) => x.t === 'int' || x.t === 'bool')) {
    return failClosed(`${where}: shape is not a tuple of ints`);
  }
  if (map.get('fortran_order')!.t !== 'bool') return failClosed(`${where}: fortran_order is not a bool`);
  const descr = map.get('descr')!;
  const verdict = dtypeVerdict(descr);
  const shown = render(descr).slice(0, 60);
  if (verdict === 'object') {
    return {
      objectArray: true,
      parsed: true,
      evidence: `${where}, dtype ${shown} (object array: elements are pickled)`,
    };
  }
  if (verdict === 'unknown')
    return failClosed(`${where}: dtype ${shown} is not one known to hold no objects`);
  return { objectArray: false, parsed: true, evidence: `${where}, dtype ${shown}` };
}

// ---- dtypes ---------------------------------------------------------------------------------------

// numpy.dtype(str) strings of object-free dtypes: what dtype.str writes, and the one-letter codes.
const PLAIN_DTYPE =
  /^[<>|=]?(?:[?bBhHiIlLqQpPefdgFDG]|b1|[iu][1248]|f(?:2|4|8|12|16)|c(?:8|16|24|32)|[US]\d*|V\d*|u?int(?:8|16|32|64)|float(?:16|32|64)|complex(?:64|128)|bool|[mM]8(?:\[\d*(?:Y|M|W|D|h|m|s|ms|us|μs|ns|ps|fs|as)\])?)$/;
// Strings that certainly give an object dtype.
const OBJECT_DTYPE = /^[<>|=]?(?:O\d*|object)$/;

type DtypeVerdict = 'plain' | 'object' | 'unknown';

/** numpy.lib.format.descr_to_dtype(descr).hasobject, as far as it can be known here. */
function dtypeVerdict(d: PyValue): DtypeVerdict {
  if (d.t === 'str') {
    if (OBJECT_DTYPE.test(d.v)) return 'object';
    if (PLAIN_DTYPE.test(d.v)) return 'plain';
    // Comma lists ('i4,O'), type names and other forms numpy.dtype parses: not known to be object-free.
    return 'unknown';
  }
  if (d.t === 'tuple') {
    // (subdtype, shape): a subarray.
    if (d.items.length < 2) return 'unknown';
    const inner = dtypeVerdict(d.items[0]!);
    if (inner !== 'plain') return inner;
    const sh = d.items[1]!;
    const shapeOk = sh.t === 'int' || (sh.t === 'tuple' && sh.items.every((x) => x.t === 'int'));
    return shapeOk ? 'plain' : 'unknown';
  }
  if (d.t === 'list') {
    // A structured dtype: (name, descr) or (name, descr, shape) per field.
    let out: DtypeVerdict = 'plain';
    for (const f of d.items) {
      if ((f.t !== 'tuple' && f.t !== 'list') || (f.items.length !== 2 && f.items.length !== 3)) {
        out = 'unknown';
        continue;
      }
      const v = dtypeVerdict(f.items[1]!);
      if (v === 'object') return 'object';
      if (v === 'unknown') out = 'unknown';
    }
    return out;
  }
  return 'unknown';
}

// ---- Python literals, as ast.literal_eval reads them ----------------------------------------------

type PyValue =
  | { t: 'str'; v: string }
  | { t: 'bytes' }
  | { t: 'int' }
  | { t: 'float' }
  | { t: 'complex' }
  | { t: 'bool' }
  | { t: 'none' }
  | { t: 'ellipsis' }
  | { t: 'tuple'; items: PyValue[] }
  | { t: 'list'; items: PyValue[] }
  | { t: 'set'; items: PyValue[] }
  | { t: 'dict'; entries: [PyValue, PyValue][] };

function render(v: PyValue): string {
  switch (v.t) {
    case 'str':
      return `'${v.v}'`;
    case 'tuple':
      return `(${v.items.map(render).join(', ')}${v.items.length === 1 ? ',' : ''})`;
    case 'list':
      return `[${v.items.map(render).join(', ')}]`;
    default:
      return v.t;
  }
}

const MAX_DEPTH = 100;

/** Parses `text` as literal_eval does (leading spaces and tabs stripped); throws on anything else. */
export function parseLiteral(text: string): PyValue {
  const p = new LiteralParser(text.replace(/^[ \t]+/, ''));
  p.skip(true);
  const v = p.expression(0);
  p.skip(true);
  if (!p.done()) throw new Error(`unexpected ${JSON.stringify(p.rest().slice(0, 10))}`);
  return v;
}

class LiteralParser {
  private readonly s: string;
  private i = 0;
  /** Bracket nesting: newlines are insignificant inside brackets. */
  private depth = 0;

  constructor(s: string) {
    this.s = s;
  }

  done(): boolean {
    return this.i >= this.s.length;
  }

  rest(): string {
    return this.s.slice(this.i);
  }

  /** Skips spaces, comments and line continuations (and newlines inside brackets, or at the end). */
  skip(end = false): void {
    const s = this.s;
    for (;;) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\f') this.i++;
      else if (c === '#') {
        while (this.i < s.length && s[this.i] !== '\n' && s[this.i] !== '\r') this.i++;
      } else if (c === '\\' && (s[this.i + 1] === '\n' || s[this.i + 1] === '\r')) {
        this.i += s[this.i + 1] === '\r' && s[this.i + 2] === '\n' ? 3 : 2;
      } else if ((c === '\n' || c === '\r') && (this.depth > 0 || end)) this.i++;
      else return;
    }
  }

  private peek(): string | undefined {
    this.skip();
    return this.s[this.i];
  }

  private expect(c: string): void {
    if (this.peek() !== c) throw new Error(`expected ${c}`);
    this.i++;
  }

  expression(level: number): PyValue {
    if (level > MAX_DEPTH) throw new Error('too deeply nested');
    const c = this.peek();
    if (c === '(' || c === '[' || c === '{') return this.container(c, level);
    if (c === '-' || c === '+') {
      this.i++;
      const v = this.expression(level + 1);
      if (v.t !== 'int' && v.t !== 'float' && v.t !== 'complex' && v.t !== 'bool') {
        throw new Error('unary sign on a non-number');
      }
      return this.complexTail(v.t === 'bool' ? { t: 'int' } : v, level);
    }
    const v = this.atom();
    return this.complexTail(v, level);
  }

  /** literal_eval accepts a real plus or minus an imaginary number (1+2j). */
  private complexTail(v: PyValue, level: number): PyValue {
    const c = this.peek();
    if ((c === '+' || c === '-') && (v.t === 'int' || v.t === 'float' || v.t === 'complex')) {
      const save = this.i;
      this.i++;
      const r = this.atomNumber();
      if (r === undefined || r.t !== 'complex') {
        this.i = save;
        throw new Error('binary operator in a literal');
      }
      if (level > MAX_DEPTH) throw new Error('too deeply nested');
      return { t: 'complex' };
    }
    return v;
  }

  private container(open: string, level: number): PyValue {
    const close = open === '(' ? ')' : open === '[' ? ']' : '}';
    this.i++;
    this.depth++;
    const items: PyValue[] = [];
    const entries: [PyValue, PyValue][] = [];
    let commas = 0;
    let isDict: boolean | undefined;
    for (;;) {
      if (this.peek() === close) break;
      const k = this.expression(level + 1);
      if (open === '{') {
        if (this.peek() === ':') {
          if (isDict === false) throw new Error('mixed dict and set');
          isDict = true;
          this.i++;
          entries.push([k, this.expression(level + 1)]);
        } else {
          if (isDict === true) throw new Error('mixed dict and set');
          isDict = false;
          items.push(k);
        }
      } else items.push(k);
      if (this.peek() === ',') {
        this.i++;
        commas++;
        continue;
      }
      break;
    }
    this.expect(close);
    this.depth--;
    if (open === '[') return { t: 'list', items };
    if (open === '{') return isDict === false ? { t: 'set', items } : { t: 'dict', entries };
    // Parentheses: a tuple when empty or when a comma appears; otherwise just grouping.
    if (items.length === 1 && commas === 0) return items[0]!;
    return { t: 'tuple', items };
  }

  private atom(): PyValue {
    const s = this.s;
    const start = this.i;
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(start, start + 64))?.[0];
    if (word !== undefined) {
      const prefix = word.toLowerCase();
      const q = s[start + word.length];
      if ((q === "'" || q === '"') && ['r', 'u', 'b', 'br', 'rb'].includes(prefix)) return this.strings();
      this.i += word.length;
      if (word === 'True' || word === 'False') return { t: 'bool' };
      if (word === 'None') return { t: 'none' };
      throw new Error(`name ${word} is not a literal`);
    }
    const c = s[start];
    if (c === "'" || c === '"') return this.strings();
    if (s.startsWith('...', start)) {
      this.i += 3;
      return { t: 'ellipsis' };
    }
    const n = this.atomNumber();
    if (n !== undefined) return n;
    throw new Error(`unexpected ${JSON.stringify(s.slice(start, start + 10))}`);
  }

  private atomNumber(): PyValue | undefined {
    this.skip();
    const rest = this.s.slice(this.i, this.i + 400);
    const int =
      /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?\d)*|0(?:_?0)*)(?![\w.])/.exec(
        rest,
      );
    if (int) {
      this.i += int[0].length;
      return { t: 'int' };
    }
    const num =
      /^(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?([jJ])?(?![\w.])/.exec(rest);
    if (num && num[0] !== '.') {
      this.i += num[0].length;
      if (num[1]) return { t: 'complex' };
      // "012" is not a valid int literal, but "012." or "012e0" are floats.
      if (/^\d+$/.test(num[0].replace(/_/g, ''))) throw new Error('leading zeros in an int literal');
      return { t: 'float' };
    }
    return undefined;
  }

  /** One or more adjacent string literals (implicit concatenation; str and bytes do not mix). */
  private strings(): PyValue {
    let text = '';
    let kind: 'str' | 'bytes' | undefined;
    for (;;) {
      const save = this.i;
      this.skip();
      const m = /^([rRuUbB]{0,2})(['"])/.exec(this.s.slice(this.i, this.i + 3));
      if (!m || !['', 'r', 'u', 'b', 'br', 'rb'].includes(m[1]!.toLowerCase())) {
        this.i = save;
        break;
      }
      const prefix = m[1]!.toLowerCase();
      const k = prefix.includes('b') ? 'bytes' : 'str';
      if (kind !== undefined && kind !== k) throw new Error('cannot mix bytes and nonbytes literals');
      kind = k;
      this.i += prefix.length;
      text += this.stringBody(prefix.includes('r'), k === 'bytes');
    }
    if (kind === undefined) throw new Error('expected a string');
    return kind === 'bytes' ? { t: 'bytes' } : { t: 'str', v: text };
  }

  private stringBody(raw: boolean, isBytes: boolean): string {
    const s = this.s;
    const q = s[this.i]!;
    const triple = s.startsWith(q.repeat(3), this.i);
    const delim = triple ? q.repeat(3) : q;
    this.i += delim.length;
    let out = '';
    for (;;) {
      if (this.i >= s.length) throw new Error('unterminated string');
      if (s.startsWith(delim, this.i)) {
        this.i += delim.length;
        return out;
      }
      const c = s[this.i]!;
      if (!triple && (c === '\n' || c === '\r')) throw new Error('newline in a string');
      if (isBytes && c.charCodeAt(0) > 0x7f)
        throw new Error('bytes can only contain ASCII literal characters');
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = s[this.i + 1];
      if (e === undefined) throw new Error('unterminated string');
      if (raw) {
        // A backslash keeps the next character (even a quote) and itself.
        out += c + e;
        this.i += 2;
        continue;
      }
      this.i += 2;
      const simple: Record<string, string> = {
        '\\': '\\',
        "'": "'",
        '"': '"',
        a: '\x07',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
        '\n': '',
      };
      if (Object.hasOwn(simple, e)) out += simple[e]!;
      else if (e === '\r') {
        if (s[this.i] === '\n') this.i++;
      } else if (/[0-7]/.test(e)) {
        let oct = e;
        while (oct.length < 3 && /[0-7]/.test(s[this.i] ?? '')) oct += s[this.i++]!;
        out += String.fromCharCode(Number.parseInt(oct, 8));
      } else if (e === 'x') {
        const h = s.slice(this.i, this.i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error('truncated \\xXX escape');
        out += String.fromCharCode(Number.parseInt(h, 16));
        this.i += 2;
      } else if (!isBytes && (e === 'u' || e === 'U')) {
        const n = e === 'u' ? 4 : 8;
        const h = s.slice(this.i, this.i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new Error(`truncated \\${e} escape`);
        const cp = Number.parseInt(h, 16);
        if (cp > 0x10ffff) throw new Error('illegal Unicode character');
        out += String.fromCodePoint(cp);
        this.i += n;
      } else if (!isBytes && e === 'N') {
        // \N{NAME}: a named character; the walker does not know the names, so the text is unknown.
        const close = s.indexOf('}', this.i);
        if (s[this.i] !== '{' || close < 0) throw new Error('malformed \\N character escape');
        out += '\uFFFD';
        this.i = close + 1;
      } else {
        // An unknown escape keeps its backslash (a SyntaxWarning, not an error).
        out += `\\${e}`;
      }
    }
  }
}
