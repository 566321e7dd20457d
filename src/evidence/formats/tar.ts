// POSIX tar (ustar, GNU and PAX variants) walked the way Python's tarfile walks it: 512-byte headers
// parsed as `TarInfo.frombuf` parses them, each followed by its member's data padded to 512 bytes.
// Types tarfile does not know are extracted as regular files, so they are listed with their data;
// links, directories and devices carry no data (tarfile and Go's archive/tar skip none). Only headers
// and the first bytes of each member are read. Where tarfile and Go's archive/tar (oras, containerd)
// would disagree on a name or on where a member's data is, the listing says `ambiguous`.
import { latin1, printable } from '../bytes.ts';
import { HEAD_BYTES } from './sniff.ts';
import {
  type ArchiveListing,
  type ArchiveMember,
  type ByteSource,
  PrefetchedSource,
  windowOf,
} from './source.ts';

export type { ArchiveListing, ArchiveMember } from './source.ts';

export const BLOCK = 512;
/** Headers walked at most per tarred layer. */
export const MAX_TAR_MEMBERS = 4096;
/** Bytes of a GNU long name or PAX extended header read at most. */
const MAX_EXTENDED_HEADER = 64 * 1024;

/** tarfile's SUPPORTED_TYPES; anything else is extracted as a regular file. */
const SUPPORTED = new Set(['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'L', 'K', 'S']);
/** Types whose data follows the header (tarfile's REGULAR_TYPES, plus every unknown type). */
const isRegular = (t: string): boolean =>
  t === '0' || t === '\0' || t === '7' || t === 'S' || !SUPPORTED.has(t);

export interface TarHeader {
  /** The name with the ustar prefix joined as tarfile joins it. */
  readonly name: string;
  readonly size: number;
  /** The typeflag byte as a character ('\0' for an old regular file is reported as '0'). */
  readonly type: string;
  readonly linkName: string;
  /** The magic says POSIX ustar ("ustar\0" + "00"): the format in which Go reads the prefix field. */
  readonly ustar: boolean;
  /** The prefix field (bytes 345..500) as text; tarfile joins it whatever the magic says. */
  readonly prefix: string;
  /** An old-style regular file whose name ends in '/': tarfile makes it a directory. */
  readonly v7Dir: boolean;
  /** The typeflag byte was NUL (old-style regular file, or directory when the name ends in '/'). */
  readonly oldStyle: boolean;
  /** The name field as stored (with the prefix joined as Go joins it, before any '/' is stripped). */
  readonly storedName: string;
}

const utf8Names = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** tarfile's `nts`: up to the first NUL, decoded as tarfile decodes names (UTF-8, surrogateescape). */
function nts(b: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && end < b.length && b[end] !== 0) end++;
  return utf8Escaped(b.subarray(at, end));
}

/**
 * UTF-8 with Python's `surrogateescape` error handler (the file system encoding tarfile uses): a byte
 * that is not part of a valid sequence becomes U+DC80..U+DCFF, so names compare equal to Python's.
 */
export function utf8Escaped(b: Uint8Array): string {
  try {
    return utf8Names.decode(b);
  } catch {
    // Decoded by hand below.
  }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n =
      c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    let cp = n === 1 ? c : n === 2 ? c & 0x1f : n === 3 ? c & 0x0f : c & 0x07;
    let ok = n > 0 && i + n <= b.length;
    for (let k = 1; ok && k < n; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok && n === 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok && n === 4 && (cp < 0x10000 || cp > 0x10ffff)) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 + c);
      i += 1;
    }
  }
  return out;
}

/** Python's whitespace for `str.strip()` within ASCII. */
const isPySpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);

/**
 * Python's `int(text, base)` for the ASCII texts tar fields hold: surrounding whitespace, a sign, a
 * `0o` prefix for base 8, and single underscores between digits. Undefined when Python raises.
 */
export function pythonInt(text: string, base: 8 | 10): number | undefined {
  let s = 0;
  let e = text.length;
  while (s < e && isPySpace(text.charCodeAt(s))) s++;
  while (e > s && isPySpace(text.charCodeAt(e - 1))) e--;
  let t = text.slice(s, e);
  let sign = 1;
  if (t.startsWith('+') || t.startsWith('-')) {
    if (t.startsWith('-')) sign = -1;
    t = t.slice(1);
  }
  if (base === 8 && (t.startsWith('0o') || t.startsWith('0O'))) {
    t = t.slice(2);
    if (t.startsWith('_')) t = t.slice(1);
  }
  if (t.length === 0 || t.startsWith('_') || t.endsWith('_') || t.includes('__')) return undefined;
  let value = 0;
  for (const ch of t) {
    if (ch === '_') continue;
    const d = ch.charCodeAt(0) - 0x30;
    if (d < 0 || d >= base) return undefined;
    value = value * base + d;
  }
  return Number.isSafeInteger(value) ? sign * value : undefined;
}

