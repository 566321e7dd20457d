import type { Descriptor } from '../../oci/types.ts';
import type { EvidenceReader } from '../types.ts';

/** Thrown when a read would take the artifact past its byte budget; the file is then "not inspected". */
export class ReadBudgetExceeded extends Error {
  constructor(wanted: number, remaining: number) {
    super(`reading ${wanted} more bytes would exceed the read budget (${remaining} bytes left)`);
    this.name = 'ReadBudgetExceeded';
  }
}

/**
 * Thrown when a compressed stream inflates past its output limit or ratio (a bomb, or just too big to
 * inflate here). A budget exhaustion to callers: the file is "not inspected".
 */
export class InflationLimitExceeded extends ReadBudgetExceeded {
  constructor(why: string, wanted: number, remaining: number) {
    super(wanted, remaining);
    this.name = 'InflationLimitExceeded';
    this.message = why;
  }
}

/** Bytes read (and range requests made) for one artifact, bounded by a total. */
export class ReadBudget {
  readonly limit: number;
  #remaining: number;
  bytesRead = 0;
  requests = 0;
  bytesInflated = 0;

  constructor(limit: number) {
    this.limit = limit;
    this.#remaining = limit;
  }

  get remaining(): number {
    return this.#remaining;
  }

  /** Sets `n` bytes aside before a read (concurrent reads cannot overshoot the limit together). */
  take(n: number): void {
    if (n > this.#remaining) throw new ReadBudgetExceeded(n, this.#remaining);
    this.#remaining -= n;
  }

  /** Records a read of `actual` bytes for which `taken` were set aside. */
  settle(taken: number, actual: number): void {
    this.bytesRead += actual;
    this.requests += 1;
    this.#remaining += Math.max(0, taken - actual);
  }

  /** Charges `n` bytes of work that is not a registry read (bytes inflated from a compressed stream). */
  charge(n: number): void {
    this.take(n);
    this.bytesInflated += n;
  }

  /** Gives back bytes set aside for a read that failed. */
  refund(taken: number): void {
    this.#remaining += taken;
  }
}

/** Bytes that a loader could open: a blob, a window of one, a zip/tar member, or an inflated stream. */
export interface ByteSource {
  /** Exact size when known; undefined for an inflated stream not yet read to its end. */
  readonly size: number | undefined;
  /** The artifact's shared byte budget. */
  readonly budget: ReadBudget;
  /** True when every byte this source serves is covered by a digest check (whole blob fetched and hashed). */
  readonly verified: boolean;
  /** Up to `length` bytes from `start` (fewer at the end, empty past it). Throws ReadBudgetExceeded. */
  read(start: number, length: number): Promise<Uint8Array>;
}

/** Blobs up to this size are fetched whole and checked against their digest before they are read. */
export const DEFAULT_VERIFIED_BLOB_BYTES = 16 * 1024 * 1024;

/**
 * A window of a blob (the whole blob, or one tar member's data), read by HTTP Range through the
 * evidence reader. Offsets are relative to the window; reads are clamped to it and charged to the
 * artifact's budget. Range answers are not digest-checked: a registry can serve other bytes.
 */
export class BlobWindow implements ByteSource {
  readonly reader: EvidenceReader;
  readonly descriptor: Descriptor;
  /** Offset of the window in the blob. */
  readonly offset: number;
  /** Length of the window. */
  readonly size: number;
  readonly budget: ReadBudget;
  readonly signal: AbortSignal;
  readonly verified = false;

  constructor(
    reader: EvidenceReader,
    descriptor: Descriptor,
    offset: number,
    size: number,
    budget: ReadBudget,
    signal: AbortSignal,
  ) {
    this.reader = reader;
    this.descriptor = descriptor;
    this.offset = offset;
    this.size = size;
    this.budget = budget;
    this.signal = signal;
  }

  static ofBlob(reader: EvidenceReader, d: Descriptor, budget: ReadBudget, signal: AbortSignal): BlobWindow {
    return new BlobWindow(reader, d, 0, d.size, budget, signal);
  }

  sub(offset: number, size: number): BlobWindow {
    const start = Math.min(Math.max(0, offset), this.size);
    const len = Math.min(Math.max(0, size), this.size - start);
    return new BlobWindow(this.reader, this.descriptor, this.offset + start, len, this.budget, this.signal);
  }

  /** Up to `length` bytes from `start` (fewer at the end of the window; empty past it). */
  async read(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || length <= 0 || start >= this.size) return new Uint8Array(0);
    const len = Math.min(length, this.size - start);
    this.budget.take(len);
    const from = this.offset + start;
    let bytes: Uint8Array;
    try {
      bytes = await this.reader.range(this.descriptor, from, from + len - 1, this.signal);
    } catch (err) {
      this.budget.refund(len);
      throw err;
    }
    this.budget.settle(len, Math.min(bytes.length, len));
    // A registry that answers with more than was asked for is cut to the request.
    return bytes.length > len ? bytes.subarray(0, len) : bytes;
  }
}

/**
 * Bytes already in memory (a whole blob whose digest was checked, or a test fixture). Reads are not
 * charged again: whoever produced the bytes paid for them.
 */
