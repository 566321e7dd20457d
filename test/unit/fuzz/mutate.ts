// Structured mutations of real documents, so that fuzzed input gets past the first checks of a parser.
import fc from 'fast-check';

type Json = unknown;

/** Every path (keys and indices) into a JSON value, the root included. */
export function pathsOf(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) pathsOf(x, [...prefix, i], out);
  } else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json | typeof DELETE): Json {
  if (path.length === 0) return value === DELETE ? undefined : value;
  const copy: Json = structuredClone(root);
  let cur = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (value === DELETE) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = value;
  return copy;
}

const DELETE = Symbol('delete');

/** A value hostile to parsers: odd types, huge and negative numbers, long strings, deep nesting. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    -1,
    0,
    1e308,
    -0,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 53,
    '',
    'sha256:',
    `sha256:${'g'.repeat(64)}`,
    `sha256:${'a'.repeat(64)}`,
    '../../etc/passwd',
    '\u0000',
    '\ud800',
    [],
    {},
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
  ),
  fc.string({ maxLength: 5000 }),
);

/** `base` with 1 to 4 values replaced (or removed) at random paths. */
export function mutatedJson(base: Json): fc.Arbitrary<Json> {
  const paths = pathsOf(base);
  return fc
    .array(fc.tuple(fc.nat(paths.length - 1), fc.oneof(hostileValue, fc.constant(DELETE))), {
      minLength: 1,
      maxLength: 4,
    })
    .map((edits) => {
      let v = base;
      for (const [i, value] of edits) {
        const live = pathsOf(v);
        const path = live[i % live.length]!;
        v = setAt(v, path, value);
      }
      return v;
    });
}

/** Bytes of `base` serialized, with a few bytes overwritten or the text cut short. */
export function mutatedBytes(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(Math.max(0, base.length - 1)), fc.integer({ min: 0, max: 255 })), {
        maxLength: 6,
      }),
      fc.nat(base.length),
    )
    .map(([edits, cut]) => {
      const b = base.slice(0, Math.max(1, cut));
      for (const [at, v] of edits) if (at < b.length) b[at] = v;
      return b;
    });
}

const enc = new TextEncoder();
export const utf8 = (s: string) => enc.encode(s);
