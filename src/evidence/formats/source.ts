import type { Descriptor } from '../../oci/types.ts';
import type { EvidenceReader } from '../types.ts';

/** Thrown when a read would take the artifact past its byte budget; the file is then "not inspected". */
export class ReadBudgetExceeded extends Error {
  constructor(wanted: number, remaining: number) {
    super(`reading ${wanted} more bytes would exceed the read budget (${remaining} bytes left)`);
    this.name = 'ReadBudgetExceeded';
  }
}

/** Bytes read (and range requests made) for one artifact, bounded by a total. */
export class ReadBudget {
  readonly limit: number;
  #remaining: number;
  bytesRead = 0;
  requests = 0;

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

  /** Gives back bytes set aside for a read that failed. */
  refund(taken: number): void {
    this.#remaining += taken;
  }
}

/**
 * A window of a blob (the whole blob, or one tar member's data), read by HTTP Range through the
 * evidence reader. Offsets are relative to the window; reads are clamped to it and charged to the
 * artifact's budget.
 */
export class BlobWindow {
  readonly reader: EvidenceReader;
  readonly descriptor: Descriptor;
  /** Offset of the window in the blob. */
  readonly offset: number;
  /** Length of the window. */
  readonly size: number;
  readonly budget: ReadBudget;
  readonly signal: AbortSignal;

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
