// Differential test of the zip and tar readers against CPython's zipfile and tarfile: thousands of
// generated archives (duplicate and hidden end records, comments, prepended data, zip64, local headers
// that disagree with the directory, odd typeflags, long names, PAX records, gzip, flipped bytes) are
// read by modelgate and by ONE batched Python process. Whenever modelgate returns a complete,
// unambiguous listing, every member Python would open must appear with the same name and the same
// first bytes (or be marked uninspectable, which callers refuse).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compressionOf, decompressed } from '../../../src/evidence/formats/compress.ts';
import {
  type ArchiveListing,
  type ByteSource,
  MemorySource,
  ReadBudget,
  ReadBudgetExceeded,
} from '../../../src/evidence/formats/source.ts';
import { listTar } from '../../../src/evidence/formats/tar.ts';
import { listZip } from '../../../src/evidence/formats/zip.ts';
import { toolPath } from '../../support/tools.ts';
import {
  buildTar,
  buildZip,
  bytes,
  concat,
  eocdRecord,
  type TEntry,
  tarHeaderBlock,
  type ZEntry,
} from '../../unit/evidence/formats/archives.ts';
import { evidencePython } from './python.ts';

const run = promisify(execFile);
const ORACLE = fileURLToPath(new URL('./containers_oracle.py', import.meta.url));
const MAKE = fileURLToPath(new URL('./containers_make.py', import.meta.url));
const CASES = Number(process.env.MODELGATE_DIFF_CASES ?? 10_000);
const SEED = Number(process.env.MODELGATE_DIFF_SEED ?? Date.now() % 2 ** 31);
/** Archives written by CPython's zipfile and tarfile, per kind. */
const MADE = Math.max(200, Math.floor(CASES / 5));
const HEAD = 64;
const PICKLE = bytes('\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93.');

// ---- generators --------------------------------------------------------------------------------

const names = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('a.txt', 'archive/data.pkl', 'data.pkl', 'm/x.bin', 'dir/', 'é.bin', 'A.txt'),
  },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.nat({ max: 150 }).map((n) => `${'d/'.repeat(n)}deep.pkl`) },
);
const payload = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.constant(PICKLE) },
  { weight: 1, arbitrary: fc.nat({ max: 3000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 7) & 0xff)) },
);

/** `arb` once in `oneIn` cases, else undefined. */
function sometimes<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; bytes: Uint8Array };

const mutations = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    },
  ),
  { maxLength: 3 },
);

function mutate(b: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let out = b;
  for (const m of ms) {
    if (m.kind === 'flip' && out.length > 0) {
      out = new Uint8Array(out);
      out[m.at % out.length] = m.value;
    } else if (m.kind === 'truncate' && out.length > 0) {
      out = out.subarray(0, m.keep % out.length);
    } else if (m.kind === 'append') {
      out = concat(out, m.bytes);
    }
  }
  return out;
}

const zipEntry: fc.Arbitrary<ZEntry> = fc
  .record(
    {
      name: names,
      data: payload,
      method: fc.constantFrom(0, 0, 8, 8, 8, 12),
      flags: fc.constantFrom(0, 0, 0, 0x800, 0x8, 0x1),
      local: sometimes(
        fc.record(
          {
            name: names,
            method: fc.constantFrom(0, 8),
            size: fc.nat({ max: 300 }),
            compressedSize: fc.nat({ max: 300 }),
          },
          { requiredKeys: [] },
        ),
        6,
      ),
      headerOffset: sometimes(fc.nat({ max: 400 }), 10),
    },
    { requiredKeys: ['name', 'data', 'method', 'flags'] },
  )
  .map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as ZEntry);

