// ZIP archives read from the end by Range, the way Python's zipfile (and PyTorch's miniz) read them:
// the end-of-central-directory record (EOCD) that zipfile's `_EndRecData` picks (exactly the last 22
// bytes when they hold a record without comment, else the LAST signature in the last 64 KiB + 22), its
// zip64 record right before it, and the central directory that ends where those records begin (the
// "concat" adjustment for data prepended to the archive). Every member's local header is read too:
// where two readers could read the archive differently (two end records, a directory entry and its
// local header that disagree, overlapping or duplicate members) the listing says `ambiguous`.
import { hasBytes, printable, u16le, u32le, u64le } from '../bytes.ts';
import { decompressed, inflatedRaw } from './compress.ts';
import {
  type ArchiveListing,
  type ArchiveMember,
  type ByteSource,
  PrefetchedSource,
  sizeOf,
  windowOf,
} from './source.ts';

export type { ArchiveListing, ArchiveMember } from './source.ts';

export const LOCAL_HEADER_SIG = [0x50, 0x4b, 0x03, 0x04];
export const EMPTY_ZIP_SIG = [0x50, 0x4b, 0x05, 0x06];
const EOCD_SIG = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_LOCATOR_SIG = [0x50, 0x4b, 0x06, 0x07];
const ZIP64_RECORD_SIG = [0x50, 0x4b, 0x06, 0x06];
const CD_HEADER_SIG = [0x50, 0x4b, 0x01, 0x02];

const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_RECORD_SIZE = 56;
/** Central directory bytes read at most (a few thousand entries). */
export const MAX_CENTRAL_DIRECTORY = 512 * 1024;
const MAX_ENTRIES = 100_000;

/** The zip64 end-of-central-directory record: entries, central directory size and offset. */
export function parseZip64Record(
  b: Uint8Array,
): { entries: number; cdSize: number; cdOffset: number } | undefined {
  if (!hasBytes(b, 0, ZIP64_RECORD_SIG) || b.length < ZIP64_RECORD_SIZE) return undefined;
  const entries = u64le(b, 32);
  const cdSize = u64le(b, 40);
  const cdOffset = u64le(b, 48);
  if (entries === undefined || cdSize === undefined || cdOffset === undefined) return undefined;
  return { entries, cdSize, cdOffset };
}

/** Inflated bytes served at most per deflated member (its head is what gets classified). */
export const MAX_INFLATED_MEMBER = 64 * 1024 * 1024;
/** Bytes after each local header read with it: the member's head, so that classifying it costs no request. */
const HEAD_PREFETCH = 4096;
/** Local headers closer together than this are read with one request. */
const GROUP_READ = 32 * 1024;
/** Local header reads in flight at once. */
const HEADER_READS = 6;
const LOCAL_HEADER_SIZE = 30;
const CD_HEADER_SIZE = 46;
/** First tail read: an archive without a long comment has its end record in the last 22 bytes. */
const SHORT_TAIL = 4096;
/** zipfile searches the last 64 KiB + 22 bytes for the end record (a comment is at most 64 KiB - 1). */
const EOCD_SEARCH = (1 << 16) + EOCD_SIZE;

const METHODS: Record<number, string> = {
  1: 'shrink',
  6: 'implode',
  9: 'deflate64',
  12: 'bzip2',
  14: 'lzma',
  93: 'zstd',
  95: 'xz',
  98: 'ppmd',
  99: 'AES encryption',
};

/** A zip member, with where its bytes are. */
export interface ZipMember extends ArchiveMember {
  readonly size: number;
  readonly method: number;
  readonly compressedSize: number;
  /** Offset of the member's local header in the source. */
  readonly headerOffset: number;
  /** Offset of the member's stored (possibly compressed) bytes in the source. */
  readonly dataOffset: number;
}

export interface ZipListing extends ArchiveListing {
  readonly members: readonly ZipMember[];
}

interface CdEntry {
  readonly name: string;
  readonly rawName: Uint8Array;
  readonly flags: number;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** As stored (before the concat adjustment). */
  readonly headerOffset: number;
}

