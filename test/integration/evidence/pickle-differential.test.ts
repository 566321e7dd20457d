// Differential tests against the consumers themselves: CPython's C unpickler (pickle.load, as
// torch.load, numpy and joblib run it) and numpy's .npy header reader. Every generated stream goes
// to ONE batched Python process (pickle_oracle.py) that loads it with find_class and
// persistent_load overridden to record and never run anything. The contract checked, per stream:
//   - CPython reaches an import (find_class) or calls what persistent_load returned
//       => modelgate says pickle with code (or undecided, which fails closed);
//   - CPython loads the stream => modelgate says pickle (or undecided);
//   - CPython calls persistent_load => modelgate reports where (persistentLoadAt);
//   - an import modelgate calls hopeless (no finder can resolve the module) really raises.
// and for NumPy: modelgate never says "numpy without objects" for a header numpy reads as an object
// dtype. Streams that CPython rejects may be judged anything but "loads": the walk over-approximates.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { sniffNumpy } from '../../../src/evidence/formats/numpy.ts';
import { type PickleVerdict, walkPickle } from '../../../src/evidence/formats/pickle.ts';
import {
  classicStream,
  craftedStream,
  dataFile,
  MemorySource,
  mutations,
  npyHeader,
  objectSpec,
} from './pickle-cases.ts';
import { evidencePython } from './python.ts';

const ORACLE = fileURLToPath(new URL('./pickle_oracle.py', import.meta.url));
const SEED = Number(process.env.FC_SEED ?? Date.now() % 1_000_000);

interface Judged {
  o: 'loaded' | 'import' | 'call' | 'error';
  e?: string;
  p: boolean;
  importable?: boolean;
  importRaised?: boolean;
  b?: Judged;
}

let py: string;

/** Sends one request to the oracle and returns its lines, parsed. */
function oracle<T>(request: unknown): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [ORACLE], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pickle_oracle.py exited ${code}: ${Buffer.concat(err)}`));
      const text = Buffer.concat(out).toString().trim();
      resolve(text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as T));
    });
    child.stdin.end(JSON.stringify(request));
  });
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const show = (b: Uint8Array) => JSON.stringify(Buffer.from(b.subarray(0, 120)).toString('latin1'));

beforeAll(async () => {
  py = await evidencePython();
}, 900_000);

describe(`pickle walk against CPython (seed ${SEED})`, () => {
  it('agrees on reaching code and on loading, over at least 10,000 generated streams', async () => {
    const objects = fc.sample(fc.tuple(fc.integer({ min: 0, max: 5 }), objectSpec), {
      numRuns: 2500,
      seed: SEED,
    });
    const dumps = (await oracle<string>({ mode: 'dump', objects })).map(
      (s) => new Uint8Array(Buffer.from(s, 'base64')),
    );
    const cases: Uint8Array[] = [
      ...dumps,
      ...fc.sample(craftedStream, { numRuns: 5000, seed: SEED + 1 }),
      ...fc.sample(classicStream, { numRuns: 300, seed: SEED + 2 }),
      ...fc.sample(dataFile, { numRuns: 1500, seed: SEED + 3 }),
      ...dumps.slice(0, 1000).flatMap((d, i) => fc.sample(mutations(d), { numRuns: 2, seed: SEED + 10 + i })),
    ];
    expect(cases.length).toBeGreaterThanOrEqual(10_000);
    const judged = await oracle<Judged>({ mode: 'judge', cases: cases.map(b64) });
    expect(judged).toHaveLength(cases.length);

    const failures: string[] = [];
    const tally = new Map<string, number>();
    for (const [i, bytes] of cases.entries()) {
      // Alternate a known size with an unknown one, and a head of 0 or 64 bytes, to exercise ranged reads.
      const v: PickleVerdict = await walkPickle(
        new MemorySource(bytes, i % 2 === 0),
        bytes.subarray(0, i % 3 ? 64 : 0),
      );
      const j = judged[i]!;
      const key = `${j.o}${j.o === 'import' && !j.importable ? ' (no such module)' : ''} -> ${v.kind}${v.kind === 'pickle' && v.code ? ' with code' : ''}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      // Plain BytesIO (no peek, as torch.load reads data.pkl) and a buffered file (with peek).
      for (const r of [j, j.b!]) {
        let why: string | undefined;
        if (r.o === 'import' && !r.importable && !r.importRaised)
          why = 'an import modelgate calls hopeless succeeded';
        else if (v.kind === 'undecided') continue;
        else if (((r.o === 'import' && r.importable) || r.o === 'call') && !(v.kind === 'pickle' && v.code)) {
          why = `CPython reaches code (${r.o}) but modelgate says ${v.kind}`;
        } else if (r.o === 'loaded' && v.kind !== 'pickle')
          why = `CPython loads it but modelgate says ${v.kind}`;
        else if (r.p && v.persistentLoadAt === undefined && !(v.kind === 'pickle' && v.code)) {
          why = 'CPython calls persistent_load but modelgate does not say so';
        }
        if (why) failures.push(`${why}: ${show(bytes)} -> ${v.evidence}`);
      }
    }
    console.log(`pickle differential, ${cases.length} streams:`, Object.fromEntries([...tally].sort()));
    expect(failures.slice(0, 10)).toEqual([]);
  }, 600_000);
});

describe(`NumPy header reader against numpy (seed ${SEED})`, () => {
  it('never says "numpy without objects" for a header numpy reads as an object dtype', async () => {
    const cases = fc.sample(npyHeader, { numRuns: 5000, seed: SEED });
    const judged = await oracle<{ o: 'object' | 'plain' | 'error' }>({ mode: 'npy', cases: cases.map(b64) });
    const failures: string[] = [];
    const tally = new Map<string, number>();
    for (const [i, bytes] of cases.entries()) {
      const v = sniffNumpy(bytes);
      const mine = v === undefined ? 'none' : v.objectArray ? (v.parsed ? 'object' : 'fail closed') : 'plain';
      const theirs = judged[i]!.o;
      tally.set(`${theirs} -> ${mine}`, (tally.get(`${theirs} -> ${mine}`) ?? 0) + 1);
      if (mine === 'none' || (mine === 'plain' && theirs === 'object')) {
        failures.push(`numpy reads ${theirs}, modelgate says ${mine}: ${show(bytes.subarray(10))}`);
      }
    }
    console.log(`numpy differential, ${cases.length} headers:`, Object.fromEntries([...tally].sort()));
    expect(failures.slice(0, 10)).toEqual([]);
    // Headers numpy reads as plain arrays are (nearly all) admitted, not refused for want of parsing.
    const plain = [...tally].filter(([k]) => k.startsWith('plain')).reduce((n, [, c]) => n + c, 0);
    expect((tally.get('plain -> plain') ?? 0) / Math.max(1, plain)).toBeGreaterThan(0.9);
  }, 300_000);
});
