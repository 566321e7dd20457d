// Pure parsers for the HTTP headers the registry protocol relies on.

export interface Challenge {
  /** Lower-cased auth scheme, e.g. `bearer`, `basic`. */
  scheme: string;
  /** Auth params with lower-cased names. */
  params: Record<string, string>;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a WWW-Authenticate header (RFC 9110 section 11.6.1) into its challenges. Refuses anything
 * malformed rather than guessing: an unterminated quote, a parameter without a value, stray characters.
 */
export function parseWwwAuthenticate(header: string): ParseResult<Challenge[]> {
  const s = header;
  let i = 0;
  const challenges: Challenge[] = [];
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string | undefined => {
    // s[i] === '"'
    i++;
    let out = '';
    while (i < s.length) {
      const c = s[i]!;
      if (c === '\\') {
        if (i + 1 >= s.length) return undefined;
        out += s[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return out;
      } else {
        out += c;
        i++;
      }
    }
    return undefined;
  };

  const readParam = (challenge: Challenge): ParseResult<void> => {
    const name = readToken();
    skipWs();
    if (s[i] !== '=') return { ok: false, error: `auth-param ${name} has no value` };
    i++;
    skipWs();
    let value: string | undefined;
    if (s[i] === '"') {
      value = readQuoted();
      if (value === undefined) return { ok: false, error: `unterminated quoted value of ${name}` };
    } else {
      value = readToken();
      if (value === '') return { ok: false, error: `auth-param ${name} has no value` };
    }
    const key = name.toLowerCase();
    if (key in challenge.params) return { ok: false, error: `auth-param ${name} repeated` };
    challenge.params[key] = value;
    skipWs();
    return { ok: true, value: undefined };
  };
  // True when a `name=` follows at i (an auth-param), false when a new scheme starts there.
  const paramAhead = (): boolean => {
    const save = i;
    const name = readToken();
    skipWs();
    let isParam = name !== '' && s[i] === '=';
    if (isParam) {
      // `abc==` or a trailing `abc=` is token68 padding, not a parameter.
      i++;
      skipWs();
      isParam = i < s.length && s[i] !== '=' && s[i] !== ',';
    }
    i = save;
    return isParam;
  };

  while (true) {
    skipWs();
    while (s[i] === ',') {
      i++;
      skipWs();
    }
    if (i >= s.length) break;
    const scheme = readToken();
    if (scheme === '') return { ok: false, error: `unexpected character ${JSON.stringify(s[i])} at ${i}` };
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    if (i < s.length && s[i] !== ' ' && s[i] !== '\t' && s[i] !== ',') {
      return { ok: false, error: `unexpected character ${JSON.stringify(s[i])} after scheme ${scheme}` };
    }
    skipWs();
    if (i >= s.length || s[i] === ',') continue;
    if (!paramAhead()) {
      // token68 credentials (`Negotiate abc==`) end this challenge.
      const m = /^[A-Za-z0-9\-._~+/]+=*/.exec(s.slice(i));
      if (m === null) return { ok: false, error: `unexpected character ${JSON.stringify(s[i])} at ${i}` };
      i += m[0].length;
      skipWs();
      if (i < s.length && s[i] !== ',') return { ok: false, error: `unexpected character at ${i}` };
      continue;
    }
    const r = readParam(challenge);
    if (!r.ok) return r;
    while (i < s.length) {
      if (s[i] !== ',') return { ok: false, error: `expected ',' at ${i}` };
      const save = i;
      while (s[i] === ',' || s[i] === ' ' || s[i] === '\t') i++;
      if (i >= s.length) break;
      if (!paramAhead()) {
        i = save;
        break;
      }
      const next = readParam(challenge);
      if (!next.ok) return next;
    }
  }
  if (challenges.length === 0) return { ok: false, error: 'no challenge' };
  return { ok: true, value: challenges };
}

/** The target of the `rel="next"` link of a Link header (RFC 8288), if any. */
export function parseLinkNext(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined) return undefined;
  const re = /<([^>]*)>\s*((?:;\s*[^;,]+\s*)*)/g;
  for (const m of header.matchAll(re)) {
    const target = m[1]!;
    const params = m[2] ?? '';
    for (const p of params.split(';')) {
      const [k, v] = p.split('=').map((x) => x.trim());
      if (k?.toLowerCase() !== 'rel' || v === undefined) continue;
      const rels = v.replace(/^"|"$/g, '').toLowerCase().split(/\s+/);
      if (rels.includes('next')) return target;
    }
  }
  return undefined;
}

/** Milliseconds to wait from a Retry-After header (delta-seconds or an HTTP date), if valid. */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (header === null || header === undefined) return undefined;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/^[A-Za-z]{3}, /.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
