// NumPy .npy: magic "\x93NUMPY", major and minor version, header length (u16 for v1, u32 for v2/3),
// then a Python dict literal. An array of Python objects ('descr' with an 'O' type) stores its
// elements as a pickle, so it is classified as pickle.
import { hasBytes, latin1, u16le, u32le } from '../bytes.ts';

export const NUMPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

export interface NumpySniff {
  readonly objectArray: boolean;
  readonly evidence: string;
}

export function sniffNumpy(head: Uint8Array): NumpySniff | undefined {
  if (!hasBytes(head, 0, NUMPY_MAGIC) || head.length < 10) return undefined;
  const major = head[6]!;
  const minor = head[7]!;
  if (major < 1 || major > 3) return undefined;
  const len = major === 1 ? u16le(head, 8) : u32le(head, 8);
  const start = major === 1 ? 10 : 12;
  if (len === undefined) return undefined;
  const header = latin1(head, start, Math.min(head.length, start + len));
  const descr = /'descr'\s*:\s*(.*?)(?:,\s*'fortran_order'|,\s*'shape'|}|$)/s.exec(header)?.[1] ?? '';
  const objectArray = /'[|<>=]?O\d*'/.test(descr);
  return {
    objectArray,
    evidence: `NumPy .npy v${major}.${minor}${descr ? `, dtype ${descr.trim().slice(0, 60)}` : ''}${objectArray ? ' (object array: elements are pickled)' : ''}`,
  };
}
