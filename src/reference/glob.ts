/**
 * Globs, one matcher for the three places a policy names things by pattern: model repositories
 * (`models`), namespaces (`match.namespaces`) and artifact files (`signatures.allowUnsignedFiles`).
 *
 * Model globs are matched, anchored at both ends, against `repositoryOf(ref)`, i.e. 'host[:port]/path':
 * - `*` matches any run of characters within one '/'-separated segment (never a '/'); in the host
 *   segment that includes '.' and ':', so `*.example.com/**` also covers `a.b.example.com`;
 * - `?` matches exactly one character other than '/';
 * - `**` must be a whole segment and matches any number of whole segments. At the end of a pattern it
 *   matches ONE or more: `registry.example.com/models/**` governs every repository strictly under
 *   `models/`, not a repository named `registry.example.com/models` itself (write that one out when it
 *   should be governed too). Elsewhere it matches zero or more: `a/**` then `/b` covers `a/b` and `a/x/y/b`;
 * - every other character is literal.
 *
 * The pattern's host is normalised as references are (lower case, `index.docker.io` and
 * `registry-1.docker.io` become `docker.io`), and a single Docker Hub path segment gets `library/`, as
 * a single-component Docker Hub reference does (`docker.io/nginx*` means `docker.io/library/nginx*`).
 * An `oci://` prefix is dropped. Patterns name repositories, so a tag (':' outside the host) or a digest
 * ('@') is an error, and so are patterns that could never match a normalised reference: an upper-case
 * path, a first segment that is no registry host, characters no repository contains.
 *
 * Namespace globs are plain: `*` any run of characters, `?` one character, over a DNS label.
 * File globs are model globs without the host: `*` and `?` within a segment, `**` zero or more whole
 * segments (also at the end: `docs/**` covers `docs`), and a pattern without '/' also matches a file's
 * base name at any depth (`README.md` covers `docs/README.md`), as in `.gitignore`.
 *
 * Matching never uses a RegExp: several `*` make a backtracking RegExp exponential or polynomial of high
 * degree in the input (`*a*a*a*a*a*a*a*b` against a long run of 'a' blocked the event loop for ~100 s),
 * and inputs are chosen by pod authors and registries. Instead a compiled pattern is a list of tokens
 * matched by the classic greedy wildcard algorithm (one backtrack point: the latest star), over segments
 * (for `**`) and over characters within a segment (for `*` and `?`). Each level costs at most
 * O(pattern length x input length), whatever the pattern; `matchSteps()` counts the work so tests can
 * bound it without a clock.
 */
import { DOCKER_HUB, looksLikeRegistryHost, parseRegistryHost, quote } from './registry.ts';

export type GlobMatcher = (repository: string) => boolean;

export class GlobError extends Error {
  /** The pattern as the policy wrote it. */
  readonly pattern: string;

  constructor(pattern: string, message: string) {
    super(message);
    this.name = 'GlobError';
    this.pattern = pattern;
  }
}

/** Longest model glob (also the CRD's maxLength). */
export const MAX_PATTERN_LENGTH = 512;
/** Longest namespace glob: a namespace is a DNS label of at most 63 characters, a glob may add stars. */
export const MAX_NAMESPACE_GLOB_LENGTH = 128;
/** Longest file glob. */
export const MAX_FILE_GLOB_LENGTH = 512;

/** The CRD's pattern for namespace globs: DNS-label characters and the two wildcards. */
export const NAMESPACE_GLOB_PATTERN = '^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$';
/** The CRD's pattern for file globs: relative, no empty segment, no control or whitespace-only names. */
export const FILE_GLOB_PATTERN = '^[^/\\x00-\\x1f\\x7f]+(/[^/\\x00-\\x1f\\x7f]+)*$';
/** The CRD's pattern for model globs: the characters a repository or host glob can hold. */
export const MODEL_GLOB_PATTERN = '^([oO][cC][iI]://)?[A-Za-z0-9.:\\[\\]*?/_-]+$';