export class MemorySource implements ByteSource {
  readonly bytes: Uint8Array;
  readonly budget: ReadBudget;
  readonly verified: boolean;

  constructor(bytes: Uint8Array, budget: ReadBudget, verified: boolean) {
    this.bytes = bytes;
    this.budget = budget;
    this.verified = verified;
  }

  get size(): number {
    return this.bytes.length;
  }

  async read(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || length <= 0 || start >= this.bytes.length) return new Uint8Array(0);
    return this.bytes.subarray(start, Math.min(this.bytes.length, start + length));
  }
}

/** Bytes `offset..offset+size` of another source (a stored zip member, a tar member's data). */
export class SourceWindow implements ByteSource {
  readonly inner: ByteSource;
  readonly offset: number;
  readonly size: number;

  constructor(inner: ByteSource, offset: number, size: number) {
    this.inner = inner;
    this.offset = offset;
    this.size = size;
  }

  get budget(): ReadBudget {
    return this.inner.budget;
  }

  get verified(): boolean {
    return this.inner.verified;
  }

  async read(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || length <= 0 || start >= this.size) return new Uint8Array(0);
    return this.inner.read(this.offset + start, Math.min(length, this.size - start));
  }
}

/** A window of `src`, clamped to what is known of its size. */
export function windowOf(src: ByteSource, offset: number, size: number): ByteSource {
  if (src instanceof BlobWindow) return src.sub(offset, size);
  const start = Math.max(0, offset);
  const len = Math.max(0, src.size === undefined ? size : Math.min(size, src.size - start));
  if (src instanceof SourceWindow) return new SourceWindow(src.inner, src.offset + start, len);
  return new SourceWindow(src, start, len);
}

/**
 * The blob as a source. Up to `maxBytes` (and while the artifact's budget allows) it is fetched whole
 * through `reader.blob()`, which checks the digest, and served from memory (verified). Larger blobs
 * are read by Range (a BlobWindow, not verified).
 */
export async function wholeBlobSource(
  reader: EvidenceReader,
  descriptor: Descriptor,
  budget: ReadBudget,
  signal: AbortSignal,
  maxBytes: number = DEFAULT_VERIFIED_BLOB_BYTES,
): Promise<ByteSource> {
  const size = descriptor.size;
  if (!Number.isSafeInteger(size) || size < 0 || size > maxBytes || size > budget.remaining) {
    return BlobWindow.ofBlob(reader, descriptor, budget, signal);
  }
  budget.take(size);
  let bytes: Uint8Array;
  try {
    bytes = await reader.blob(descriptor, size, signal);
  } catch (err) {
    budget.refund(size);
    throw err;
  }
  budget.settle(size, bytes.length);
  return new MemorySource(bytes, budget, true);
}

/** A member of a zip or tar archive, with its bytes as the archive's consumer would extract them. */
export interface ArchiveMember {
  /** As the consumer sees it (zip: central directory name; tar: PAX/GNU long name). */
  readonly name: string;
  readonly size: number | undefined;
  /** The member's uncompressed bytes (a zip member's deflate stream is inflated lazily). */
  readonly source: ByteSource;
  /** Tar hard or symbolic link target. */
  readonly link?: string;
  /**
   * Set when the member's bytes cannot be read here (a zip compression method Node cannot inflate,
   * encryption): `source` then serves the stored (compressed) bytes, and callers fail closed.
   */
  readonly uninspectable?: string;
}

export interface ArchiveListing {
  readonly members: readonly ArchiveMember[];
  /** Every member listed. */
  readonly complete: boolean;
  /** Why not complete. */
  readonly problem?: string;
  /** Set when two consumers could read the archive differently (two end records, CD vs local headers). */
  readonly ambiguous?: string;
}

/**
 * A window whose first bytes were already read (with the header before them): reads inside them are
 * served from memory, the rest from the window.
 */
export class PrefetchedSource implements ByteSource {
  readonly inner: ByteSource;
  readonly prefix: Uint8Array;

  constructor(inner: ByteSource, prefix: Uint8Array) {
    this.inner = inner;
    this.prefix = inner.size === undefined ? prefix : prefix.subarray(0, Math.min(prefix.length, inner.size));
  }

  get size(): number | undefined {
    return this.inner.size;
  }

  get budget(): ReadBudget {
    return this.inner.budget;
  }

  get verified(): boolean {
    return this.inner.verified;
  }

  async read(start: number, length: number): Promise<Uint8Array> {
    if (start >= 0 && length > 0 && start + length <= this.prefix.length) {
      return this.prefix.subarray(start, start + length);
    }
    return this.inner.read(start, length);
  }
}

/**
 * The size of a source, reading it to its end when it is a stream of unknown length (each read is
 * charged: a decompressed stream inflates through).
 */
export async function sizeOf(src: ByteSource): Promise<number> {
  if (src.size !== undefined) return src.size;
  let probe = 64 * 1024;
  for (;;) {
    const got = await src.read(probe, 1);
    if (src.size !== undefined) return src.size;
    if (got.length === 0) break;
    probe *= 2;
  }
  // Past the end but the stream did not say where it ended: search between the last two probes.
  // The size is at least lo and at most hi.
  let lo = 0;
  let hi = probe;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await src.read(mid - 1, 1)).length > 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