const zipCase = fc
  .record({
    entries: fc.array(zipEntry, { maxLength: 4 }),
    prefix: sometimes(
      fc.oneof(
        fc.uint8Array({ maxLength: 100 }),
        fc.constant(buildZip([{ name: 'decoy.pkl', data: PICKLE }])),
      ),
      4,
    ),
    comment: sometimes(
      fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc
          .tuple(fc.nat({ max: 4 }), fc.nat({ max: 200 }), fc.nat({ max: 200 }))
          .map(([n, s, o]) => eocdRecord(n, s, o)),
      ),
      4,
    ),
    zip64: fc.boolean(),
    count: sometimes(fc.nat({ max: 5 }), 10),
    cdOffset: sometimes(fc.nat({ max: 400 }), 10),
    tailEocd: sometimes(fc.tuple(fc.nat({ max: 4 }), fc.nat({ max: 300 }), fc.nat({ max: 300 })), 8),
    mutations: sometimes(mutations, 3),
  })
  .map((c) => {
    let z = buildZip(c.entries, {
      ...(c.prefix === undefined ? {} : { prefix: c.prefix }),
      ...(c.comment === undefined ? {} : { comment: c.comment }),
      zip64: c.zip64,
      ...(c.count === undefined ? {} : { entries: c.count }),
      ...(c.cdOffset === undefined ? {} : { cdOffset: c.cdOffset }),
    });
    if (c.tailEocd) z = concat(z, eocdRecord(...c.tailEocd));
    return c.mutations ? mutate(z, c.mutations) : z;
  });

const tarTypes = fc.constantFrom(
  '0',
  '0',
  '0',
  '\0',
  '7',
  '1',
  '2',
  '5',
  '3',
  '6',
  'V',
  'Z',
  'N',
  'M',
  'D',
  'S',
  'X',
);
const tarEntry: fc.Arbitrary<TEntry> = fc
  .record(
    {
      name: names,
      data: payload,
      type: tarTypes,
      link: sometimes(names, 3),
      size: sometimes(fc.nat({ max: 1500 }), 8),
      pax: sometimes(
        fc.record(
          {
            path: names,
            size: fc.oneof(fc.nat({ max: 400 }).map(String), fc.constantFrom('x', ' 5', '1_0', '-1')),
          },
          { requiredKeys: [] },
        ),
        5,
      ),
      longName: sometimes(names, 6),
      badChecksum: sometimes(fc.constant(true), 30),
      ustar: sometimes(fc.boolean(), 5),
      prefix: sometimes(fc.constantFrom('p', 'pre/fix', 'é'), 8),
    },
    { requiredKeys: ['name', 'data', 'type'] },
  )
  .map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as TEntry);

const tarCase = fc
  .record({
    entries: fc.array(tarEntry, { maxLength: 5 }),
    end: fc.constantFrom('two', 'two', 'none', 'lone'),
    global: sometimes(fc.constantFrom('path', 'size', 'comment'), 12),
    gzip: sometimes(fc.constant(true), 6),
    mutations: sometimes(mutations, 3),
  })
  .map((c) => {
    let t = buildTar(c.entries, { end: c.end === 'two' });
    if (c.end === 'lone') t = concat(t, new Uint8Array(512), buildTar([{ name: 'after.pkl', data: PICKLE }]));
    if (c.global) {
      const rec = bytes(
        c.global === 'path' ? '16 path=evil.pk\n' : c.global === 'size' ? '11 size=10\n' : '14 comment=hi\n',
      );
      t = concat(tarHeaderBlock('g', rec.length, 'g'), rec, new Uint8Array(512 - rec.length), t);
    }
    if (c.mutations) t = mutate(t, c.mutations);
    return c.gzip ? new Uint8Array(gzipSync(t)) : t;
  });

// ---- both readers ------------------------------------------------------------------------------

interface PyResult {
  ok: boolean;
  error?: string;
  members: [string, string | null][];
}

