import { describe, expect, it } from 'vitest';
import {
  BlobWindow,
  DEFAULT_VERIFIED_BLOB_BYTES,
  MemorySource,
  ReadBudget,
  sizeOf,
  wholeBlobSource,
  windowOf,
} from '../../../../src/evidence/formats/source.ts';
import { MemoryReader } from '../support.ts';
import { bytes } from './archives.ts';

const signal = () => AbortSignal.timeout(10_000);

describe('wholeBlobSource', () => {
  it('fetches a small blob whole (digest-checked by the reader) and serves it from memory', async () => {
    const reader = new MemoryReader();
    const d = reader.add(bytes('0123456789'), 'application/octet-stream');
    const budget = new ReadBudget(1000);
    const src = await wholeBlobSource(reader, d, budget, signal());
    expect(src.verified).toBe(true);
    expect(src.size).toBe(10);
    expect(new TextDecoder().decode(await src.read(2, 3))).toBe('234');
    await src.read(0, 10);
    expect(reader.blobReads).toEqual([d.digest]);
    expect(reader.ranges).toEqual([]);
    expect(budget.bytesRead).toBe(10);
  });

  it('reads larger blobs, or blobs the budget cannot hold, by range (not verified)', async () => {
    const reader = new MemoryReader();
    const d = reader.add(new Uint8Array(100), 'application/octet-stream');
    const above = await wholeBlobSource(reader, d, new ReadBudget(1000), signal(), 50);
    expect(above).toBeInstanceOf(BlobWindow);
    expect(above.verified).toBe(false);
    const poor = await wholeBlobSource(reader, d, new ReadBudget(60), signal());
    expect(poor.verified).toBe(false);
    expect(reader.blobReads).toEqual([]);
    expect(DEFAULT_VERIFIED_BLOB_BYTES).toBe(16 * 1024 * 1024);
  });
});

describe('windows and sizes', () => {
  it('clamps windows of any source and keeps its verification', async () => {
    const src = new MemorySource(bytes('abcdefgh'), new ReadBudget(10), true);
    const w = windowOf(src, 2, 4);
    expect(new TextDecoder().decode(await w.read(0, 100))).toBe('cdef');
    expect(new TextDecoder().decode(await windowOf(w, 1, 100).read(0, 100))).toBe('def');
    expect(w.verified).toBe(true);
  });

  it('finds the size of a source that does not know it by reading', async () => {
    const inner = new MemorySource(new Uint8Array(100_000), new ReadBudget(10), false);
    const unknown = { size: undefined, budget: inner.budget, verified: false, read: inner.read.bind(inner) };
    expect(await sizeOf(unknown)).toBe(100_000);
    const empty = { ...unknown, read: async () => new Uint8Array(0) };
    expect(await sizeOf(empty)).toBe(0);
  });
});
