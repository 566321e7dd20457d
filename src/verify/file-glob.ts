/**
 * File globs for `allowUnsignedFiles`: `*` and `?` within one path segment,
 * `**` for any number of whole segments. A pattern without `/` also matches a
 * file's base name at any depth (`README.md` allows `docs/README.md`), as in
 * `.gitignore`. Matched without RegExp (titles come from the registry).
 */

export type FileMatcher = (path: string) => boolean;

export function compileFileGlobs(patterns: readonly string[]): FileMatcher {
  const compiled = patterns.map((p) => ({
    segments: p.split('/').filter((s) => s !== ''),
    basename: !p.includes('/'),
  }));
  return (path) => {
    const segs = path.split('/').filter((s) => s !== '');
    const base = segs.slice(-1);
    return compiled.some(
      (c) =>
        matchSegments(c.segments, segs) || (c.basename && segs.length > 1 && matchSegments(c.segments, base)),
    );
  };
}

function matchSegments(pattern: readonly string[], path: readonly string[]): boolean {
  // Dynamic programming over (pattern index, path index): O(|pattern| x |path|) segment matches.
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (path.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === pattern.length) r = j === path.length;
    else if (pattern[i] === '**') r = go(i + 1, j) || (j < path.length && go(i, j + 1));
    else r = j < path.length && matchSegment(pattern[i]!, path[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/** The classic greedy wildcard match of one segment (`*`, `?`), linear in practice. */
function matchSegment(p: string, s: string): boolean {
  let pi = 0;
  let si = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === s[si])) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