async function oracle(kind: 'z' | 't', archives: readonly Uint8Array[], dir: string): Promise<PyResult[]> {
  const frames: Uint8Array[] = [];
  for (const a of archives) {
    const h = Buffer.alloc(5);
    h.write(kind, 0, 'latin1');
    h.writeUInt32BE(a.length, 1);
    frames.push(h, a);
  }
  const input = join(dir, `${kind}.bin`);
  const output = join(dir, `${kind}.jsonl`);
  await writeFile(input, concat(...frames));
  await run(await evidencePython(), [ORACLE, input, output], { timeout: 300_000 });
  const lines = (await readFile(output, 'utf8')).split('\n').filter((l) => l.length > 0);
  return lines.map((l) => JSON.parse(l) as PyResult);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function ours(kind: 'z' | 't', archive: Uint8Array): Promise<ArchiveListing | 'budget'> {
  const budget = new ReadBudget(64 * 1024 * 1024);
  let src: ByteSource = new MemorySource(archive, budget, true);
  let head = archive.subarray(0, 4096);
  try {
    if (kind === 'z') return await listZip(src, head);
    if (compressionOf(head) === 'gzip') {
      src = decompressed(src, 'gzip', { maxOutputBytes: 1 << 26 })!;
      head = await src.read(0, 4096);
    }
    return await listTar(src, head);
  } catch (err) {
    if (err instanceof ReadBudgetExceeded) return 'budget';
    throw err;
  }
}

interface Tally {
  cases: number;
  pythonOpened: number;
  trusted: number;
  ambiguous: number;
  incomplete: number;
  membersCompared: number;
  /** Reasons for refusing archives Python would load members of. */
  refusedLoadable: Record<string, number>;
}

/** Disagreements where modelgate says complete and unambiguous; also fills the tally. */
async function compare(
  kind: 'z' | 't',
  archives: readonly Uint8Array[],
  py: readonly PyResult[],
  tally: Tally,
) {
  const failures: { archive: string; python: PyResult; ours: unknown; why: string }[] = [];
  for (let i = 0; i < archives.length; i++) {
    const a = archives[i]!;
    const p = py[i]!;
    tally.cases++;
    if (p.ok) tally.pythonOpened++;
    const l = await ours(kind, a);
    if (l === 'budget') continue;
    if (l.ambiguous !== undefined) tally.ambiguous++;
    if (!l.complete || l.ambiguous !== undefined) {
      if (l.ambiguous === undefined) tally.incomplete++;
      // Python loads something we refuse: not a hole (we fail closed) but a cost; counted by reason.
      if (p.ok && p.members.some(([, h]) => h !== null)) {
        const why = (l.ambiguous ?? l.problem ?? '?')
          .replace(/(zip entry|tar member|named|entries) .*?(: | has | runs | overlaps|$)/, '$1 E$2')
          .replace(/\d+/g, 'N')
          .slice(0, 70);
        if (
          l.problem?.startsWith('no valid tar header') &&
          p.members.length > l.members.length &&
          debugShown++ < 3
        ) {
          console.log(
            'python read past our invalid header',
            hex(a.subarray(0, 4096)),
            JSON.stringify(p),
            l.members.map((m) => m.name),
          );
        }
        tally.refusedLoadable[why] = (tally.refusedLoadable[why] ?? 0) + 1;
      }
      continue;
    }
    tally.trusted++;
    for (const [name, head] of p.members) {
      if (head === null) continue;
      tally.membersCompared++;
      const mine = l.members.filter((m) => m.name === name && m.link === undefined);
      if (mine.length === 0) {
        failures.push({
          archive: hex(a),
          python: p,
          ours: l.members.map((m) => m.name),
          why: `missing ${JSON.stringify(name)}`,
        });
        continue;
      }
      let matched = false;
      for (const m of mine) {
        if (m.uninspectable !== undefined) {
          matched = true; // callers refuse it
          break;
        }
        try {
          if (hex(await m.source.read(0, HEAD)) === head) matched = true;
        } catch (err) {
          if (err instanceof ReadBudgetExceeded)
            matched = true; // not inspected: refused
          else throw err;
        }
        if (matched) break;
      }
      if (!matched) {
        const heads = await Promise.all(mine.map(async (m) => hex(await m.source.read(0, HEAD))));
        failures.push({
          archive: hex(a),
          python: p,
          ours: heads,
          why: `head of ${JSON.stringify(name)} differs`,
        });
      }
    }
  }
  // Set MODELGATE_DIFF_DUMP to a path to keep the disagreements for a closer look.
  if (failures.length > 0 && process.env.MODELGATE_DIFF_DUMP) {
    await writeFile(process.env.MODELGATE_DIFF_DUMP, JSON.stringify(failures));
  }
  return failures;
}

let debugShown = 0;

function newTally(): Tally {
  return {
    cases: 0,
    pythonOpened: 0,
    trusted: 0,
    ambiguous: 0,
    incomplete: 0,
    membersCompared: 0,
    refusedLoadable: {},
  };
}

// ---- the tests ---------------------------------------------------------------------------------

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`containers against CPython (seed ${SEED}, ${CASES} cases per reader)`, () => {
  for (const [kind, arb, label] of [
    ['z', zipCase, 'zipfile'],
    ['t', tarCase, 'tarfile'],
  ] as const) {
    it(`agrees with ${label} whenever the listing is complete and unambiguous`, async () => {
      dir ??= await mkdtemp(join(tmpdir(), 'mg-containers-diff-'));
      const archives = fc.sample(arb as fc.Arbitrary<Uint8Array>, {
        numRuns: CASES,
        seed: SEED + (kind === 'z' ? 0 : 1),
      });
      const py = await oracle(kind, archives, dir);
      expect(py).toHaveLength(archives.length);
      const tally = newTally();
      const failures = await compare(kind, archives, py, tally);
      console.log(`${label}: ${JSON.stringify(tally, null, 1)}`);
      expect(failures.slice(0, 3)).toEqual([]);
      // The generator must reach the interesting cases, or the test proves little.
      expect(tally.trusted).toBeGreaterThan(CASES / 5);
      expect(tally.ambiguous).toBeGreaterThan(CASES / 50);
      expect(tally.membersCompared).toBeGreaterThan(CASES / 5);
    }, 900_000);
  }
});