const utf8Names = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Code page 437 above 0x7F, as Python decodes names without the UTF-8 flag.
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/** A name as zipfile decodes it: UTF-8 when flag bit 11 is set (undefined if invalid), else cp437. */
export function decodeZipName(b: Uint8Array, flags: number): string | undefined {
  if (flags & 0x800) {
    try {
      return utf8Names.decode(b);
    } catch {
      return undefined;
    }
  }
  let out = '';
  for (const c of b) out += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80]!;
  return out;
}

/** Offsets of every end-record signature in `tail` (ascending). */
function signatures(tail: Uint8Array, sig: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= tail.length; i++) if (hasBytes(tail, i, sig)) out.push(i);
  return out;
}

/**
 * Lists a zip archive as zipfile reads it, with each member's uncompressed bytes as a source.
 * Throws ReadBudgetExceeded when the budget runs out.
 */
export async function listZip(src: ByteSource, head: Uint8Array): Promise<ZipListing> {
  const size = await sizeOf(src);
  const fail = (problem: string, members: ZipMember[] = []): ZipListing => ({
    members,
    complete: false,
    problem,
  });
  const ambiguous = (why: string, members: ZipMember[] = []): ZipListing => ({
    members,
    complete: false,
    problem: why,
    ambiguous: why,
  });
  if (size < EOCD_SIZE) return fail('too short for a zip end record');

  // zipfile searches the last 64 KiB + 22 bytes; most archives have their record in the last 22, so
  // a short tail is read first and the whole window only when it is needed.
  const windowStart = Math.max(0, size - EOCD_SEARCH);
  let tailStart = Math.max(windowStart, size - SHORT_TAIL);
  const readTail = async (): Promise<Uint8Array> =>
    tailStart === 0 && head.length >= size ? head.subarray(0, size) : src.read(tailStart, size - tailStart);
  let tail = await readTail();
  const widen = async (): Promise<void> => {
    if (tailStart === windowStart) return;
    tailStart = windowStart;
    tail = await readTail();
  };
  if (tail.length !== size - tailStart) return fail('zip tail could not be read');
  const at = async (off: number, len: number): Promise<Uint8Array> => {
    if (off >= tailStart && off + len <= size) return tail.subarray(off - tailStart, off - tailStart + len);
    if (off >= 0 && off + len <= head.length) return head.subarray(off, off + len);
    return src.read(off, len);
  };

  // zipfile's choice: the last 22 bytes when they are a record without comment, else the last
  // signature of the searched window (which must leave room for a record). miniz takes the same one.
  let eocdAt: number | undefined;
  const last22 = tail.length - EOCD_SIZE;
  if (hasBytes(tail, last22, EOCD_SIG) && u16le(tail, last22 + 20) === 0) eocdAt = tailStart + last22;
  else {
    let found = signatures(tail, EOCD_SIG);
    if (found.length === 0) {
      await widen();
      found = signatures(tail, EOCD_SIG);
    }
    const lastSig = found[found.length - 1];
    if (lastSig === undefined || lastSig + EOCD_SIZE > tail.length) {
      return fail('zip archive without an end-of-central-directory record');
    }
    eocdAt = tailStart + lastSig;
    if (lastSig + EOCD_SIZE + u16le(tail, lastSig + 20)! > tail.length) {
      // Its comment runs past the end: zipfile takes it anyway, Go's archive/zip (and readers like
      // it) skip it for an earlier record whose comment fits. Two such records: two readings.
      await widen();
      const fits = signatures(tail, EOCD_SIG).filter(
        (k) => tailStart + k < eocdAt! && k + EOCD_SIZE + u16le(tail, k + 20)! <= tail.length,
      );
      const other = fits[fits.length - 1];
      if (other !== undefined) {
        return ambiguous(`two zip end-of-central-directory records (at ${tailStart + other} and ${eocdAt})`);
      }
    }
  }
  const eocdIdx = eocdAt - tailStart;
  const eocd = tail.subarray(eocdIdx, eocdIdx + EOCD_SIZE);
  let entries = u16le(eocd, 10)!;
  let cdSize = u32le(eocd, 12)!;
  let cdOffset = u32le(eocd, 16)!;
  let cdEnd = eocdAt;

  // zip64: zipfile reads the locator right before the EOCD and the record right before the locator;
  // miniz follows the locator's offset. Both must agree, and the EOCD must not say otherwise.
  const locAt = eocdAt - ZIP64_LOCATOR_SIZE;
  const loc = locAt >= 0 ? await at(locAt, ZIP64_LOCATOR_SIZE) : new Uint8Array(0);
  if (hasBytes(loc, 0, ZIP64_LOCATOR_SIG)) {
    if (u32le(loc, 4) !== 0 || u32le(loc, 16)! > 1) return fail('zip spans several disks');
    const recAt = locAt - ZIP64_RECORD_SIZE;
    const rec = recAt >= 0 ? parseZip64Record(await at(recAt, ZIP64_RECORD_SIZE)) : undefined;
    if (rec === undefined) return ambiguous('zip64 locator without a zip64 end record right before it');
    if (u64le(loc, 8) !== recAt) return ambiguous('zip64 locator points elsewhere than the zip64 end record');
    const disagree =
      (entries !== 0xffff && entries !== rec.entries) ||
      (cdSize !== 0xffffffff && cdSize !== rec.cdSize) ||
      (cdOffset !== 0xffffffff && cdOffset !== rec.cdOffset);
    if (disagree) return ambiguous('the zip end record and the zip64 end record disagree');
    entries = rec.entries;
    cdSize = rec.cdSize;
    cdOffset = rec.cdOffset;
    cdEnd = recAt;
  } else if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zipfile takes the saturated values as they are; a zip64-aware reader would look for a record.
    if (cdSize === 0xffffffff || cdOffset === 0xffffffff)
      return fail('zip64 archive without a zip64 locator');
  }
  // zipfile ignores the disk fields and both entry counts; readers that use them must see one disk.
  if (
    cdEnd === eocdAt &&
    (u16le(eocd, 4) !== 0 || u16le(eocd, 6) !== 0 || u16le(eocd, 8) !== u16le(eocd, 10))
  ) {
    return fail('zip spans several disks');
  }

  // The directory ends where the end records begin; data before it shifts every offset ("concat").
  const cdStart = cdEnd - cdSize;
  if (cdStart < 0) return fail(`zip central directory size ${cdSize} exceeds its position`);
  const concat = cdStart - cdOffset;
  if (concat !== 0 && cdOffset >= 0 && cdOffset + 4 <= size) {
    const raw = await at(cdOffset, 4);
    if (hasBytes(raw, 0, CD_HEADER_SIG)) {
      return ambiguous('zip end record points at a central directory other than the one before it');
    }
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY) {
    return fail(`central directory of ${cdSize} bytes exceeds the ${MAX_CENTRAL_DIRECTORY}-byte read cap`);
  }
  const cd = await at(cdStart, cdSize);
  const parsed = parseEntries(cd);
  if (typeof parsed === 'string') return fail(parsed);
  if (parsed.length !== entries) {
    return ambiguous(`central directory has ${parsed.length} entries, the end record says ${entries}`);
  }

  const seen = new Set<string>();
  for (const e of parsed) {
    if (e.name.includes('\0')) return ambiguous(`zip entry name ${printable(e.name)} holds a NUL byte`);
    if (seen.has(e.name)) return ambiguous(`zip has two entries named ${printable(e.name)}`);
    seen.add(e.name);
  }

  const members: ZipMember[] = [];
  const extents: { from: number; to: number; name: string }[] = [];
  const order = parsed.map((e, i) => ({ e, i, off: e.headerOffset + concat })).sort((a, b) => a.off - b.off);
  // Local headers are read in groups (one request for headers that lie close together), a few
  // groups at a time: an archive of many members must not cost one round trip after another.
  const groups: { start: number; end: number; items: typeof order }[] = [];
  for (const o of order) {
    if (o.off < 0 || o.off + LOCAL_HEADER_SIZE > cdStart) {
      return fail(`zip entry ${printable(o.e.name)} has its local header outside the archive`);
    }
    const end = Math.min(size, o.off + LOCAL_HEADER_SIZE + o.e.rawName.length + 64 + HEAD_PREFETCH);
    const g = groups[groups.length - 1];
    if (g !== undefined && end - g.start <= GROUP_READ) {
      g.end = Math.max(g.end, end);
      g.items.push(o);
    } else groups.push({ start: o.off, end, items: [o] });
  }
  const buffers = await mapLimit(groups, HEADER_READS, (g) => at(g.start, g.end - g.start));
  const byIndex: (ZipMember | undefined)[] = [];
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi]!;
    const buf = buffers[gi]!;
    for (const { e, i, off } of g.items) {
      let lh = buf.subarray(off - g.start);
      if (!hasBytes(lh, 0, LOCAL_HEADER_SIG))
        return fail(`zip entry ${printable(e.name)} has no local header`);
      const nameLen = u16le(lh, 26)!;
      const extraLen = u16le(lh, 28)!;
      const dataOffset = off + LOCAL_HEADER_SIZE + nameLen + extraLen;
      if (dataOffset - off > lh.length)
        lh = await at(off, Math.min(dataOffset - off + HEAD_PREFETCH, size - off));
      if (dataOffset - off > lh.length)
        return fail(`zip entry ${printable(e.name)} local header is truncated`);
      const local = checkLocal(e, lh, nameLen, extraLen);
      if (local !== undefined) return ambiguous(`zip entry ${printable(e.name)}: ${local}`);
      const dataEnd = dataOffset + e.compressedSize;
      if (dataEnd > cdStart) {
        return dataEnd > size
          ? fail(`zip entry ${printable(e.name)} runs past the end of the archive`)
          : ambiguous(`zip entry ${printable(e.name)} overlaps the central directory`);
      }
      extents.push({ from: off, to: dataEnd, name: e.name });
      const stored = windowOf(src, dataOffset, e.compressedSize);
      const head = lh.subarray(dataOffset - off, Math.min(lh.length, dataOffset - off + e.compressedSize));
      byIndex[i] = memberOf(e, off, dataOffset, new PrefetchedSource(stored, head));
    }
  }
  extents.sort((a, b) => a.from - b.from);
  for (let k = 1; k < extents.length; k++) {
    if (extents[k]!.from < extents[k - 1]!.to) {
      return ambiguous(
        `zip entries ${printable(extents[k - 1]!.name)} and ${printable(extents[k]!.name)} overlap`,
      );
    }
  }
  for (const m of byIndex) if (m !== undefined) members.push(m);
  return { members, complete: true };
}

