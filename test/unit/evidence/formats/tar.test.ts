import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompressed } from '../../../../src/evidence/formats/compress.ts';
import { ReadBudget, ReadBudgetExceeded } from '../../../../src/evidence/formats/source.ts';
import { listTar, parseTarHeader, pythonInt } from '../../../../src/evidence/formats/tar.ts';
import { blobSource, buildTar, bytes, concat, type TEntry, tarHeaderBlock } from './archives.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const PICKLE = bytes('\x80\x04\x95cos\nsystem\n.');

async function list(content: Uint8Array, budget?: ReadBudget) {
  const { src } = blobSource(content, budget);
  return listTar(src, await src.read(0, 4096));
}

describe('listTar', () => {
  it('lists regular members with heads and sources', async () => {
    const l = await list(
      buildTar([
        { name: 'a.txt', data: bytes('hello') },
        { name: 'dir/', type: '5' },
      ]),
    );
    expect(l).toMatchObject({ complete: true });
    expect(l.members.map((m) => [m.name, m.size, text(m.head)])).toEqual([['a.txt', 5, 'hello']]);
    expect(text(await l.members[0]!.source.read(0, 100))).toBe('hello');
  });

  it.each(['V', 'Z', 'N', 'M', 'D', 'A'])(
    'lists a member of unknown typeflag %s with its data, as tarfile extracts it',
    async (type) => {
      const l = await list(
        buildTar([
          { name: 'model.bin', data: PICKLE, type },
          { name: 'after.txt', data: bytes('x') },
        ]),
      );
      expect(l.complete).toBe(true);
      expect(l.members.map((m) => [m.name, m.type])).toEqual([
        ['model.bin', type],
        ['after.txt', '0'],
      ]);
      expect(await l.members[0]!.source.read(0, PICKLE.length)).toEqual(PICKLE);
    },
  );

  it('lists contiguous files (7) as regular files', async () => {
    const l = await list(buildTar([{ name: 'c.bin', data: PICKLE, type: '7' }]));
    expect(l.members[0]).toMatchObject({ name: 'c.bin', size: PICKLE.length });
  });

  it('does not skip data after a directory header: tarfile reads the next header there', async () => {
    // A directory that claims 1024 bytes "of data", which hold a real member's header and data.
    const hidden = buildTar([{ name: 'hidden.pkl', data: PICKLE }], { end: false });
    const l = await list(concat(tarHeaderBlock('d', hidden.length, '5'), hidden, new Uint8Array(1024)));
    expect(l.members.map((m) => m.name)).toEqual(['hidden.pkl']);
  });

  it('takes a PAX size over the header size', async () => {
    const data = concat(PICKLE, bytes('tail'));
    const l = await list(
      buildTar([
        { name: 'm.bin', data, size: 1, pax: { size: String(data.length) } },
        { name: 'z', data: bytes('z') },
      ]),
    );
    expect(l.members.map((m) => [m.name, m.size])).toEqual([
      ['m.bin', data.length],
      ['z', 1],
    ]);
  });

  it('exposes both members of a duplicate name (the later wins in extraction)', async () => {
    const l = await list(
      buildTar([
        { name: 'w.safetensors', data: bytes('A') },
        { name: 'w.safetensors', data: PICKLE },
      ]),
    );
    expect(l.complete).toBe(true);
    expect(l.members.map((m) => m.name)).toEqual(['w.safetensors', 'w.safetensors']);
    expect(l.members[1]!.head).toEqual(PICKLE);
  });

  it('says incomplete at a header checksum failure mid-archive', async () => {
    const l = await list(
      buildTar([
        { name: 'a', data: bytes('a') },
        { name: 'b.pkl', data: PICKLE, badChecksum: true },
      ]),
    );
    expect(l.complete).toBe(false);
    expect(l.problem).toMatch(/no valid tar header at offset 1024/);
    expect(l.members.map((m) => m.name)).toEqual(['a']);
  });

  it('says incomplete when a member runs past the end', async () => {
    const whole = buildTar([{ name: 'a', data: new Uint8Array(5000) }], { end: false });
    const l = await list(whole.subarray(0, 3000));
    expect(l).toMatchObject({ complete: false });
    expect(l.problem).toMatch(/runs past the end/);
  });

  it('reads GNU long names and PAX paths, and refuses the two disagreeing', async () => {
    const long = `${'d/'.repeat(80)}model.pkl`;
    const l = await list(buildTar([{ name: 'short', data: PICKLE, longName: long }]));
    expect(l.members[0]!.name).toBe(long);
    const p = await list(buildTar([{ name: 'short', data: PICKLE, pax: { path: long } }]));
    expect(p.members[0]!.name).toBe(long);
    const both = await list(
      buildTar([{ name: 'short', data: PICKLE, pax: { path: 'a.txt' }, longName: 'b.pkl' }]),
    );
    expect(both.ambiguous).toMatch(/GNU long name and a PAX path disagree/);
  });

  it('refuses a PAX global header that renames members (Go does not apply it)', async () => {
    const rec = bytes('16 path=evil.pk\n');
    const g = concat(tarHeaderBlock('g', rec.length, 'g'), rec, new Uint8Array(512 - rec.length));
    const l = await list(concat(g, buildTar([{ name: 'ok.txt', data: bytes('x') }])));
    expect(l.ambiguous).toMatch(/PAX global header sets path/);
  });

  it('lists the data of a Solaris X header too (Go hands it out as an entry)', async () => {
    const l = await list(
      buildTar([
        { name: 'x.pkl', data: PICKLE, type: 'X' },
        { name: 'a.txt', data: bytes('a') },
      ]),
    );
    expect(l.complete).toBe(true);
    expect(l.members.map((m) => [m.name, m.type])).toEqual([
      ['x.pkl', 'X'],
      ['a.txt', '0'],
    ]);
    expect(l.members[0]!.head).toEqual(PICKLE);
  });

  it('refuses an old-style header that tarfile calls a directory and Go a file (data skipped or not)', async () => {
    // Type NUL, name "x/": a directory to tarfile (no data); with a PAX path "model.bin" a 30-byte file
    // to Go, whose data tarfile would read as the next header.
    const l = await list(buildTar([{ name: 'x/', data: PICKLE, type: '\0', pax: { path: 'model.bin' } }]));
    expect(l.ambiguous).toMatch(/disagree on whether it is a directory/);
    const g = await list(buildTar([{ name: 'model.bin', data: PICKLE, type: '\0', longName: 'dir/' }]));
    expect(g.ambiguous).toMatch(/disagree on whether it is a directory/);
  });

  it('refuses a long name pending before an X or g header (tarfile and Go give it to different members)', async () => {
    const x = buildTar([
      { name: 'x', data: bytes('5 a=\n'), type: 'X', longName: 'evil.pkl' },
      { name: 'ok.bin', data: PICKLE },
    ]);
    expect((await list(x)).ambiguous).toMatch(/extended header followed by a 'X' header/);
  });

  it('refuses a file whose PAX path ends in / (tarfile strips it, Go keeps it)', async () => {
    const l = await list(buildTar([{ name: 'f', data: PICKLE, pax: { path: 'model.bin/' } }]));
    expect(l.ambiguous).toMatch(/PAX path ends in \//);
  });

  it('refuses a header right after a lone zero block', async () => {
    const l = await list(
      concat(
        buildTar([{ name: 'a', data: bytes('a') }], { end: false }),
        new Uint8Array(512),
        buildTar([{ name: 'b.pkl', data: PICKLE }]),
      ),
    );
    expect(l.ambiguous).toMatch(/lone zero block/);
  });

  it('refuses a name prefix outside the ustar format (tarfile joins it, Go does not)', async () => {
    const l = await list(buildTar([{ name: 'model.bin', data: PICKLE, ustar: false, prefix: 'x' }]));
    expect(l.ambiguous).toMatch(/prefix outside the ustar format/);
    const u = await list(buildTar([{ name: 'model.bin', data: PICKLE, prefix: 'x' }]));
    expect(u.members[0]!.name).toBe('x/model.bin');
  });

  it('walks a tar inside gzip (KitOps --compression gzip) by inflating through it', async () => {
    const big = new Uint8Array(600_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
    const entries: TEntry[] = [
      { name: 'model.safetensors', data: concat(bytes('{"__metadata__":{}}'), big) },
      { name: 'README.md', data: bytes('# hi') },
      { name: 'data.pkl', data: PICKLE },
    ];
    const budget = new ReadBudget(16 * 1024 * 1024);
    const { src } = blobSource(new Uint8Array(gzipSync(buildTar(entries))), budget);
    const d = decompressed(src, 'gzip', { maxOutputBytes: 1 << 30 })!;
    const l = await listTar(d, await d.read(0, 4096));
    expect(l).toMatchObject({ complete: true });
    expect(l.members.map((m) => m.name)).toEqual(['model.safetensors', 'README.md', 'data.pkl']);
    expect(text(l.members[0]!.head.subarray(0, 19))).toBe('{"__metadata__":{}}');
    expect(await l.members[2]!.source.read(0, 100)).toEqual(PICKLE);
    expect(budget.bytesInflated).toBeGreaterThan(600_000);
  });

  it('throws ReadBudgetExceeded when the budget runs out', async () => {
    const entries = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(3000) }));
    await expect(list(buildTar(entries), new ReadBudget(20_000))).rejects.toBeInstanceOf(ReadBudgetExceeded);
  });
});

describe('tar numbers as tarfile reads them', () => {
  it('parses octal like Python int(s, 8)', () => {
    expect(pythonInt(' 17 ', 8)).toBe(15);
    expect(pythonInt('0o17', 8)).toBe(15);
    expect(pythonInt('1_7', 8)).toBe(15);
    expect(pythonInt('+17', 8)).toBe(15);
    expect(pythonInt('1 7', 8)).toBeUndefined();
    expect(pythonInt('18', 8)).toBeUndefined();
    expect(pythonInt('_17', 8)).toBeUndefined();
  });

  it('refuses a header whose mode field tarfile cannot read', () => {
    const h = new Uint8Array(tarHeaderBlock('a', 0, '0'));
    expect(parseTarHeader(h)).toMatchObject({ name: 'a' });
    h.set(bytes('12x4567'), 100);
    // Fix the checksum so only the mode field is wrong.
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const c of h) sum += c;
    h.set(bytes(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    expect(parseTarHeader(h)).toBeUndefined();
  });
});
