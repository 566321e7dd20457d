// The first bytes of a file, judged without further reads. Archives (zip, tar) and safetensors
// headers need more reads, which the caller makes; everything else is decided here.
import { ascii, hasBytes } from '../bytes.ts';
import { sniffGguf } from './gguf.ts';
import { sniffNumpy } from './numpy.ts';
import { sniffOnnx } from './onnx.ts';
import { sniffPickle } from './pickle.ts';
import { safetensorsPrefix } from './safetensors.ts';
import { parseTarHeader } from './tar.ts';
import type { ContentVerdict } from './types.ts';
import { EMPTY_ZIP_SIG, LOCAL_HEADER_SIG } from './zip.ts';

/** Bytes read from the start of every inspected file. */
export const HEAD_BYTES = 4096;

export type HeadVerdict =
  | ContentVerdict
  | { readonly kind: 'zip' }
  | { readonly kind: 'tar' }
  | { readonly kind: 'safetensors'; readonly headerLength: number };

const HDF5_SIG = [0x89, ...ascii('HDF\r\n'), 0x1a, 0x0a];
// HDF5 allows a user block before the superblock: the signature sits at 0, 512, 1024, 2048, ...
const HDF5_OFFSETS = [0, 512, 1024, 2048];

const COMPRESSED: readonly { sig: readonly number[]; name: string }[] = [
  { sig: [0x1f, 0x8b], name: 'gzip' },
  { sig: [0x28, 0xb5, 0x2f, 0xfd], name: 'zstd' },
  { sig: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], name: 'xz' },
  { sig: [0x42, 0x5a, 0x68], name: 'bzip2' },
];

/** Judges the first bytes (`head`) of a file of `size` bytes. Never throws. */
export function sniffHead(head: Uint8Array, size: number): HeadVerdict {
  if (size === 0 || head.length === 0) return { kind: 'none', evidence: 'empty file' };
  for (const c of COMPRESSED) {
    if (hasBytes(head, 0, c.sig)) {
      return {
        kind: 'uninspectable',
        evidence: `${c.name}-compressed: its contents cannot be read by range without downloading it`,
      };
    }
  }
  if (hasBytes(head, 0, LOCAL_HEADER_SIG) || hasBytes(head, 0, EMPTY_ZIP_SIG)) return { kind: 'zip' };
  const pickle = head[0] === 0x80 ? sniffPickle(head) : undefined;
  if (pickle) return { kind: 'format', format: 'pickle', evidence: pickle.evidence };
  const gguf = sniffGguf(head);
  if (gguf) return { kind: 'format', format: 'gguf', evidence: gguf.evidence };
  const hdf5 = HDF5_OFFSETS.find((at) => hasBytes(head, at, HDF5_SIG));
  if (hdf5 !== undefined) {
    return { kind: 'format', format: 'keras-h5', evidence: `HDF5 signature at offset ${hdf5}` };
  }
  const npy = sniffNumpy(head);
  if (npy) return { kind: 'format', format: npy.objectArray ? 'pickle' : 'numpy', evidence: npy.evidence };
  const tar = parseTarHeader(head.subarray(0, 512));
  if (tar !== undefined && tar !== 'end') return { kind: 'tar' };
  const st = safetensorsPrefix(head, size);
  if (st.ok) return { kind: 'safetensors', headerLength: st.headerLength };
  const onnx = sniffOnnx(head, size);
  if (onnx) return { kind: 'format', format: 'onnx', evidence: onnx.evidence };
  const legacy = head[0] === 0x80 ? undefined : sniffPickle(head);
  if (legacy) return { kind: 'format', format: 'pickle', evidence: legacy.evidence };
  const first = Buffer.from(head.subarray(0, 8)).toString('hex');
  return {
    kind: 'none',
    evidence: st.problem ?? `no known format signature (first bytes ${first})`,
  };
}
