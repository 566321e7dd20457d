// ZIP archives read from the end by Range: the end-of-central-directory record (EOCD, and the zip64
// locator and record when the archive needs them) gives the central directory's size, which ends
// where the EOCD (or the zip64 record) begins. Only the central directory's entry names are read,
// never an entry's data. A PyTorch checkpoint is a zip with `<archive>/data.pkl`: a pickle.
import { hasBytes, latin1, printable, u16le, u32le, u64le } from '../bytes.ts';
import type { BlobWindow } from './source.ts';
import type { ContentVerdict } from './types.ts';

export const LOCAL_HEADER_SIG = [0x50, 0x4b, 0x03, 0x04];
export const EMPTY_ZIP_SIG = [0x50, 0x4b, 0x05, 0x06];
const EOCD_SIG = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_LOCATOR_SIG = [0x50, 0x4b, 0x06, 0x07];
const ZIP64_RECORD_SIG = [0x50, 0x4b, 0x06, 0x06];
const CD_HEADER_SIG = [0x50, 0x4b, 0x01, 0x02];

const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_RECORD_SIZE = 56;
/** First tail read: an archive without a long comment has its EOCD in the last 22 bytes. */
const SHORT_TAIL = 4096;
/** Central directory bytes read at most (a few thousand entries). */
export const MAX_CENTRAL_DIRECTORY = 512 * 1024;
const MAX_ENTRIES = 100_000;

export interface Eocd {
  /** Offset of the EOCD record in the window. */
  readonly at: number;
  readonly entries: number;
  readonly cdSize: number;
  readonly cdOffset: number;
  /** Some field is saturated (0xFFFF / 0xFFFFFFFF): the zip64 record holds the real values. */
  readonly needsZip64: boolean;
  /** Offset of the zip64 end record, when a zip64 locator precedes the EOCD inside `tail`. */
  readonly zip64RecordOffset?: number;
}

/**
 * Finds the EOCD in `tail`, the last bytes of a window of `size` bytes starting at `tailStart`.
 * Prefers a record whose comment ends exactly at the end of the window.
 */
export function findEocd(tail: Uint8Array, tailStart: number, size: number): Eocd | undefined {
  let loose: number | undefined;
  for (let i = tail.length - EOCD_SIZE; i >= 0 && i >= tail.length - EOCD_SIZE - MAX_COMMENT; i--) {
    if (!hasBytes(tail, i, EOCD_SIG)) continue;
    const commentLen = u16le(tail, i + 20)!;
    if (i + EOCD_SIZE + commentLen === tail.length && tailStart + tail.length === size) {
      return eocdAt(tail, i, tailStart);
    }
    loose ??= i;
  }
  return loose === undefined ? undefined : eocdAt(tail, loose, tailStart);
}

function eocdAt(tail: Uint8Array, i: number, tailStart: number): Eocd {
  const entries = u16le(tail, i + 10)!;
  const cdSize = u32le(tail, i + 12)!;
  const cdOffset = u32le(tail, i + 16)!;
  const needsZip64 = entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
  const loc = i - ZIP64_LOCATOR_SIZE;
  let zip64RecordOffset: number | undefined;
  if (hasBytes(tail, loc, ZIP64_LOCATOR_SIG)) zip64RecordOffset = u64le(tail, loc + 8);
  return {
    at: tailStart + i,
    entries,
    cdSize,
    cdOffset,
    needsZip64,
    ...(zip64RecordOffset === undefined ? {} : { zip64RecordOffset }),
  };
}

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

export interface CentralDirectory {
  readonly names: readonly string[];
  /** Every byte of the directory parsed into well-formed entries. */
  readonly complete: boolean;
  readonly problem?: string;
}

/** Entry names of a central directory (or of its first bytes). */
export function parseCentralDirectory(cd: Uint8Array, expectedEntries?: number): CentralDirectory {
  const names: string[] = [];
  let pos = 0;
  while (pos < cd.length) {
    if (names.length >= MAX_ENTRIES)
      return { names, complete: false, problem: `more than ${MAX_ENTRIES} entries` };
    if (!hasBytes(cd, pos, CD_HEADER_SIG)) {
      return { names, complete: false, problem: `no central directory header at offset ${pos}` };
    }
    const nameLen = u16le(cd, pos + 28);
    const extraLen = u16le(cd, pos + 30);
    const commentLen = u16le(cd, pos + 32);
    if (nameLen === undefined || extraLen === undefined || commentLen === undefined) {
      return { names, complete: false, problem: 'central directory ends inside an entry header' };
    }
    const end = pos + 46 + nameLen + extraLen + commentLen;
    if (pos + 46 + nameLen > cd.length) {
      return { names, complete: false, problem: 'central directory ends inside an entry name' };
    }
    names.push(latin1(cd, pos + 46, pos + 46 + nameLen));
    if (end > cd.length) return { names, complete: false, problem: 'central directory ends inside an entry' };
    pos = end;
  }
  if (expectedEntries !== undefined && names.length !== expectedEntries && expectedEntries !== 0xffff) {
    return {
      names,
      complete: false,
      problem: `central directory has ${names.length} entries, the end record says ${expectedEntries}`,
    };
  }
  return { names, complete: true };
}