/** A token that matches any number of whole segments. */
const GLOBSTAR = Symbol('**');
/** Either GLOBSTAR or the pattern of one segment, where '*' and '?' are wildcards and nothing else is. */
type Token = typeof GLOBSTAR | string;

const OCI_SCHEME = /^oci:\/\//i;
const WILDCARD_HOST = /^[A-Za-z0-9.:[\]*?-]+$/;
const PATH_SEGMENT = /^[a-z0-9._*?-]+$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const UPPER_CASE = /[A-Z]/;
const WILDCARD = /[*?]/;

/** Compiles a model glob once into a matcher. Throws GlobError when the pattern is invalid. */
export function compileGlob(pattern: string): GlobMatcher {
  const compiled = compile(pattern);
  if (typeof compiled === 'string') throw new GlobError(pattern, compiled);
  return (repository) => matchRepository(compiled, repository);
}

/** The error compileGlob would throw for this pattern, or undefined when the pattern is valid. */
export function validateGlob(pattern: string): string | undefined {
  const compiled = compile(pattern);
  return typeof compiled === 'string' ? compiled : undefined;
}

/** What `modelGlobSegments` writes for a segment that matches any number of whole segments. */
export const GLOBSTAR_SEGMENT = '**';

/**
 * The segments a valid model glob matches, normalised as the matcher uses them (host lower-cased,
 * `library/` added, a trailing `**` written `*` then `**`), with GLOBSTAR_SEGMENT for `**`; undefined
 * for an invalid pattern. For code that must reason about what a glob can match without matching it
 * (the webhook's matchConditions, src/kube/match-conditions.ts).
 */
export function modelGlobSegments(pattern: string): readonly string[] | undefined {
  const compiled = compile(pattern);
  if (typeof compiled === 'string') return undefined;
  return compiled.map((t) => (t === GLOBSTAR ? GLOBSTAR_SEGMENT : t));
}