/** tarfile's `nti`: base-256 when the first byte is 0x80 (or 0xff, negative), else octal text. */
function nti(b: Uint8Array, at: number, len: number): number | undefined {
  const first = b[at]!;
  if (first === 0x80 || first === 0xff) {
    let n = 0;
    for (let i = at + 1; i < at + len; i++) n = n * 256 + b[i]!;
    if (first === 0xff) n = -(256 ** (len - 1) - n);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  let end = at;
  while (end < at + len && b[end] !== 0) end++;
  for (let i = at; i < end; i++) if (b[i]! > 0x7f) return undefined;
  const text = latin1(b, at, end);
  let blank = true;
  for (let i = 0; i < text.length; i++) if (!isPySpace(text.charCodeAt(i))) blank = false;
  return blank ? 0 : pythonInt(text, 8);
}

/**
 * Parses one 512-byte header block as tarfile's `frombuf` does: 'end' for an all-zero block,
 * undefined when tarfile raises (wrong length, bad checksum, a numeric field it cannot read).
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
  const stored = nti(block, 148, 8);
  if (stored === undefined) return undefined;
  let unsigned = 256;
  let signed = 256;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const c = block[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== unsigned && stored !== signed) return undefined;
  // frombuf reads these too, and a field it cannot read makes the whole header invalid.
  for (const [at, len] of [
    [100, 8],
    [108, 8],
    [116, 8],
    [136, 12],
    [329, 8],
    [337, 8],
  ] as const) {
    if (nti(block, at, len) === undefined) return undefined;
  }
  const size = nti(block, 124, 12);
  if (size === undefined) return undefined;
  const typeByte = block[156]!;
  let type = typeByte === 0 ? '\0' : String.fromCharCode(typeByte);
  const nameField = nts(block, 0, 100);
  let name = nameField;
  const v7Dir = type === '\0' && name.endsWith('/');
  if (v7Dir) type = '5';
  if (type === '5') name = name.replace(/\/+$/, '');
  const prefix = nts(block, 345, 155);
  if (prefix && type !== 'L' && type !== 'K' && type !== 'S') name = `${prefix}/${name}`;
  const ustar = latin1(block, 257, 263) === 'ustar\0' && latin1(block, 263, 265) === '00';
  return {
    name,
    size,
    type: type === '\0' ? '0' : type,
    linkName: nts(block, 157, 100),
    ustar,
    prefix,
    v7Dir,
    oldStyle: typeByte === 0,
    storedName: prefix ? `${prefix}/${nameField}` : nameField,
  };
}

/**
 * PAX extended header records as tarfile parses them: `<len> <key>=` matched at each record start,
 * the value running to one byte before the record's end, until a record does not match.
 * Undefined when tarfile raises (a record length of 0).
 */
export function parsePaxRecords(data: Uint8Array): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    let d = pos;
    while (d < data.length && data[d]! >= 0x30 && data[d]! <= 0x39) d++;
    if (d === pos || data[d] !== 0x20) break;
    let eq = d + 1;
    while (eq < data.length && data[eq] !== 0x3d) eq++;
    if (eq === d + 1 || eq >= data.length) break;
    const len = Number(latin1(data, pos, d));
    if (len === 0) return undefined;
    if (!Number.isSafeInteger(len)) break;
    const key = utf8Escaped(data.subarray(d + 1, eq));
    const valueEnd = Math.min(data.length, pos + len - 1);
    out[key] = valueEnd > eq + 1 ? utf8Escaped(data.subarray(eq + 1, valueEnd)) : '';
    pos += len;
  }
  return out;
}

export interface TarMember extends ArchiveMember {
  readonly name: string;
  /** Offset of the member's data in the source. */
  readonly offset: number;
  readonly size: number;
  /** The first bytes of the member's data (up to the head size asked for). */
  readonly head: Uint8Array;
  /** The typeflag the member was stored with ('0', '7', a type tarfile does not know, '1', '2'). */
  readonly type: string;
}

export interface TarListing extends ArchiveListing {
  readonly members: readonly TarMember[];
}

interface Pending {
  /** Extension headers before the member, in order: tarfile applies the first one last (it wins). */
  readonly exts: { type: 'L' | 'K' | 'x'; value: string | Record<string, string> }[];
}

/**
 * Walks the headers of a tar source as tarfile does and returns its files (regular, contiguous, and
 * types tarfile does not know) and links, with the first `headSize` bytes of each file. Serves
 * following headers of small members from the same read. Works over a decompressed (sequential)
 * source too: it only reads forward. Throws ReadBudgetExceeded when the budget runs out.
 */