/** The framed records containers_make.py writes. */
function unframe(b: Uint8Array): { kind: 'z' | 't'; data: Uint8Array }[] {
  const out: { kind: 'z' | 't'; data: Uint8Array }[] = [];
  const view = Buffer.from(b.buffer, b.byteOffset, b.length);
  let pos = 0;
  while (pos < b.length) {
    const kind = String.fromCharCode(b[pos]!) as 'z' | 't';
    const len = view.readUInt32BE(pos + 1);
    out.push({ kind, data: b.subarray(pos + 5, pos + 5 + len) });
    pos += 5 + len;
  }
  return out;
}

let made: Promise<{ kind: 'z' | 't'; data: Uint8Array }[]> | undefined;

/** The archives containers_make.py writes (once per run). */
function madeByPython(): Promise<{ kind: 'z' | 't'; data: Uint8Array }[]> {
  made ??= (async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'mg-containers-diff-'));
    const out = join(dir, 'made.bin');
    await run(await evidencePython(), [MAKE, out, String(MADE), String(SEED)], { timeout: 300_000 });
    return unframe(new Uint8Array(await readFile(out)));
  })();
  return made;
}

describe(`archives written by CPython (seed ${SEED}, ${MADE} per kind), as written and mutated`, () => {
  it('lists every archive zipfile and tarfile write, completely and unambiguously, as Python reads it', async () => {
    const made = await madeByPython();
    for (const kind of ['z', 't'] as const) {
      const archives = made.filter((m) => m.kind === kind).map((m) => m.data);
      const py = await oracle(kind, archives, dir!);
      const tally = newTally();
      const failures = await compare(kind, archives, py, tally);
      console.log(`as written (${kind}): ${JSON.stringify(tally)}`);
      expect(failures.slice(0, 3)).toEqual([]);
      // What Python writes, modelgate must read: no refusal of well-formed archives.
      expect(tally.refusedLoadable).toEqual({});
      expect(tally.membersCompared).toBeGreaterThan(archives.length);
    }
  }, 900_000);

  it('agrees on the mutated ones whenever the listing is complete and unambiguous', async () => {
    const made = await madeByPython();
    const muts = fc.sample(mutations, { numRuns: made.length, seed: SEED + 2 });
    for (const kind of ['z', 't'] as const) {
      const archives = made.flatMap((m, i) => (m.kind === kind ? [mutate(m.data, muts[i]!)] : []));
      const py = await oracle(kind, archives, dir!);
      const tally = newTally();
      const failures = await compare(kind, archives, py, tally);
      console.log(
        `mutated (${kind}): ${JSON.stringify({ ...tally, refusedLoadable: Object.keys(tally.refusedLoadable).length })}`,
      );
      expect(failures.slice(0, 3)).toEqual([]);
    }
  }, 900_000);
});