/** Returns the tokens of a valid pattern, or the reason it is invalid. */
function compile(pattern: string): readonly Token[] | string {
  if (typeof pattern !== 'string') return 'model pattern must be a string';
  if (pattern.length > MAX_PATTERN_LENGTH)
    return `model pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  let text = pattern.trim();
  if (OCI_SCHEME.test(text)) text = text.slice('oci://'.length);
  if (text === '') return 'model pattern is empty';
  const q = quote(text);
  if (text.includes('@'))
    return `model pattern ${q} names a digest: patterns name repositories, remove "@..."`;

  const segments = text.split('/');
  if (segments.includes(''))
    return `model pattern ${q} has an empty segment (leading, trailing or double "/")`;
  const [host = '', ...path] = segments;
  if (path.length === 0 && host !== '**') {
    return `model pattern ${q} names no repository path: append "/**" to govern every repository under it`;
  }

  const tokens: Token[] = [];
  const hostToken = compileHost(host, q);
  if (hostToken.error !== undefined) return hostToken.error;
  tokens.push(hostToken.token);

  for (const segment of path) {
    const error = checkPathSegment(segment, q);
    if (error !== undefined) return error;
  }
  if (hostToken.token === DOCKER_HUB && path.length === 1 && path[0] !== '**') tokens.push('library');
  for (const segment of path) tokens.push(segment === '**' ? GLOBSTAR : segment);
  return normaliseGlobstars(tokens);
}

function compileHost(host: string, q: string): { token: Token; error?: undefined } | { error: string } {
  if (host === '**') return { token: GLOBSTAR };
  if (host.includes('**')) return { error: `model pattern ${q}: "**" must be a whole segment` };
  if (WILDCARD.test(host)) {
    // Checked before lower-casing, which maps some non-ASCII letters to ASCII ones.
    if (!WILDCARD_HOST.test(host))
      return { error: `model pattern ${q} has an invalid character in its host` };
    return { token: host.toLowerCase() };
  }
  if (!looksLikeRegistryHost(host)) {
    return {
      error:
        `model pattern ${q} must start with a registry host (one with a "." or a ":port", or localhost), ` +
        `e.g. docker.io/library/NAME or registry.example.com/models/**`,
    };
  }
  const parsed = parseRegistryHost(host);
  if (!parsed.ok) return { error: `model pattern ${q}: ${parsed.error}` };
  return { token: parsed.registry };
}

function checkPathSegment(segment: string, q: string): string | undefined {
  if (segment === '**') return undefined;
  if (segment.includes('**')) return `model pattern ${q}: "**" must be a whole segment`;
  if (segment.includes(':'))
    return `model pattern ${q} names a tag: patterns name repositories, remove ":..."`;
  if (UPPER_CASE.test(segment))
    return `model pattern ${q} must be lower-case after the host, as repositories are`;
  if (!PATH_SEGMENT.test(segment)) {
    return `model pattern ${q} has an invalid character in ${quote(segment)}: use a-z, 0-9, ".", "_", "-", "*", "?"`;
  }
  if (!WILDCARD.test(segment) && !PATH_COMPONENT.test(segment)) {
    return `model pattern ${q} can never match: ${quote(segment)} is not a valid repository component`;
  }
  return undefined;
}

/**
 * Collapses runs of `**` (which match nothing more than one does) and turns a trailing `**` into `*`
 * followed by `**`, so that it matches one or more segments while every other `**` matches zero or more.
 */
function normaliseGlobstars(tokens: readonly Token[]): readonly Token[] {
  const out: Token[] = [];
  for (const token of tokens) {
    if (token === GLOBSTAR && out.at(-1) === GLOBSTAR) continue;
    out.push(token);
  }
  if (out.at(-1) === GLOBSTAR) out.splice(-1, 1, '*', GLOBSTAR);
  return out;
}

function matchRepository(tokens: readonly Token[], repository: string): boolean {
  if (typeof repository !== 'string' || repository === '') return false;
  const segments = repository.split('/');
  // No repository has an empty segment; refusing them keeps `*` and `**` meaning "a segment".
  if (segments.includes('')) return false;
  return matchSequence(tokens, segments, GLOBSTAR, matchSegment);
}

function matchSegment(pattern: Token, segment: string): boolean {
  if (typeof pattern !== 'string') return false;
  return WILDCARD.test(pattern) ? matchSequence(pattern, segment, '*', matchChar) : pattern === segment;
}

function matchChar(pattern: string, char: string): boolean {
  return pattern === '?' || pattern === char;
}

/**
 * Greedy wildcard matching with a single backtrack point (the most recent `star`): when the tokens after
 * a star fail, only that star absorbs one more item, because any earlier star's choice can be reproduced
 * by the later one. Linear in the input for each position of the latest star: O(|pattern| x |input|).
 */
function matchSequence<P, I>(
  pattern: ArrayLike<P>,
  input: ArrayLike<I>,
  star: P,
  matchOne: (token: P, item: I) => boolean,
): boolean {
  let p = 0;
  let i = 0;
  let starAt = -1;
  let starInput = 0;
  while (i < input.length) {
    steps += 1;
    const token = pattern[p];
    if (p < pattern.length && token === star) {
      starAt = p;
      starInput = i;
      p += 1;
    } else if (p < pattern.length && matchOne(token as P, input[i] as I)) {
      p += 1;
      i += 1;
    } else if (starAt !== -1) {
      p = starAt + 1;
      starInput += 1;
      i = starInput;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === star) p += 1;
  return p === pattern.length;
}

// Work done by the matchers since the last resetMatchSteps(): one step per iteration of the inner
// loop at either level. Module state, but matching is synchronous so no two matches interleave.
let steps = 0;

/** Steps (loop iterations) the matchers took since the last `resetMatchSteps()`: a clock-free cost. */
export function matchSteps(): number {
  return steps;
}

export function resetMatchSteps(): void {
  steps = 0;
}

// ---- Namespace globs ----------------------------------------------------------------------------

const NAMESPACE_GLOB = new RegExp(NAMESPACE_GLOB_PATTERN);

/** Why a namespace glob is invalid, or undefined when it is valid. */
export function validateNamespaceGlob(pattern: string): string | undefined {
  if (typeof pattern !== 'string') return 'namespace pattern must be a string';
  if (pattern.length === 0) return 'namespace pattern is empty';
  const q = quote(pattern);
  if (pattern.length > MAX_NAMESPACE_GLOB_LENGTH)
    return `namespace pattern ${q} is longer than ${MAX_NAMESPACE_GLOB_LENGTH} characters`;
  if (!NAMESPACE_GLOB.test(pattern)) {
    return (
      `namespace pattern ${q} can never match a namespace: use a-z, 0-9 and "-" (not first or last), ` +
      'with "*" for any run of characters and "?" for one'
    );
  }
  const literal = pattern.replace(/[*?]/g, '').length + (pattern.match(/\?/g)?.length ?? 0);
  if (literal > 63) return `namespace pattern ${q} can never match: namespaces have at most 63 characters`;
  return undefined;
}

/**
 * Compiles a namespace glob (`*` any run of characters, `?` one; anchored). Throws GlobError when the
 * pattern is invalid.
 */
export function compileNamespaceGlob(pattern: string): GlobMatcher {
  const error = validateNamespaceGlob(pattern);
  if (error !== undefined) throw new GlobError(pattern, error);
  if (!WILDCARD.test(pattern)) return (namespace) => namespace === pattern;
  // Runs of '*' match what one does; collapsing them keeps the pattern short.
  const collapsed = pattern.replace(/\*+/g, '*');
  return (namespace) => typeof namespace === 'string' && matchWildcard(collapsed, namespace);
}

/** `*` (any run) and `?` (one character) over a whole string, anchored; O(|pattern| x |text|). */
export function matchWildcard(pattern: string, text: string): boolean {
  return matchSequence(pattern, text, '*', matchChar);
}

// ---- File globs ---------------------------------------------------------------------------------

/** Why a file glob is invalid, or undefined when it is valid. */
export function validateFileGlob(pattern: string): string | undefined {
  if (typeof pattern !== 'string') return 'file pattern must be a string';
  if (pattern.length === 0) return 'file pattern is empty';
  const q = quote(pattern);
  if (pattern.length > MAX_FILE_GLOB_LENGTH)
    return `file pattern ${q} is longer than ${MAX_FILE_GLOB_LENGTH} characters`;
  if (pattern.startsWith('/')) return `file pattern ${q}: file globs are relative (no leading "/")`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return `file pattern ${q} has a control character`;
  const segments = pattern.split('/');
  if (segments.includes('')) return `file pattern ${q} has an empty segment (trailing or double "/")`;
  if (segments.some((s) => s !== '**' && s.includes('**')))
    return `file pattern ${q}: "**" must be a whole segment`;
  return undefined;
}

export type FileMatcher = (path: string) => boolean;

/**
 * Compiles file globs (e.g. `allowUnsignedFiles`) into one matcher that says whether any of them
 * covers a file path. Throws GlobError on an invalid pattern.
 */
export function compileFileGlobs(patterns: readonly string[]): FileMatcher {
  const compiled = patterns.map((pattern) => {
    const error = validateFileGlob(pattern);
    if (error !== undefined) throw new GlobError(pattern, error);
    const tokens: Token[] = [];
    for (const segment of pattern.split('/')) {
      if (segment === '**' && tokens.at(-1) === GLOBSTAR) continue;
      tokens.push(segment === '**' ? GLOBSTAR : segment);
    }
    return { tokens, basename: !pattern.includes('/') };
  });
  return (path) => {
    if (typeof path !== 'string') return false;
    // Registries and Kitfiles write paths loosely ("./a", "a//b"): empty and "." segments say nothing.
    const segments = path.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.length === 0) return false;
    const base = segments.slice(-1);
    return compiled.some(
      (c) =>
        matchSequence(c.tokens, segments, GLOBSTAR, matchSegment) ||
        (c.basename && segments.length > 1 && matchSequence(c.tokens, base, GLOBSTAR, matchSegment)),
    );
  };
}
