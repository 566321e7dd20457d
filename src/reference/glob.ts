/**
 * Model globs: the patterns a ModelPolicy's `models` field uses to say which repositories it governs.
 *
 * A pattern is matched, anchored at both ends, against `repositoryOf(ref)`, i.e. 'host[:port]/path':
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
 * Matching does not use a RegExp: several `*` in one pattern make a backtracking RegExp polynomial in the
 * input (`*a*a*a*a*b` against a long run of 'a'), and the input is chosen by pod authors. Instead the
 * compiled pattern is a list of segment tokens matched by the classic greedy wildcard algorithm, twice:
 * over segments (for `**`) and over characters within a segment (for `*` and `?`). Each level costs at
 * most O(pattern length x input length).
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

export const MAX_PATTERN_LENGTH = 1024;

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