/** The name of the first entry, from the local file header at the start of the archive. */
export function firstLocalName(head: Uint8Array): string | undefined {
  if (!hasBytes(head, 0, LOCAL_HEADER_SIG)) return undefined;
  const nameLen = u16le(head, 26);
  if (nameLen === undefined || 30 + nameLen > head.length) return undefined;
  return latin1(head, 30, 30 + nameLen);
}

/** An entry that holds a pickle: PyTorch's `<archive>/data.pkl` at any depth, or any `.pkl`/`.pickle`. */
export function isPickleEntry(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === 'data.pkl' || lower.endsWith('/data.pkl') || lower.endsWith('.pkl') || lower.endsWith('.pickle')
  );
}

/** What a zip's entry names say about its format. */
export function classifyZipEntries(cd: CentralDirectory): ContentVerdict {
  const pickle = cd.names.find(isPickleEntry);
  if (pickle !== undefined) {
    return {
      kind: 'format',
      format: 'pytorch-zip',
      evidence: `zip archive with pickle entry ${printable(pickle)} (central directory)`,
    };
  }
  if (!cd.complete) {
    return {
      kind: 'uninspectable',
      evidence: `zip central directory could not be read completely (${cd.problem ?? 'truncated'}); it may hold a data.pkl`,
    };
  }
  const files = cd.names.filter((n) => !n.endsWith('/'));
  if (files.length > 0 && files.every((n) => n.toLowerCase().endsWith('.npy'))) {
    return { kind: 'format', format: 'numpy', evidence: `npz archive of ${files.length} .npy arrays` };
  }
  if (files.includes('config.json') && files.some((n) => n.toLowerCase().endsWith('.weights.h5'))) {
    return { kind: 'format', format: 'keras-h5', evidence: 'Keras v3 archive (config.json + .weights.h5)' };
  }
  const sample = files
    .slice(0, 3)
    .map((n) => printable(n, 60))
    .join(', ');
  return {
    kind: 'none',
    evidence: `zip archive of ${files.length} entries without a pickle${sample ? ` (${sample}${files.length > 3 ? ', …' : ''})` : ''}`,
  };
}

/** Classifies a window that starts with a zip signature, reading its central directory from the end. */
export async function inspectZip(w: BlobWindow, head: Uint8Array): Promise<ContentVerdict> {
  const first = firstLocalName(head);
  if (first !== undefined && isPickleEntry(first)) {
    return {
      kind: 'format',
      format: 'pytorch-zip',
      evidence: `zip archive whose first entry is ${printable(first)}`,
    };
  }
  if (hasBytes(head, 0, EMPTY_ZIP_SIG)) return { kind: 'none', evidence: 'empty zip archive' };

  let tailStart = Math.max(0, w.size - SHORT_TAIL);
  let tail = tailStart === 0 && head.length >= w.size ? head : await w.read(tailStart, w.size - tailStart);
  let eocd = findEocd(tail, tailStart, w.size);
  if (eocd === undefined && tailStart > 0) {
    tailStart = Math.max(0, w.size - (EOCD_SIZE + MAX_COMMENT));
    tail = await w.read(tailStart, w.size - tailStart);
    eocd = findEocd(tail, tailStart, w.size);
  }
  if (eocd === undefined) {
    return { kind: 'uninspectable', evidence: 'zip archive without an end-of-central-directory record' };
  }

  let entries = eocd.entries;
  let cdSize = eocd.cdSize;
  // The directory ends where the end records begin (as Python's zipfile assumes for prepended data).
  let cdEnd = eocd.at;
  if (eocd.zip64RecordOffset !== undefined || eocd.needsZip64) {
    const at = eocd.zip64RecordOffset;
    if (at === undefined || at >= eocd.at) {
      return { kind: 'uninspectable', evidence: 'zip64 archive without a usable zip64 locator' };
    }
    const rec = parseZip64Record(await readAt(w, tail, tailStart, at, ZIP64_RECORD_SIZE));
    if (rec === undefined) return { kind: 'uninspectable', evidence: 'zip64 end record unreadable' };
    entries = rec.entries;
    cdSize = rec.cdSize;
    cdEnd = at;
  }
  const cdStart = cdEnd - cdSize;
  if (cdStart < 0) {
    return { kind: 'uninspectable', evidence: `zip central directory size ${cdSize} exceeds its position` };
  }
  const readLen = Math.min(cdSize, MAX_CENTRAL_DIRECTORY);
  const bytes = await readAt(w, tail, tailStart, cdStart, readLen);
  if (readLen < cdSize) {
    const partial = parseCentralDirectory(bytes);
    return classifyZipEntries({
      names: partial.names,
      complete: false,
      problem: `central directory of ${cdSize} bytes exceeds the ${MAX_CENTRAL_DIRECTORY}-byte read cap`,
    });
  }
  return classifyZipEntries(parseCentralDirectory(bytes, entries));
}

/** Bytes `at..at+len` of the window, from the tail already read when it covers them. */
async function readAt(
  w: BlobWindow,
  tail: Uint8Array,
  tailStart: number,
  at: number,
  len: number,
): Promise<Uint8Array> {
  if (at >= tailStart && at + len <= tailStart + tail.length)
    return tail.subarray(at - tailStart, at - tailStart + len);
  return w.read(at, len);
}
