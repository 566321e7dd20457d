// safetensors: an 8-byte little-endian header length N, then N bytes of JSON (beginning with '{',
// possibly padded with spaces) mapping tensor names to {dtype, shape, data_offsets}, then the data.
import { u64le, utf8Text } from '../bytes.ts';
import { type ByteSource, sizeOf } from './source.ts';
import type { ContentVerdict } from './types.ts';

/** Largest header length accepted as safetensors at all (the reference implementation's limit). */
export const MAX_HEADER_LENGTH = 100 * 1024 * 1024;
/** Headers up to this size are read whole and parsed; longer ones are judged by their first bytes. */
export const MAX_HEADER_PARSE = 256 * 1024;

export type SafetensorsPrefix =
  | { readonly ok: true; readonly headerLength: number }
  | { readonly ok: false; readonly problem?: string };

/** Checks the length prefix and the header's first byte against a blob of `size` bytes. */
export function safetensorsPrefix(head: Uint8Array, size: number): SafetensorsPrefix {
  const n = u64le(head, 0);
  if (n === undefined || head.length < 9 || head[8] !== 0x7b) return { ok: false };
  if (n < 2) return { ok: false, problem: `safetensors-like header length ${n} is too small` };
  if (n > MAX_HEADER_LENGTH) {
    return {
      ok: false,
      problem: `safetensors-like header length ${n} exceeds the ${MAX_HEADER_LENGTH}-byte limit`,
    };
  }
  if (8 + n > size) {
    return {
      ok: false,
      problem: `safetensors-like header length ${n} is larger than the blob (${size} bytes)`,
    };
  }
  return { ok: true, headerLength: n };
}

export type SafetensorsHeader =
  | { readonly ok: true; readonly tensors: number; readonly dataEnd: number }
  | { readonly ok: false; readonly problem: string };

/** Validates a whole header: JSON object of tensors with dtype, shape and offsets inside the data. */
export function parseSafetensorsHeader(header: Uint8Array, dataSize: number): SafetensorsHeader {
  const text = utf8Text(header);
  if (text === undefined) return { ok: false, problem: 'header is not UTF-8' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'header is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, problem: 'header is not a JSON object' };
  }
  let tensors = 0;
  let dataEnd = 0;
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return { ok: false, problem: '__metadata__ is not an object' };
      }
      continue;
    }
    if (typeof value !== 'object' || value === null)
      return { ok: false, problem: `tensor ${name} is not an object` };
    const t = value as Record<string, unknown>;
    const offsets = t.data_offsets;
    if (typeof t.dtype !== 'string') return { ok: false, problem: `tensor ${name} has no dtype` };
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      return { ok: false, problem: `tensor ${name} has no valid shape` };
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !Number.isSafeInteger(offsets[0]) ||
      !Number.isSafeInteger(offsets[1]) ||
      offsets[0] < 0 ||
      offsets[0] > offsets[1] ||
      offsets[1] > dataSize
    ) {
      return { ok: false, problem: `tensor ${name} has data_offsets outside the ${dataSize} data bytes` };
    }
    dataEnd = Math.max(dataEnd, offsets[1] as number);
    tensors++;
  }
  return { ok: true, tensors, dataEnd };
}

/** Whether the first bytes of a long header look like the start of a JSON object of tensors. */
export function plausibleHeaderStart(prefix: Uint8Array): boolean {
  let i = 1; // prefix[0] is '{'
  while (
    i < prefix.length &&
    (prefix[i] === 0x20 || prefix[i] === 0x0a || prefix[i] === 0x0d || prefix[i] === 0x09)
  )
    i++;
  return i < prefix.length && (prefix[i] === 0x22 || prefix[i] === 0x7d);
}

/** Classifies a source whose prefix passed `safetensorsPrefix`. */
export async function inspectSafetensors(
  w: ByteSource,
  head: Uint8Array,
  headerLength: number,
): Promise<ContentVerdict> {
  const size = w.size ?? (await sizeOf(w));
  if (8 + headerLength > size) {
    return {
      kind: 'none',
      evidence: `safetensors-like header length ${headerLength} is larger than the file (${size} bytes)`,
    };
  }
  const dataSize = size - 8 - headerLength;
  if (headerLength > MAX_HEADER_PARSE) {
    return plausibleHeaderStart(head.subarray(8))
      ? {
          kind: 'format',
          format: 'safetensors',
          evidence: `safetensors header of ${headerLength} bytes (first bytes checked; too long to parse)`,
        }
      : {
          kind: 'none',
          evidence: `safetensors-like length prefix, but the header does not start a JSON object`,
        };
  }
  let header = head.subarray(8, Math.min(head.length, 8 + headerLength));
  if (header.length < headerLength) {
    const rest = await w.read(8 + header.length, headerLength - header.length);
    const whole = new Uint8Array(header.length + rest.length);
    whole.set(header, 0);
    whole.set(rest, header.length);
    header = whole;
  }
  if (header.length < headerLength)
    return { kind: 'uninspectable', evidence: 'safetensors header truncated' };
  const parsed = parseSafetensorsHeader(header, dataSize);
  if (!parsed.ok) return { kind: 'none', evidence: `safetensors-like length prefix, but ${parsed.problem}` };
  const slack = dataSize - parsed.dataEnd;
  return {
    kind: 'format',
    format: 'safetensors',
    evidence: `safetensors header of ${headerLength} bytes, ${parsed.tensors} tensors${slack > 0 ? ` (${slack} trailing bytes not covered by any tensor)` : ''}`,
  };
}