function memberOf(e: CdEntry, headerOffset: number, dataOffset: number, stored: ByteSource): ZipMember {
  const base = {
    name: e.name,
    size: e.size,
    method: e.method,
    compressedSize: e.compressedSize,
    headerOffset,
    dataOffset,
  };
  if (e.flags & 0x1) return { ...base, source: stored, uninspectable: 'encrypted zip member' };
  if (e.method === 0) {
    // zipfile serves min(compressed, uncompressed) bytes of a stored member; checkLocal saw them equal.
    return { ...base, source: stored };
  }
  if (e.method === 8) {
    return {
      ...base,
      source: inflatedRaw(stored, { maxOutputBytes: MAX_INFLATED_MEMBER, declaredSize: e.size }),
    };
  }
  if (e.method === 93) {
    // Zstandard (Python's zipfile reads it from 3.14): inflated where Node can.
    const z = decompressed(stored, 'zstd', { maxOutputBytes: MAX_INFLATED_MEMBER, declaredSize: e.size });
    if (z !== undefined) return { ...base, source: z };
  }
  const what = METHODS[e.method] ?? `method ${e.method}`;
  return {
    ...base,
    source: stored,
    uninspectable: `zip member compressed with ${what}, which is not inflated here`,
  };
}

/** Why a member's local header disagrees with its directory entry, if it does. */
function checkLocal(e: CdEntry, lh: Uint8Array, nameLen: number, extraLen: number): string | undefined {
  const flags = u16le(lh, 6)!;
  const method = u16le(lh, 8)!;
  const localName = decodeZipName(lh.subarray(LOCAL_HEADER_SIZE, LOCAL_HEADER_SIZE + nameLen), flags);
  // zipfile refuses to open a member whose local name differs; miniz never looks at it.
  if (localName !== e.name) {
    return `local header names it ${printable(localName ?? '(invalid UTF-8)')}`;
  }
  if (method !== e.method) return `local header says compression method ${method}, the directory ${e.method}`;
  if (e.method === 0 && e.compressedSize !== e.size) {
    return `stored member with compressed size ${e.compressedSize} and size ${e.size}`;
  }
  let csize = u32le(lh, 18)!;
  let usize = u32le(lh, 22)!;
  if (csize === 0xffffffff || usize === 0xffffffff) {
    const z = zip64Extra(lh.subarray(LOCAL_HEADER_SIZE + nameLen, LOCAL_HEADER_SIZE + nameLen + extraLen));
    if (z !== undefined) {
      // The local zip64 field holds both sizes, uncompressed first.
      usize = z[0] ?? usize;
      csize = z[1] ?? csize;
    }
  }
  // With a data descriptor (bit 3) the local sizes may be zero: the real ones follow the data.
  const deferred = (flags & 0x8) !== 0 && csize === 0 && usize === 0;
  if (!deferred && (csize !== e.compressedSize || usize !== e.size)) {
    return `local header sizes ${csize}/${usize} differ from the directory's ${e.compressedSize}/${e.size}`;
  }
  return undefined;
}