// ---- Go's archive/tar (oras, containerd) -----------------------------------------------------

interface GoResult {
  ok: boolean;
  error?: string;
  /** [name as hex, typeflag, head as hex or null (not a regular file)] */
  members: [string, string, string | null][];
}

async function goOracle(archives: readonly Uint8Array[], dir: string): Promise<GoResult[]> {
  const frames: Uint8Array[] = [];
  for (const a of archives) {
    const h = Buffer.alloc(5);
    h.write('t', 0, 'latin1');
    h.writeUInt32BE(a.length, 1);
    frames.push(h, a);
  }
  const input = join(dir, 'go.bin');
  const output = join(dir, 'go.jsonl');
  await writeFile(input, concat(...frames));
  await run(await toolPath('tar-decode'), [input, output], { timeout: 300_000 });
  const lines = (await readFile(output, 'utf8')).split('\n').filter((l) => l.length > 0);
  return lines.map((l) => JSON.parse(l) as GoResult);
}

/** The bytes of a name decoded with surrogateescape (as tar.ts decodes them): Go's names are bytes. */
function nameBytes(name: string): string {
  const out: number[] = [];
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xdc80 && c <= 0xdcff) out.push(c - 0xdc00);
    else out.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(out).toString('hex');
}

/** Where modelgate's listing is complete and unambiguous, every regular file Go extracts is in it. */
async function compareGo(archives: readonly Uint8Array[], go: readonly GoResult[], tally: Tally) {
  const failures: { archive: string; go: GoResult; ours: unknown; why: string }[] = [];
  for (let i = 0; i < archives.length; i++) {
    const a = archives[i]!;
    const g = go[i]!;
    tally.cases++;
    if (g.ok) tally.pythonOpened++;
    const l = await ours('t', a);
    if (l === 'budget' || !l.complete || l.ambiguous !== undefined) continue;
    tally.trusted++;
    for (const [nameHex, , head] of g.members) {
      if (head === null) continue;
      tally.membersCompared++;
      const mine = l.members.filter((m) => nameBytes(m.name) === nameHex && m.link === undefined);
      let matched = false;
      for (const m of mine) {
        if (m.uninspectable !== undefined || hex(await m.source.read(0, HEAD)) === head) matched = true;
      }
      if (!matched) {
        failures.push({
          archive: hex(a),
          go: g,
          ours: l.members.map((m) => m.name),
          why: `Go's ${Buffer.from(nameHex, 'hex').toString()}`,
        });
      }
    }
  }
  if (failures.length > 0 && process.env.MODELGATE_DIFF_DUMP) {
    await writeFile(process.env.MODELGATE_DIFF_DUMP, JSON.stringify(failures));
  }
  return failures;
}

describe(`tar against Go's archive/tar (seed ${SEED}, ${CASES} cases)`, () => {
  it('lists every regular file Go extracts whenever the listing is complete and unambiguous', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'mg-containers-diff-'));
    const generated = fc.sample(tarCase, { numRuns: CASES, seed: SEED + 1 });
    const written = (await madeByPython()).filter((m) => m.kind === 't').map((m) => m.data);
    const archives = [...generated, ...written];
    const go = await goOracle(archives, dir);
    expect(go).toHaveLength(archives.length);
    const tally = newTally();
    const failures = await compareGo(archives, go, tally);
    console.log(`archive/tar: ${JSON.stringify({ ...tally, refusedLoadable: undefined })}`);
    expect(failures.slice(0, 3)).toEqual([]);
    expect(tally.membersCompared).toBeGreaterThan(CASES / 10);
  }, 900_000);
});