export async function listTar(
  src: ByteSource,
  first: Uint8Array,
  headSize = HEAD_BYTES,
): Promise<TarListing> {
  const members: TarMember[] = [];
  let chunk = first;
  let chunkStart = 0;
  const bytesAt = async (at: number, len: number): Promise<Uint8Array> => {
    const want = src.size === undefined ? len : Math.max(0, Math.min(len, src.size - at));
    if (at >= chunkStart && at + want <= chunkStart + chunk.length) {
      return chunk.subarray(at - chunkStart, at - chunkStart + want);
    }
    if (want === 0) return new Uint8Array(0);
    chunk = await src.read(at, Math.max(want, BLOCK + headSize));
    chunkStart = at;
    return chunk.subarray(0, Math.min(want, chunk.length));
  };
  const incomplete = (problem: string): TarListing => ({ members, complete: false, problem });
  const ambiguous = (why: string): TarListing => ({ members, complete: false, problem: why, ambiguous: why });

  let pos = 0;
  let pending: Pending = { exts: [] };
  let globalPax: Record<string, string> = {};
  let headers = 0;
  for (;;) {
    if (headers++ >= MAX_TAR_MEMBERS) return incomplete(`more than ${MAX_TAR_MEMBERS} tar headers`);
    const block = await bytesAt(pos, BLOCK);
    if (block.length === 0) {
      // tarfile ends quietly at the end of the data (no end-of-archive blocks needed).
      if (pos === 0) return incomplete('empty tar archive');
      if (pending.exts.length > 0) return incomplete('tar ends after an extended header');
      return { members, complete: true };
    }
    if (block.length < BLOCK) return incomplete(`tar ends inside a header at offset ${pos}`);
    const h = parseTarHeader(block);
    if (h === 'end') {
      if (pending.exts.length > 0) return incomplete('tar ends after an extended header');
      // tarfile stops at one zero block; Go's archive/tar wants a second one, and GNU tar warns and
      // may go on: a header right after a lone zero block is read by some and not by others.
      const next = await bytesAt(pos + BLOCK, BLOCK);
      if (next.length === BLOCK && parseTarHeader(next) !== 'end' && parseTarHeader(next) !== undefined) {
        return ambiguous(`tar header after a lone zero block at offset ${pos}`);
      }
      return { members, complete: true };
    }
    // tarfile stops without error at an invalid header after the first; other readers fail.
    if (h === undefined) return incomplete(`no valid tar header at offset ${pos}`);
    if (h.prefix && !h.ustar && h.type !== 'L' && h.type !== 'K' && h.type !== 'S') {
      return ambiguous(`tar header at offset ${pos} has a name prefix outside the ustar format`);
    }
    const dataStart = pos + BLOCK;
    switch (h.type) {
      case 'L':
      case 'K':
      case 'x':
      case 'X':
      case 'g': {
        if (h.size < 0 || h.size > MAX_EXTENDED_HEADER) {
          return incomplete(`extended header of ${h.size} bytes at offset ${pos}`);
        }
        // tarfile applies a pending long name or PAX header to the member after an 'X' or 'g' header;
        // Go's archive/tar applies it to (or drops it with) that header.
        if ((h.type === 'X' || h.type === 'g') && pending.exts.length > 0) {
          return ambiguous(`extended header followed by a '${h.type}' header at offset ${pos}`);
        }
        // tarfile reads the padded blocks: records (and names) may run into the padding.
        const padded = blocks(h.size);
        const data = await bytesAt(dataStart, padded);
        if (data.length < padded) return incomplete(`tar ends inside an extended header at offset ${pos}`);
        if (h.type === 'L' || h.type === 'K') {
          pending.exts.push({ type: h.type, value: nts(data, 0, data.length) });
        } else {
          const recs = parsePaxRecords(data);
          if (recs === undefined) return incomplete(`invalid PAX record at offset ${pos}`);
          if (Object.keys(recs).some((k) => k.startsWith('GNU.sparse'))) {
            return incomplete(`GNU sparse member at offset ${pos} (not read here)`);
          }
          if (h.type === 'g') {
            // Go's archive/tar does not apply global headers to the members that follow.
            const decisive = ['path', 'linkpath', 'size'].filter((k) => k in recs);
            if (decisive.length > 0) return ambiguous(`PAX global header sets ${decisive.join(', ')}`);
            globalPax = { ...globalPax, ...recs };
          } else {
            if (h.type === 'X' && ('path' in recs || 'linkpath' in recs || 'size' in recs)) {
              return ambiguous('Solaris extended header (X) sets a member field');
            }
            if (h.type === 'X') {
              // Go's archive/tar does not know 'X': it hands it out as an entry with data, which an
              // extractor may write as a file. Listed too, so its bytes are classified.
              const head = await bytesAt(dataStart, Math.min(h.size, headSize));
              members.push(fileMember(src, h.name, dataStart, h.size, head, 'X'));
            }
            pending.exts.push({ type: 'x', value: { ...globalPax, ...recs } });
          }
        }
        pos = dataStart + padded;
        continue;
      }
      default:
        break;
    }

    const resolved = resolveExtensions(h, pending);
    pending = { exts: [] };
    if (typeof resolved === 'string') return ambiguous(`tar member at offset ${pos}: ${resolved}`);
    const { name, link, size } = resolved;
    if (size < 0) return incomplete(`tar member ${printable(name)} has a negative size`);
    const regular = isRegular(h.type);
    const next = regular ? dataStart + blocks(size) : dataStart;
    if (regular && size > 0) {
      // The member's last byte must be there (tarfile's "unexpected end of data" at the next member).
      const end = src.size;
      const present =
        end === undefined ? (await bytesAt(dataStart + size - 1, 1)).length === 1 : dataStart + size <= end;
      if (!present)
        return incomplete(`member ${printable(name)} of ${size} bytes runs past the end of the layer`);
    }
    if (h.type === 'S' && block[482] !== 0) return incomplete(`extended GNU sparse header at offset ${pos}`);
    if (h.type === 'S') {
      members.push(
        fileMember(src, name, dataStart, 0, new Uint8Array(0), h.type, 'sparse tar member (not read here)'),
      );
    } else if (regular) {
      const head = size === 0 ? new Uint8Array(0) : await bytesAt(dataStart, Math.min(size, headSize));
      members.push(fileMember(src, name, dataStart, size, head, h.type));
    } else if (h.type === '1' || h.type === '2') {
      members.push({ ...fileMember(src, name, dataStart, 0, new Uint8Array(0), h.type), link });
    }
    // Directories, devices and FIFOs: nothing a loader opens.
    pos = next;
  }
}

