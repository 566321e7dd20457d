import { randomBytes } from 'node:crypto';
import { deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressionOf, decompressed } from '../../../../src/evidence/formats/compress.ts';
import {
  InflationLimitExceeded,
  MemorySource,
  ReadBudget,
  ReadBudgetExceeded,
} from '../../../../src/evidence/formats/source.ts';
import { blobSource, bytes, concat } from './archives.ts';

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 10)) & 0xff;
  return out;
}

describe('compressionOf', () => {
  it.each([
    ['gzip', [0x1f, 0x8b, 0x08, 0]],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
    ['zstd', [0x5a, 0x2a, 0x4d, 0x18]],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
    ['bzip2', [0x42, 0x5a, 0x68, 0x39]],
    ['7z', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
    ['lz4', [0x04, 0x22, 0x4d, 0x18]],
    ['lzma', [0x5d, 0x00, 0x00, 0x80, 0x00]],
    ['zlib', [0x78, 0x9c]],
    ['zlib', [0x78, 0x01]],
    ['zlib', [0x78, 0x5e]],
    ['zlib', [0x78, 0xda]],
  ])('recognises %s', (c, head) => {
    expect(compressionOf(Uint8Array.from(head))).toBe(c);
  });

  it('recognises what zlib.compress writes at every level (joblib) and nothing with a bad check', () => {
    for (let level = 0; level <= 9; level++) {
      expect(compressionOf(new Uint8Array(deflateSync(bytes('x'), { level })))).toBe('zlib');
    }
    expect(compressionOf(Uint8Array.of(0x78, 0x9d))).toBeUndefined();
    expect(compressionOf(Uint8Array.of(0x78, 0xbb))).toBeUndefined(); // preset dictionary
    expect(compressionOf(bytes('{"a": 1}'))).toBeUndefined();
  });
});

describe('decompressed', () => {
  const budget = () => new ReadBudget(256 * 1024 * 1024);

  it('inflates gzip by ranged reads, multi-member included', async () => {
    const a = pattern(300_000);
    const b = pattern(200_000).reverse();
    const { src } = blobSource(concat(new Uint8Array(gzipSync(a)), new Uint8Array(gzipSync(b))));
    const d = decompressed(src, 'gzip', { maxOutputBytes: 1 << 30 })!;
    expect(await d.read(0, 10)).toEqual(a.subarray(0, 10));
    expect(await d.read(299_990, 20)).toEqual(concat(a.subarray(299_990), b.subarray(0, 10)));
    expect(await d.read(0, 1 << 20)).toHaveLength(500_000);
    expect(d.size).toBe(500_000);
    expect(d.verified).toBe(false);
  });

  it('inflates a zlib stream as joblib writes it', async () => {
    const raw = pattern(100_000);
    const d = decompressed(new MemorySource(new Uint8Array(deflateSync(raw)), budget(), true), 'zlib', {
      maxOutputBytes: 1 << 30,
    })!;
    expect(await d.read(50_000, 16)).toEqual(raw.subarray(50_000, 50_016));
    expect(d.verified).toBe(true);
  });

  it('inflates zstd', async () => {
    const raw = pattern(70_000);
    const d = decompressed(new MemorySource(new Uint8Array(zstdCompressSync(raw)), budget(), false), 'zstd', {
      maxOutputBytes: 1 << 30,
    })!;
    expect(await d.read(0, 1 << 20)).toEqual(raw);
  });

  it('gives no source for what Node cannot inflate (callers fail closed)', () => {
    const src = new MemorySource(new Uint8Array(10), budget(), false);
    for (const c of ['xz', 'bzip2', 'lzma', '7z', 'lz4'] as const) {
      expect(decompressed(src, c, { maxOutputBytes: 1000 })).toBeUndefined();
    }
  });

  it('reads behind its position by inflating again from the start', async () => {
    const raw = pattern(2_000_000);
    const b = budget();
    const d = decompressed(new MemorySource(new Uint8Array(gzipSync(raw)), b, false), 'gzip', {
      maxOutputBytes: 1 << 30,
    })!;
    expect(await d.read(1_500_000, 10)).toEqual(raw.subarray(1_500_000, 1_500_010));
    expect(await d.read(1_000_000, 10)).toEqual(raw.subarray(1_000_000, 1_000_010));
    expect(b.bytesInflated).toBeGreaterThan(2_000_000);
  });

  it('refuses a zip bomb by its inflation ratio', async () => {
    // zstd reaches ratios deflate cannot (deflate tops out near 1032:1, under the default cap).
    const bomb = new Uint8Array(zstdCompressSync(new Uint8Array(64 * 1024 * 1024)));
    const d = decompressed(new MemorySource(bomb, budget(), false), 'zstd', { maxOutputBytes: 1 << 30 })!;
    expect(await d.read(0, 16)).toEqual(new Uint8Array(16));
    const err = await d.read(60_000_000, 16).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InflationLimitExceeded);
    expect((err as Error).message).toMatch(/inflates more than 1100 times/);
    // Callers that handle budget exhaustion handle this too.
    expect(err).toBeInstanceOf(ReadBudgetExceeded);
    const gz = new Uint8Array(gzipSync(new Uint8Array(8 * 1024 * 1024)));
    const g = decompressed(new MemorySource(gz, budget(), false), 'gzip', {
      maxOutputBytes: 1 << 30,
      maxRatio: 100,
    })!;
    await expect(g.read(4_000_000, 1)).rejects.toThrow(/inflates more than 100 times/);
  });

  it('refuses output past its limit', async () => {
    const d = decompressed(
      new MemorySource(new Uint8Array(gzipSync(pattern(500_000))), budget(), false),
      'gzip',
      {
        maxOutputBytes: 100_000,
      },
    )!;
    await expect(d.read(200_000, 1)).rejects.toBeInstanceOf(InflationLimitExceeded);
  });

  it('charges inflated bytes to the budget and stops when it is spent', async () => {
    const b = new ReadBudget(300_000);
    const { src } = blobSource(new Uint8Array(gzipSync(new Uint8Array(2_000_000))), b);
    const d = decompressed(src, 'gzip', { maxOutputBytes: 1 << 30 })!;
    await expect(d.read(1_000_000, 1)).rejects.toBeInstanceOf(ReadBudgetExceeded);
    expect(b.bytesInflated).toBeLessThanOrEqual(300_000);
  });

  // (zstd decoders, Python's included, hand out nothing of a damaged block: no prefix to recover.)
  it.each(['gzip', 'zlib'] as const)(
    'serves the bytes of a corrupt %s stream up to where it goes bad (a loader runs a pickle that far)',
    async (c) => {
      // Text-like bytes: compressed with Huffman codes that damage breaks (stored blocks it would not).
      const filler = bytes(Array.from({ length: 8000 }, (_, i) => `w${(i * 7919) % 1013} `).join(''));
      const evil = concat(bytes('\x80\x04cos\nsystem\n'), filler);
      const packed = c === 'gzip' ? gzipSync(evil) : deflateSync(evil);
      const broken = new Uint8Array(packed);
      // Damage the stream a little way in: the first bytes still decode, as Python's readers see them.
      broken.fill(0x55, 1500, 1600);
      const d = decompressed(new MemorySource(broken, budget(), false), c, { maxOutputBytes: 1 << 30 })!;
      const head = await d.read(0, 64);
      expect(head.subarray(0, 15)).toEqual(evil.subarray(0, 15));
      const all = await d.read(0, 1 << 20);
      expect(all.length).toBeGreaterThanOrEqual(64);
      expect(all.length).toBeLessThan(evil.length);
      expect(d.size).toBe(all.length);
    },
  );

  it('ends a corrupt stream where it stops inflating', async () => {
    const good = new Uint8Array(gzipSync(randomBytes(100_000)));
    const broken = good.slice(0, 2000);
    broken.fill(0xff, 1000);
    const d = decompressed(new MemorySource(broken, budget(), false), 'gzip', { maxOutputBytes: 1 << 30 })!;
    const all = await d.read(0, 1 << 20);
    expect(all.length).toBeLessThan(100_000);
    expect(d.size).toBe(all.length);
  });
});
