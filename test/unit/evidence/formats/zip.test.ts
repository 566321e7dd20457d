import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ReadBudget, ReadBudgetExceeded } from '../../../../src/evidence/formats/source.ts';
import { decodeZipName, listZip, MAX_CENTRAL_DIRECTORY } from '../../../../src/evidence/formats/zip.ts';
import { blobSource, buildZip, bytes, concat, eocdRecord, tarHeaderBlock } from './archives.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function list(content: Uint8Array, budget?: ReadBudget) {
  const { src, reader } = blobSource(content, budget);
  const head = await src.read(0, 4096);
  return { listing: await listZip(src, head), reader };
}

/** Something that compresses well and is not all one byte. */
function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i % 97) + ((i >> 12) % 7);
  return out;
}

describe('listZip', () => {
  it('lists stored members with their bytes', async () => {
    const { listing } = await list(
      buildZip([
        { name: 'archive/data.pkl', data: bytes('\x80\x02pickle') },
        { name: 'archive/data/0', data: bytes('tensor bytes') },
      ]),
    );
    expect(listing).toMatchObject({ complete: true });
    expect(listing.ambiguous).toBeUndefined();
    expect(listing.members.map((m) => m.name)).toEqual(['archive/data.pkl', 'archive/data/0']);
    expect(text(await listing.members[1]!.source.read(0, 100))).toBe('tensor bytes');
    expect(listing.members[1]!.size).toBe(12);
  });

  it('inflates deflated members lazily: the head of a large member costs little', async () => {
    const big = pattern(4 * 1024 * 1024);
    const budget = new ReadBudget(64 * 1024 * 1024);
    const { listing } = await list(buildZip([{ name: 'big.bin', data: big, method: 8 }]), budget);
    const m = listing.members[0]!;
    expect(m.uninspectable).toBeUndefined();
    expect(m.size).toBe(big.length);
    const head = await m.source.read(0, 4096);
    expect(head).toEqual(big.subarray(0, 4096));
    expect(budget.bytesInflated).toBeLessThan(512 * 1024);
    // Reads further on inflate through, and agree with the original.
    expect(await m.source.read(3_000_000, 100)).toEqual(big.subarray(3_000_000, 3_000_100));
    expect(await m.source.read(big.length - 10, 100)).toEqual(big.subarray(big.length - 10));
  });

  it('reads the local headers of many small members with few requests', async () => {
    const entries = Array.from({ length: 300 }, (_, i) => ({ name: `arr_${i}.npy`, data: pattern(100) }));
    const { listing, reader } = await list(buildZip(entries));
    expect(listing).toMatchObject({ complete: true });
    expect(listing.members).toHaveLength(300);
    expect(reader.ranges.length).toBeLessThan(10);
    // Heads come from the header reads.
    const before = reader.ranges.length;
    expect(await listing.members[150]!.source.read(0, 100)).toEqual(pattern(100));
    expect(reader.ranges.length).toBe(before);
  });

  it('serves a deflated member up to where its stream is damaged, as zipfile reads it', async () => {
    const text = bytes(Array.from({ length: 8000 }, (_, i) => `w${(i * 7919) % 1013} `).join(''));
    const data = concat(bytes('\x80\x04cos\nsystem\n'), text);
    const z = new Uint8Array(buildZip([{ name: 'm.bin', data, method: 8 }]));
    z.fill(0x55, 30 + 5 + 1500, 30 + 5 + 1600);
    const { listing } = await list(z);
    expect(await listing.members[0]!.source.read(0, 20)).toEqual(data.subarray(0, 20));
  });

  it('takes the last end record, as zipfile and miniz do', async () => {
    const a = buildZip([{ name: 'safe.txt', data: bytes('hello') }]);
    // A second archive appended to a first: the last end record is the second's.
    const b = buildZip([{ name: 'archive/data.pkl', data: bytes('\x80\x02evil') }], { prefix: a });
    const { listing } = await list(b);
    expect(listing).toMatchObject({ complete: true });
    expect(listing.members.map((m) => m.name)).toEqual(['archive/data.pkl']);
    expect(text(await listing.members[0]!.source.read(0, 20))).toBe('\x80\x02evil');
  });

  it('refuses two end records that zipfile and Go would choose between differently', async () => {
    // The last record's comment runs past the end: zipfile takes it, Go's archive/zip the one before.
    const a = buildZip([{ name: 'safe.txt', data: bytes('hello') }]);
    const { listing } = await list(concat(a, eocdRecord(1, 10, 0, 1000)));
    expect(listing.complete).toBe(false);
    expect(listing.ambiguous).toMatch(/two zip end-of-central-directory records/);
  });

  it('finds the end record behind a long comment', async () => {
    const z = buildZip([{ name: 'a.txt', data: bytes('a') }], { comment: new Uint8Array(30_000).fill(0x41) });
    const { listing } = await list(z);
    expect(listing).toMatchObject({ complete: true });
    expect(listing.members.map((m) => m.name)).toEqual(['a.txt']);
  });

  it('reads few bytes of an archive whose end record is the last 22 bytes', async () => {
    const big = new Uint8Array(300_000);
    const budget = new ReadBudget(1 << 30);
    await list(buildZip([{ name: 'w.bin', data: big }]), budget);
    expect(budget.bytesRead).toBeLessThan(16 * 1024);
  });

  it('refuses a directory entry whose local header has another name', async () => {
    const { listing } = await list(
      buildZip([{ name: 'weights.bin', data: bytes('x'), local: { name: 'archive/data.pkl' } }]),
    );
    expect(listing.ambiguous).toMatch(/local header names it/);
  });

  it('refuses a local header with another compression method or other sizes', async () => {
    const m = await list(buildZip([{ name: 'a', data: bytes('abc'), local: { method: 8 } }]));
    expect(m.listing.ambiguous).toMatch(/compression method 8/);
    const s = await list(
      buildZip([{ name: 'a', data: bytes('abc'), local: { size: 99, compressedSize: 99 } }]),
    );
    expect(s.listing.ambiguous).toMatch(/local header sizes/);
  });

  it('accepts zero local sizes with a data descriptor flag', async () => {
    const { listing } = await list(
      buildZip([{ name: 'a', data: bytes('abc'), flags: 0x8, local: { size: 0, compressedSize: 0 } }]),
    );
    expect(listing).toMatchObject({ complete: true });
  });

  it('reads an archive after prepended data with zipfile offsets', async () => {
    const z = buildZip([{ name: 'm/data.pkl', data: bytes('\x80\x04pk') }], {
      prefix: bytes('#!/bin/sh\necho self-extracting\n'),
    });
    const { listing } = await list(z);
    expect(listing).toMatchObject({ complete: true });
    expect(text(await listing.members[0]!.source.read(0, 10))).toBe('\x80\x04pk');
  });

  it('refuses prepended data when the end record points at another central directory', async () => {
    // The raw offset (what miniz reads) lands on a directory of its own inside the prefix.
    const whole = buildZip([{ name: 'x.txt', data: bytes('x') }]);
    const decoy = whole.subarray(0, whole.length - 22);
    const decoyCd = 30 + 5 + 1;
    const z = buildZip([{ name: 'y.txt', data: bytes('y') }], { prefix: decoy, cdOffset: decoyCd });
    const { listing } = await list(z);
    expect(listing.ambiguous).toMatch(/central directory other than the one before it/);
  });

  it('reads zip64 end records', async () => {
    const { listing } = await list(
      buildZip(
        [
          { name: 'a.txt', data: bytes('a') },
          { name: 'archive/data.pkl', data: bytes('p') },
        ],
        { zip64: true },
      ),
    );
    expect(listing).toMatchObject({ complete: true });
    expect(listing.members.map((m) => m.name)).toEqual(['a.txt', 'archive/data.pkl']);
  });

  it('refuses a zip64 record that disagrees with the end record', async () => {
    const z = buildZip([{ name: 'a.txt', data: bytes('a') }], { zip64: true });
    // Unsaturate the EOCD's entry count with another value than the zip64 record's.
    const eocdAt = z.length - 22;
    const patched = new Uint8Array(z);
    patched.set([2, 0], eocdAt + 8);
    patched.set([2, 0], eocdAt + 10);
    const { listing } = await list(patched);
    expect(listing.ambiguous).toMatch(/zip64 end record disagree/);
  });

  it('refuses duplicate names', async () => {
    const { listing } = await list(
      buildZip([
        { name: 'archive/data.pkl', data: bytes('safe') },
        { name: 'archive/data.pkl', data: bytes('evil') },
      ]),
    );
    expect(listing.ambiguous).toMatch(/two entries named/);
  });

  it('refuses overlapping members', async () => {
    // Member b's local header sits inside member a's stored data.
    const inner = buildZip([{ name: 'b', data: bytes('inner') }]).subarray(0, 30 + 1 + 5);
    const z = buildZip([
      { name: 'a', data: inner },
      { name: 'b', data: bytes('inner'), headerOffset: 30 + 1 },
    ]);
    const { listing } = await list(z);
    expect(listing.ambiguous).toMatch(/overlap/);
  });

  it('refuses an entry count that differs from the directory', async () => {
    const { listing } = await list(buildZip([{ name: 'a', data: bytes('a') }], { entries: 2 }));
    expect(listing.ambiguous).toMatch(/end record says 2/);
  });

  it('marks members of methods it cannot inflate uninspectable', async () => {
    const { listing } = await list(buildZip([{ name: 'data.pkl', data: bytes('BZh9...'), method: 12 }]));
    expect(listing.complete).toBe(true);
    expect(listing.members[0]!.uninspectable).toMatch(/bzip2/);
  });

  it('inflates zstd members (method 93) where Node can', async () => {
    const data = bytes('\x80\x04zstd member');
    const z = buildZip([{ name: 'a.pkl', data: new Uint8Array(zstdCompressSync(data)), method: 93 }]);
    const { listing } = await list(z);
    expect(listing.members[0]!.uninspectable).toBeUndefined();
    expect(await listing.members[0]!.source.read(0, data.length)).toEqual(data);
  });

  it('says incomplete without an end record, or with a directory over the cap', async () => {
    const none = await list(concat(tarHeaderBlock('x', 0, '0'), new Uint8Array(100)));
    expect(none.listing).toMatchObject({ complete: false });
    expect(none.listing.problem).toMatch(/end-of-central-directory/);
    const many = Array.from({ length: Math.ceil(MAX_CENTRAL_DIRECTORY / 296) + 5 }, (_, i) => ({
      name: `${String(i).padStart(250, 'n')}`,
      data: new Uint8Array(0),
    }));
    const big = await list(buildZip(many));
    expect(big.listing.complete).toBe(false);
    expect(big.listing.problem).toMatch(/read cap/);
  });

  it('throws ReadBudgetExceeded when the budget runs out', async () => {
    const z = buildZip([{ name: 'a', data: pattern(200_000) }]);
    await expect(list(z, new ReadBudget(1000))).rejects.toBeInstanceOf(ReadBudgetExceeded);
  });

  it('decodes names as zipfile does: cp437 unless flagged UTF-8', () => {
    expect(decodeZipName(Uint8Array.of(0x80, 0x41), 0)).toBe('ÇA');
    expect(decodeZipName(bytes('é'), 0x800)).toBe('é');
    expect(decodeZipName(Uint8Array.of(0xff, 0xfe), 0x800)).toBeUndefined();
  });
});
