// Typed builders for zip and tar archives with the knobs the container tests need (compression
// methods, local headers that disagree with the directory, end records, typeflags), and sources over
// in-memory blobs read through the real BlobWindow/MemoryReader path.
import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { BlobWindow, type ByteSource, ReadBudget } from '../../../../src/evidence/formats/source.ts';
import type { Descriptor } from '../../../../src/oci/types.ts';
import { MemoryReader } from '../support.ts';

const enc = new TextEncoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A blob served by a MemoryReader and read by Range through a BlobWindow, charged to `budget`. */
export function blobSource(
  content: Uint8Array,
  budget = new ReadBudget(64 * 1024 * 1024),
): {
  src: BlobWindow;
  reader: MemoryReader;
  descriptor: Descriptor;
} {
  const reader = new MemoryReader();
  const descriptor = reader.add(content, 'application/octet-stream');
  return {
    src: BlobWindow.ofBlob(reader, descriptor, budget, AbortSignal.timeout(10_000)),
    reader,
    descriptor,
  };
}

export async function readAll(src: ByteSource, max = 1 << 26): Promise<Uint8Array> {
  return src.read(0, max);
}

export interface ZEntry {
  name: string;
  data: Uint8Array;
  /** 0 stored (default), 8 deflate, or another method number (the data is then stored as given). */
  method?: number;
  /** General purpose flags of the directory entry (bit 11: UTF-8 name). */
  flags?: number;
  /** What the local header says instead of the directory's values. */
  local?: { name?: string; method?: number; compressedSize?: number; size?: number; flags?: number };
  /** Directory entry's local header offset instead of the real one. */
  headerOffset?: number;
}

export interface ZOptions {
  /** Bytes before the archive (zipfile shifts every offset by their length). */
  prefix?: Uint8Array;
  comment?: Uint8Array;
  zip64?: boolean;
  /** Entry count written in the end record instead of the real one. */
  entries?: number;
  /** Central directory offset written instead of the real one. */
  cdOffset?: number;
}

function u16(n: number): Uint8Array {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

/** A zip archive written field by field. */
export function buildZip(entries: ZEntry[], opts: ZOptions = {}): Uint8Array {
  const prefix = opts.prefix ?? new Uint8Array(0);
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const stored = method === 8 ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const name = bytes(e.name);
    const lname = bytes(e.local?.name ?? e.name);
    const crc = crc32(e.data);
    const flags = e.flags ?? 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.local?.flags ?? flags, 6);
    local.writeUInt16LE(e.local?.method ?? method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.local?.compressedSize ?? stored.length, 18);
    local.writeUInt32LE(e.local?.size ?? e.data.length, 22);
    local.writeUInt16LE(lname.length, 26);
    parts.push(local, lname, stored);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(flags, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(stored.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(e.headerOffset ?? offset, 42);
    central.push(cd, name);
    offset += 30 + lname.length + stored.length;
  }
  const cdBytes = concat(...central);
  const count = opts.entries ?? entries.length;
  const cdOffset = opts.cdOffset ?? offset;
  const comment = opts.comment ?? new Uint8Array(0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  let zip64: Uint8Array = new Uint8Array(0);
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(count), 24);
    rec.writeBigUInt64LE(BigInt(count), 32);
    rec.writeBigUInt64LE(BigInt(cdBytes.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(prefix.length + offset + cdBytes.length), 8);
    loc.writeUInt32LE(1, 16);
    zip64 = concat(rec, loc);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
  } else {
    eocd.writeUInt16LE(count, 8);
    eocd.writeUInt16LE(count, 10);
    eocd.writeUInt32LE(cdBytes.length, 12);
    eocd.writeUInt32LE(cdOffset, 16);
  }
  eocd.writeUInt16LE(comment.length, 20);
  return concat(prefix, ...parts, cdBytes, zip64, eocd, comment);
}

/** An end record (for planting a second one). */
export function eocdRecord(entries: number, cdSize: number, cdOffset: number, commentLength = 0): Uint8Array {
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries, 8);
  eocd.writeUInt16LE(entries, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  eocd.writeUInt16LE(commentLength, 20);
  return eocd;
}

export { u16 };

export interface TEntry {
  name: string;
  data?: Uint8Array;
  /** Typeflag character (default '0'). */
  type?: string;
  link?: string;
  /** Size written in the header instead of the data's length. */
  size?: number;
  /** PAX records for an 'x' header before this entry. */
  pax?: Record<string, string>;
  /** A GNU 'L' long-name header before this entry. */
  longName?: string;
  /** Write the data blocks even when the type has none. */
  forceData?: boolean;
  /** Corrupt this header's checksum. */
  badChecksum?: boolean;
  /** Write the ustar magic (default true). */
  ustar?: boolean;
  prefix?: string;
}

export function tarHeaderBlock(
  name: string,
  size: number,
  type: string,
  opts: { link?: string; ustar?: boolean; prefix?: string; badChecksum?: boolean } = {},
): Uint8Array {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(type, 156, 1, 'latin1');
  h.write(opts.link ?? '', 157, 100, 'utf8');
  if (opts.ustar ?? true) {
    h.write('ustar\0', 257);
    h.write('00', 263);
  }
  if (opts.prefix) h.write(opts.prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  if (opts.badChecksum) sum += 1;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (n: number): Uint8Array => new Uint8Array((512 - (n % 512)) % 512);

export function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  const bl = bytes(body).length;
  let len = bl + 1;
  while (String(len).length + bl !== len) len = String(len).length + bl;
  return bytes(`${len}${body}`);
}

/** A tar archive, header by header. */
export function buildTar(entries: TEntry[], opts: { end?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    if (e.longName !== undefined) {
      const n = concat(bytes(e.longName), new Uint8Array(1));
      parts.push(tarHeaderBlock('././@LongLink', n.length, 'L'), n, pad(n.length));
    }
    if (e.pax !== undefined) {
      const rec = concat(...Object.entries(e.pax).map(([k, v]) => paxRecord(k, v)));
      parts.push(tarHeaderBlock('PaxHeaders/x', rec.length, 'x'), rec, pad(rec.length));
    }
    const type = e.type ?? '0';
    parts.push(
      tarHeaderBlock(e.name, e.size ?? data.length, type, {
        ...(e.link === undefined ? {} : { link: e.link }),
        ...(e.ustar === undefined ? {} : { ustar: e.ustar }),
        ...(e.prefix === undefined ? {} : { prefix: e.prefix }),
        ...(e.badChecksum ? { badChecksum: true } : {}),
      }),
    );
    if (data.length > 0) parts.push(data, pad(data.length));
  }
  if (opts.end ?? true) parts.push(new Uint8Array(1024));
  return concat(...parts);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
