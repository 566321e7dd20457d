// POSIX tar (ustar, GNU and PAX variants) walked by Range: 512-byte headers, each followed by its
// member's data padded to 512 bytes. Only headers and the first bytes of each member are read.
import { latin1, printable, utf8Text } from '../bytes.ts';
import type { BlobWindow } from './source.ts';

export const BLOCK = 512;
/** Headers walked at most per tarred layer. */
export const MAX_TAR_MEMBERS = 4096;
/** Bytes of a GNU long name or PAX extended header read at most. */
const MAX_EXTENDED_HEADER = 64 * 1024;

export interface TarHeader {
  readonly name: string;
  readonly size: number;
  /** '0' regular, '1' hard link, '2' symlink, '5' directory, 'L' GNU long name, 'x' PAX, ... */
  readonly type: string;
  readonly linkName: string;
  readonly ustar: boolean;
}

/**
 * Parses one 512-byte header block: 'end' for an all-zero block, undefined when the block is not a
 * tar header (wrong length, bad checksum, bad size field).
 */
export function parseTarHeader(block: Uint8Array): TarHeader | 'end' | undefined {
  if (block.length < BLOCK) return undefined;
  let zero = true;
  for (let i = 0; i < BLOCK; i++) {
    if (block[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return 'end';
  const stored = parseOctal(block, 148, 8);
  if (stored === undefined) return undefined;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== unsigned && stored !== signed) return undefined;
  const size = parseNumeric(block, 124, 12);
  if (size === undefined) return undefined;
  const ustar = latin1(block, 257, 262) === 'ustar';
  const name = cString(block, 0, 100);
  const prefix = ustar ? cString(block, 345, 155) : '';
  const typeByte = block[156]!;
  return {
    name: prefix ? `${prefix}/${name}` : name,
    size,
    type: typeByte === 0 ? '0' : String.fromCharCode(typeByte),
    linkName: cString(block, 157, 100),
    ustar,
  };
}

function cString(b: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && b[end] !== 0) end++;
  return utf8Text(b.subarray(at, end)) ?? latin1(b, at, end);
}

/** An octal field (NUL- or space-terminated, leading spaces allowed). */
function parseOctal(b: Uint8Array, at: number, len: number): number | undefined {
  let i = at;
  const end = at + len;
  while (i < end && b[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) return undefined;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  if (digits === 0) return 0;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A numeric field: octal, or GNU base-256 when the first byte has its high bit set. */
function parseNumeric(b: Uint8Array, at: number, len: number): number | undefined {
  const first = b[at]!;
  if ((first & 0x80) === 0) return parseOctal(b, at, len);
  if (first & 0x40) return undefined; // negative
  let value = first & 0x3f;
  for (let i = at + 1; i < at + len; i++) {
    value = value * 256 + b[i]!;
    if (!Number.isSafeInteger(value)) return undefined;
  }
  return value;
}

/** PAX extended header records (`<len> <key>=<value>\n`), as far as they are well-formed. */
export function parsePaxRecords(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    let sp = pos;
    while (sp < data.length && sp - pos < 20 && data[sp] !== 0x20) sp++;
    if (sp >= data.length || data[sp] !== 0x20) break;
    const len = Number(latin1(data, pos, sp));
    if (!Number.isSafeInteger(len) || len <= sp - pos + 1 || pos + len > data.length) break;
    const rec = utf8Text(data.subarray(sp + 1, pos + len)) ?? '';
    const eq = rec.indexOf('=');
    if (eq > 0) {
      const value = rec.endsWith('\n') ? rec.slice(eq + 1, -1) : rec.slice(eq + 1);
      out[rec.slice(0, eq)] = value;
    }
    pos += len;
  }
  return out;
}

export interface TarMember {
  readonly name: string;
  /** Offset of the member's data in the window. */
  readonly offset: number;
  readonly size: number;
  /** The first bytes of the member's data (up to the head size asked for). */
  readonly head: Uint8Array;
  /** Hard or symbolic link target, for link members. */
  readonly link?: string;
}

export interface TarListing {
  readonly members: readonly TarMember[];
  readonly complete: boolean;
  readonly problem?: string;
}

/**
 * Walks the headers of a tar window and returns its regular files and links with the first
 * `headSize` bytes of each file. Reads one header plus `headSize` bytes per request and serves
 * following headers of small members from the same read.
 */
export async function listTar(w: BlobWindow, first: Uint8Array, headSize: number): Promise<TarListing> {
  const members: TarMember[] = [];
  let chunk = first;
  let chunkStart = 0;
  const bytesAt = async (at: number, len: number): Promise<Uint8Array> => {
    const want = Math.min(len, w.size - at);
    if (at >= chunkStart && at + want <= chunkStart + chunk.length) {
      return chunk.subarray(at - chunkStart, at - chunkStart + want);
    }
    chunk = await w.read(at, Math.max(want, BLOCK + headSize));
    chunkStart = at;
    return chunk.subarray(0, Math.min(want, chunk.length));
  };

  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let headers = 0;
  while (pos + BLOCK <= w.size) {
    if (headers++ >= MAX_TAR_MEMBERS) {
      return { members, complete: false, problem: `more than ${MAX_TAR_MEMBERS} tar headers` };
    }
    const block = await bytesAt(pos, BLOCK);
    const h = parseTarHeader(block);
    if (h === 'end') return { members, complete: true };
    if (h === undefined) return { members, complete: false, problem: `no valid tar header at offset ${pos}` };
    const size = h.type === 'x' || h.type === 'L' || h.type === 'K' ? h.size : (paxSize(pax) ?? h.size);
    const dataStart = pos + BLOCK;
    if (dataStart + size > w.size) {
      return {
        members,
        complete: false,
        problem: `member ${printable(h.name)} of ${size} bytes runs past the end of the layer`,
      };
    }
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    switch (h.type) {
      case 'L':
      case 'K':
      case 'x': {
        if (size > MAX_EXTENDED_HEADER) {
          return { members, complete: false, problem: `extended header of ${size} bytes at offset ${pos}` };
        }
        const data = await bytesAt(dataStart, size);
        if (h.type === 'x') pax = { ...pax, ...parsePaxRecords(data) };
        else if (h.type === 'L') longName = cString(data, 0, data.length);
        else longLink = cString(data, 0, data.length);
        break;
      }
      case 'g':
        break;
      case '0':
      case '7':
      case '1':
      case '2': {
        const name = pax.path ?? longName ?? h.name;
        const link = pax.linkpath ?? longLink ?? h.linkName;
        if (h.type === '1' || h.type === '2') {
          members.push({ name, offset: dataStart, size: 0, head: new Uint8Array(0), link });
        } else {
          const head = size === 0 ? new Uint8Array(0) : await bytesAt(dataStart, Math.min(size, headSize));
          members.push({ name, offset: dataStart, size, head });
        }
        longName = undefined;
        longLink = undefined;
        pax = {};
        break;
      }
      default:
        // Directories, devices, FIFOs: nothing to classify.
        longName = undefined;
        longLink = undefined;
        pax = {};
    }
    pos = next;
  }
  return { members, complete: true };
}

function paxSize(pax: Record<string, string>): number | undefined {
  if (pax.size === undefined) return undefined;
  const n = Number(pax.size);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
