// What the first bytes of a file can be read as. EVERY reading the head supports is returned, not the
// first that matches: a polyglot (bytes that are a GGUF header to one loader and a tar or a zip to
// another) must not get to choose which reading is judged. The caller resolves the structural readings
// (archives, compressed streams, safetensors headers, HDF5) with more reads, runs the pickle walk on the
// same bytes, and keeps the most dangerous result.
import { ascii, hasBytes } from '../bytes.ts';
import { type Compression, compressionOf } from './compress.ts';
import { sniffGguf } from './gguf.ts';
import { sniffNumpy } from './numpy.ts';
import { sniffOnnx } from './onnx.ts';
import { safetensorsPrefix } from './safetensors.ts';
import { parseTarHeader } from './tar.ts';
import { sniffCode, sniffImage } from './text.ts';
import type { ContentVerdict } from './types.ts';

/** Bytes read from the start of every inspected file. */
export const HEAD_BYTES = 4096;

export type HeadReading =
  | Extract<ContentVerdict, { kind: 'format' }>
  | { readonly kind: 'zip' }
  | { readonly kind: 'tar' }
  | { readonly kind: 'compressed'; readonly compression: Compression }
  | { readonly kind: 'safetensors'; readonly headerLength: number }
  | { readonly kind: 'hdf5'; readonly offset: number }
  /** Data whose structure cannot be read here (7z, RAR): refused whatever a policy allows. */
  | { readonly kind: 'opaque-archive'; readonly evidence: string };

const HDF5_SIG = [0x89, ...ascii('HDF\r\n'), 0x1a, 0x0a];
// HDF5 allows a user block before the superblock: the signature sits at 0, 512, 1024, 2048, ...
const HDF5_OFFSETS = [0, 512, 1024, 2048];
const ZIP_LOCAL = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06];
// A spanned archive's first segment starts with the data descriptor signature, then a local header.
const ZIP_SPANNED = [0x50, 0x4b, 0x07, 0x08];
const RAR_SIG = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07];

/** Every reading the first bytes (`head`) of a file of `size` bytes support. Never throws. */
export function sniffHead(head: Uint8Array, size: number): HeadReading[] {
  const out: HeadReading[] = [];
  if (size === 0 || head.length === 0) return out;
  const c = compressionOf(head);
  if (c === '7z') {
    out.push({ kind: 'opaque-archive', evidence: '7z archive: its members cannot be inspected here' });
  } else if (c !== undefined) {
    out.push({ kind: 'compressed', compression: c });
  }
  if (hasBytes(head, 0, RAR_SIG)) {
    out.push({ kind: 'opaque-archive', evidence: 'RAR archive: its members cannot be inspected here' });
  }
  if (hasBytes(head, 0, ZIP_LOCAL) || hasBytes(head, 0, ZIP_EMPTY) || hasBytes(head, 0, ZIP_SPANNED)) {
    out.push({ kind: 'zip' });
  }
  const tar = parseTarHeader(head.subarray(0, 512));
  if (tar !== undefined && tar !== 'end') out.push({ kind: 'tar' });
  const gguf = sniffGguf(head);
  if (gguf) out.push({ kind: 'format', format: 'gguf', evidence: gguf.evidence });
  const hdf5 = HDF5_OFFSETS.find((at) => hasBytes(head, at, HDF5_SIG));
  if (hdf5 !== undefined) out.push({ kind: 'hdf5', offset: hdf5 });
  const npy = sniffNumpy(head);
  if (npy) {
    const objects = npy.objectArray || npyHeaderHasObjects(head);
    out.push({
      kind: 'format',
      format: objects ? 'pickle' : 'numpy',
      evidence:
        objects && !npy.objectArray ? `${npy.evidence} (object dtype: elements are pickled)` : npy.evidence,
    });
  }
  const st = safetensorsPrefix(head, size);
  if (st.ok) out.push({ kind: 'safetensors', headerLength: st.headerLength });
  const onnx = sniffOnnx(head, size);
  if (onnx) out.push({ kind: 'format', format: 'onnx', evidence: onnx.evidence });
  const image = sniffImage(head);
  if (image) out.push({ kind: 'format', ...image });
  const code = sniffCode(head);
  if (code) out.push({ kind: 'format', ...code });
  return out;
}

/**
 * Whether a .npy header names an object dtype anywhere: numpy reads the header as a Python literal, so
 * either quote style counts, and a structured dtype with one object field pickles too.
 */
function npyHeaderHasObjects(head: Uint8Array): boolean {
  const major = head[6];
  const start = major === 1 ? 10 : 12;
  const len =
    major === 1
      ? (head[8] ?? 0) | ((head[9] ?? 0) << 8)
      : (head[8] ?? 0) | ((head[9] ?? 0) << 8) | ((head[10] ?? 0) << 16);
  const header = Buffer.from(head.subarray(start, Math.min(head.length, start + len))).toString('latin1');
  for (const m of header.matchAll(/(["'])(.*?)\1/g)) {
    const s = m[2]!.trim();
    if (/^[|<>=]?O\d*$/.test(s) || s === 'object' || /^[|<>=]?O\d*\b/.test(s)) return true;
  }
  return /\bobject\b/.test(header);
}

/** Where a zip's end record could be: the last 22 bytes plus the longest comment. */
export const ZIP_TAIL_BYTES = 22 + 0xffff;

/** Whether `tail` (the last bytes of a file) holds a zip end-of-central-directory signature. */
export function hasZipEndRecord(tail: Uint8Array): boolean {
  for (let i = tail.length - 22; i >= 0; i--) if (hasBytes(tail, i, ZIP_EMPTY)) return true;
  return false;
}

/** Why no format was recognised: a near miss (a safetensors-like prefix that fails) or the first bytes. */
export function noFormatEvidence(head: Uint8Array, size: number): string {
  if (size === 0 || head.length === 0) return 'empty file';
  const st = safetensorsPrefix(head, size);
  if (!st.ok && st.problem !== undefined) return st.problem;
  return `no known format signature (first bytes ${Buffer.from(head.subarray(0, 8)).toString('hex')})`;
}