function fileMember(
  src: ByteSource,
  name: string,
  offset: number,
  size: number,
  head: Uint8Array,
  type: string,
  uninspectable?: string,
): TarMember {
  return {
    name,
    offset,
    size,
    head,
    type,
    source: new PrefetchedSource(windowOf(src, offset, size), head),
    ...(uninspectable === undefined ? {} : { uninspectable }),
  };
}

/**
 * The member's name, link and size once its extension headers are applied, as tarfile applies them
 * (the first header before a member is applied last), or why Go's archive/tar would read them
 * differently (it takes the last PAX header and lets a GNU long name win over a PAX path).
 */
function resolveExtensions(h: TarHeader, p: Pending): { name: string; link: string; size: number } | string {
  let name = h.name;
  let link = h.linkName;
  let size = h.size;
  const count = { L: 0, K: 0, x: 0 };
  for (const e of p.exts) count[e.type]++;
  if (count.L > 1 || count.K > 1 || count.x > 1) return 'several extended headers of one kind';
  let longName: string | undefined;
  let longLink: string | undefined;
  let paxPath: string | undefined;
  let rawPaxPath: string | undefined;
  let paxLink: string | undefined;
  for (let i = p.exts.length - 1; i >= 0; i--) {
    const e = p.exts[i]!;
    if (e.type === 'L') {
      longName = e.value as string;
      name = longName;
      if (h.type === '5') name = name.replace(/\/+$/, '');
    } else if (e.type === 'K') {
      longLink = e.value as string;
      link = longLink;
    } else {
      const recs = e.value as Record<string, string>;
      if (recs.path !== undefined) {
        // tarfile strips a PAX path's trailing '/', Go keeps it: for a file, two names.
        if (recs.path.endsWith('/') && isRegular(h.type)) return 'a file whose PAX path ends in /';
        rawPaxPath = recs.path;
        paxPath = recs.path.replace(/\/+$/, '');
        name = paxPath;
      }
      if (recs.linkpath !== undefined) {
        paxLink = recs.linkpath;
        link = paxLink;
      }
      if (recs.size !== undefined) size = pythonInt(recs.size, 10) ?? 0;
    }
  }
  // An old-style header is a directory when its name ends in '/': tarfile asks the name field, Go the
  // final name (long name or PAX path). They disagree on whether data follows, and on every member after.
  if (h.oldStyle) {
    const goName = longName ?? rawPaxPath ?? h.storedName;
    if (goName.endsWith('/') !== h.v7Dir) return 'tarfile and Go disagree on whether it is a directory';
  }
  if (longName !== undefined && paxPath !== undefined && longName.replace(/\/+$/, '') !== paxPath) {
    return 'a GNU long name and a PAX path disagree';
  }
  if (longLink !== undefined && paxLink !== undefined && longLink !== paxLink) {
    return 'a GNU long link and a PAX linkpath disagree';
  }
  return { name, link, size };
}

function blocks(n: number): number {
  return Math.ceil(Math.max(0, n) / BLOCK) * BLOCK;
}
