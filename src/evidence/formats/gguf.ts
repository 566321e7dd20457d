// GGUF (llama.cpp): magic "GGUF", u32 LE version, then tensor and metadata counts (u64 since v2).
import { hasBytes, u32le, u64le } from '../bytes.ts';

export const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46];

export interface GgufSniff {
  readonly version: number;
  readonly evidence: string;
}

export function sniffGguf(head: Uint8Array): GgufSniff | undefined {
  if (!hasBytes(head, 0, GGUF_MAGIC)) return undefined;
  const version = u32le(head, 4);
  if (version === undefined) return { version: 0, evidence: 'GGUF magic (version unreadable)' };
  const known = version >= 1 && version <= 3;
  const tensors = version >= 2 ? u64le(head, 8) : u32le(head, 8);
  const kvs = version >= 2 ? u64le(head, 16) : u32le(head, 12);
  const counts =
    known && tensors !== undefined && kvs !== undefined ? `, ${tensors} tensors, ${kvs} metadata keys` : '';
  return {
    version,
    evidence: `GGUF magic, version ${version}${known ? '' : ' (unknown version)'}${counts}`,
  };
}
