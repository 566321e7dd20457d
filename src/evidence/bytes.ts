// Little helpers for the format parsers: bounds-checked little-endian reads that return undefined
// instead of throwing, so that a parser fed arbitrary bytes can only ever say "not this format".

export function u16le(b: Uint8Array, at: number): number | undefined {
  if (at < 0 || at + 2 > b.length) return undefined;
  return b[at]! | (b[at + 1]! << 8);
}

export function u32le(b: Uint8Array, at: number): number | undefined {
  if (at < 0 || at + 4 > b.length) return undefined;
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

/** A u64 LE as a number, or undefined when out of bounds or above Number.MAX_SAFE_INTEGER. */
export function u64le(b: Uint8Array, at: number): number | undefined {
  const lo = u32le(b, at);
  const hi = u32le(b, at + 4);
  if (lo === undefined || hi === undefined) return undefined;
  if (hi > 0x1fffff) return undefined;
  return hi * 0x100000000 + lo;
}

export function hasBytes(b: Uint8Array, at: number, sig: readonly number[]): boolean {
  if (at < 0 || at + sig.length > b.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

export function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

/** Latin-1 text of a byte range (never throws, never fails on invalid UTF-8). */
export function latin1(b: Uint8Array, start = 0, end = b.length): string {
  return Buffer.from(b.buffer, b.byteOffset + start, Math.max(0, Math.min(end, b.length) - start)).toString(
    'latin1',
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 text, or undefined when the bytes are not UTF-8. */
export function utf8Text(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A short printable rendering of a file or entry name for messages (control characters escaped). */
export function printable(s: string, max = 200): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c < 0x20 || c === 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
    if (out.length > max) return `${out.slice(0, max)}…`;
  }
  return out;
}

/** A protobuf base-128 varint at `at`: 'truncated' when the bytes end inside it, undefined when malformed. */
export function varint(b: Uint8Array, at: number): { value: number; next: number } | 'truncated' | undefined {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at + i >= b.length) return 'truncated';
    const c = b[at + i]!;
    value += (c & 0x7f) * mul;
    mul *= 128;
    if ((c & 0x80) === 0) return Number.isSafeInteger(value) ? { value, next: at + i + 1 } : undefined;
  }
  return undefined;
}