/** The 8-byte values of a zip64 extra field (tag 0x0001), in order. */
function zip64Extra(extra: Uint8Array): number[] | undefined {
  let pos = 0;
  while (pos + 4 <= extra.length) {
    const tag = u16le(extra, pos)!;
    const len = u16le(extra, pos + 2)!;
    if (pos + 4 + len > extra.length) return undefined;
    if (tag === 0x0001) {
      const out: number[] = [];
      for (let k = 0; k + 8 <= len; k += 8) out.push(u64le(extra, pos + 4 + k) ?? Number.NaN);
      return out;
    }
    pos += 4 + len;
  }
  return undefined;
}

/** The directory's entries as zipfile's `_RealGetContents` reads them, or why it cannot. */
function parseEntries(cd: Uint8Array): CdEntry[] | string {
  const out: CdEntry[] = [];
  let pos = 0;
  while (pos < cd.length) {
    if (out.length >= MAX_ENTRIES) return `more than ${MAX_ENTRIES} zip entries`;
    if (pos + CD_HEADER_SIZE > cd.length) return 'truncated central directory';
    if (!hasBytes(cd, pos, CD_HEADER_SIG)) return `no central directory header at offset ${pos}`;
    const flags = u16le(cd, pos + 8)!;
    const method = u16le(cd, pos + 10)!;
    let compressedSize = u32le(cd, pos + 20)!;
    let size = u32le(cd, pos + 24)!;
    const nameLen = u16le(cd, pos + 28)!;
    const extraLen = u16le(cd, pos + 30)!;
    const commentLen = u16le(cd, pos + 32)!;
    let headerOffset = u32le(cd, pos + 42)!;
    const nameAt = pos + CD_HEADER_SIZE;
    const end = nameAt + nameLen + extraLen + commentLen;
    if (end > cd.length) return 'central directory ends inside an entry';
    const rawName = cd.subarray(nameAt, nameAt + nameLen);
    const decoded = decodeZipName(rawName, flags);
    if (decoded === undefined) return 'zip entry name flagged UTF-8 is not UTF-8';
    // zipfile reads the zip64 extra field in this order, each value only where the 32-bit one is saturated.
    const extra = cd.subarray(nameAt + nameLen, nameAt + nameLen + extraLen);
    if (!wellFormedExtra(extra)) return `corrupt extra field in zip entry ${printable(decoded)}`;
    const z = zip64Extra(extra);
    if (z !== undefined) {
      let k = 0;
      if (size === 0xffffffff) size = z[k++] ?? Number.NaN;
      if (compressedSize === 0xffffffff) compressedSize = z[k++] ?? Number.NaN;
      if (headerOffset === 0xffffffff) headerOffset = z[k++] ?? Number.NaN;
      if (Number.isNaN(size + compressedSize + headerOffset)) {
        return `corrupt zip64 extra field in zip entry ${printable(decoded)}`;
      }
    }
    // zipfile ends a name at its first NUL (kept here so that callers can refuse it).
    out.push({ name: decoded, rawName, flags, method, compressedSize, size, headerOffset });
    pos = end;
  }
  return out;
}

function wellFormedExtra(extra: Uint8Array): boolean {
  let pos = 0;
  while (extra.length - pos >= 4) {
    const len = u16le(extra, pos + 2)!;
    if (pos + 4 + len > extra.length) return false;
    pos += 4 + len;
  }
  return true;
}

/** `f` over `items` with at most `limit` calls pending, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await f(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
