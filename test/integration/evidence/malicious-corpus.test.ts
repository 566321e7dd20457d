// The sample classes of the public malicious-model corpora (picklescan's tests and advisories,
// modelscan's, fickling's and modelaudit's test models), rebuilt by make_corpus.py with the producers
// their authors used, each pushed to a real registry with oras and signed with the real cosign, then
// judged as `modelgate verify --json` judges it (the CLI's pipeline in this process for all ~300
// artifacts, the CLI process itself for every 10th sample, which must agree) under a key policy with NO
// formats section (the fail-closed default) in every guise an attacker would use:
//   - its own name (oras' default layer media type);
//   - renamed model.safetensors, as a ModelPack raw weight layer whose model config says safetensors;
//   - renamed pytorch_model.bin;
//   - inside a KitOps model tar layer (the ModelKit `kit pack` would make of it).
// Every sample must be refused, in every guise, with FORMAT_DENIED and nothing else (a container two
// consumers read differently may instead be ARTIFACT_AMBIGUOUS): the signature is valid, so the format
// rule is all that stands between the sample and a pod.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFromFlags, verifierFrom } from '../../../src/cli/setup.ts';
import { toJson } from '../../../src/cli/verify.ts';
import { runCli } from '../../support/cli.ts';
import { Oras } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { signedPolicy, writePolicies } from '../../support/signed-models.ts';
import { toolPath } from '../../support/tools.ts';
import { Cosign } from '../verify/signers.ts';
import { kitManifest, MODELPACK, modelPackManifest, pushManifest } from './layouts.ts';
import { python } from './python.ts';

const run = promisify(execFile);
const MAKE = fileURLToPath(new URL('./make_corpus.py', import.meta.url));

interface Sample {
  readonly id: string;
  readonly file: string;
  readonly source: string;
  readonly what: string;
  /** A container that two consumers read differently (may be refused as ARTIFACT_AMBIGUOUS). */
  readonly ambiguous?: boolean;
}

/** `ALLOWED`, or the distinct reason codes of a refusal joined by commas. */
type Verdict = string;

function verdictOf(json: { allowed: boolean; reasons: readonly { code: string }[] }): Verdict {
  return json.allowed ? 'ALLOWED' : [...new Set(json.reasons.map((r) => r.code))].join(',');
}

const GUISES = [
  'own name',
  'model.safetensors (ModelPack weight)',
  'pytorch_model.bin',
  'KitOps tar layer',
] as const;
type Guise = (typeof GUISES)[number];

/** Runs `fn` over `items`, at most `limit` at a time (the machine has 2 cores). */
async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// The CLI processes below: Node's compile cache (a cache of compiled code keyed by source hash, outside the
// checkout) nearly halves each one's start-up. It changes no behaviour.
const compileCache = process.env.NODE_COMPILE_CACHE;
process.env.NODE_COMPILE_CACHE ??= join(
  process.env.MODELGATE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'modelgate'),
  'node-compile-cache',
);

// The corpus is generated once per run; it.each needs the list before the registry starts.
const corpusDir = await mkdtemp(join(tmpdir(), 'mg-corpus-'));
const SAMPLES = JSON.parse(await python(MAKE, [corpusDir])) as Sample[];

describe('public malicious corpora under the default formats rule', () => {
  let reg: TestRegistry;
  let oras: Oras;
  let cosign: Cosign;
  let policyFile: string;
  const refs = new Map<string, string>();

  const sampleBytes = async (s: Sample, name = s.file) =>
    new Uint8Array(await readFile(join(corpusDir, s.id, name)));

  async function push(s: Sample, guise: Guise, i: number): Promise<string> {
    const repo = `corpus/${s.id}`;
    const tag = `g${i}`;
    const content = await sampleBytes(s);
    switch (guise) {
      case 'own name':
        return (await oras.push(`${repo}:${tag}`, [{ name: s.file, content }])).reference;
      case 'pytorch_model.bin':
        return (await oras.push(`${repo}:${tag}`, [{ name: 'pytorch_model.bin', content }])).reference;
      case 'model.safetensors (ModelPack weight)':
        return (
          await pushManifest(
            oras,
            reg.host,
            `${repo}:${tag}`,
            modelPackManifest([{ path: 'model.safetensors', mediaType: MODELPACK.weightRaw, content }]),
          )
        ).reference;
      case 'KitOps tar layer':
        return (
          await pushManifest(
            oras,
            reg.host,
            `${repo}:${tag}`,
            kitManifest(s.id, [{ path: s.file, kind: 'model', tar: await sampleBytes(s, 'kit.tar') }]),
          )
        ).reference;
    }
  }

  beforeAll(async () => {
    reg = await startRegistry('ggcr');
    oras = new Oras({ host: reg.host });
    cosign = await Cosign.create();
    const { key, pem } = await cosign.generateKeyPair('release');
    policyFile = await writePolicies(cosign.dir, [signedPolicy(reg.host, pem)]);
    const jobs = SAMPLES.flatMap((s) => GUISES.map((g, i) => ({ s, g, i })));
    const pushed = await pool(jobs, 4, async ({ s, g, i }) => {
      const ref = await push(s, g, i);
      refs.set(`${s.id}|${g}`, ref);
      return ref;
    });
    // One cosign process signs many references (its sign command takes several): the same v3 bundle
    // referrer per manifest as one call each, without a process start per artifact.
    const bin = await toolPath('cosign');
    for (let i = 0; i < pushed.length; i += 50) {
      await run(
        bin,
        [
          'sign',
          '--key',
          key,
          '--use-signing-config=false',
          '--tlog-upload=false',
          '--allow-http-registry',
          '--yes',
          ...pushed.slice(i, i + 50),
        ],
        {
          cwd: cosign.dir,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: cosign.dir,
            DOCKER_CONFIG: join(cosign.dir, 'docker'),
            TUF_ROOT: join(cosign.dir, 'tuf'),
            COSIGN_PASSWORD: '',
          },
          maxBuffer: 16 * 1024 * 1024,
          timeout: 300_000,
        },
      );
    }
  }, 600_000);

  afterAll(async () => {
    await oras?.close();
    await cosign?.close();
    await reg?.stop();
    await rm(corpusDir, { recursive: true, force: true });
    if (compileCache === undefined) delete process.env.NODE_COMPILE_CACHE;
  });

  it('rebuilt every class (picklescan, modelscan, fickling, modelaudit, issue 10)', () => {
    const sources = SAMPLES.map((s) => s.source).join('\n');
    for (const corpus of ['picklescan', 'modelscan', 'fickling', 'modelaudit', 'issue 10'])
      expect(sources).toContain(corpus);
    expect(new Set(SAMPLES.map((s) => s.id)).size).toBe(SAMPLES.length);
  });

  /**
   * One artifact judged as `modelgate verify REF --json` judges it: the CLI's own pipeline, engine and
   * JSON (src/cli/setup.ts, src/cli/verify.ts), fresh per artifact as a new process would be, without
   * ~300 process starts. The CLI itself is run on a slice of the corpus below and must agree.
   */
  async function verifyInProcess(ref: string): Promise<Verdict> {
    const flags = { policyFile: [policyFile], insecureRegistry: [reg.host], deadlineMs: '30000' };
    const registry = verifierFrom(flags);
    try {
      return verdictOf(
        toJson(await engineFromFlags(flags, registry.verifier).verifyReference(ref, 'default')),
      );
    } finally {
      await registry.close();
    }
  }

  async function verifyCli(ref: string): Promise<Verdict> {
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      policyFile,
      '--insecure-registry',
      reg.host,
      '--json',
    ]);
    if (r.code !== 0 && r.code !== 1) return `exit ${r.code}: ${r.stderr.slice(0, 300)}`;
    const out = verdictOf(JSON.parse(r.stdout));
    return (r.code === 0) === (out === 'ALLOWED') ? out : `exit ${r.code} but ${out}`;
  }

  /** Each guise's verdict (one object, so a failure lists every guise that got through). */
  const judge = async (s: Sample, how: (ref: string) => Promise<Verdict>) =>
    Object.fromEntries(
      await pool(GUISES, 2, async (g) => [g, await how(refs.get(`${s.id}|${g}`)!)] as const),
    );

  /** What each sample must get: FORMAT_DENIED; containers two consumers read differently may get ARTIFACT_AMBIGUOUS. */
  const expected = (s: Sample) =>
    Object.fromEntries(
      GUISES.map((g) => [
        g,
        s.ambiguous ? expect.stringMatching(/^(FORMAT_DENIED|ARTIFACT_AMBIGUOUS)$/) : 'FORMAT_DENIED',
      ]),
    );

  it.each(SAMPLES.map((s) => [s.id, s] as const))(
    '%s is refused with FORMAT_DENIED in every guise',
    async (_, s) => {
      expect(await judge(s, verifyInProcess)).toEqual(expected(s));
    },
  );

  // The real CLI process on every 10th sample, in every guise: the same verdicts.
  it.each(SAMPLES.filter((_, i) => i % 10 === 0).map((s) => [s.id, s] as const))(
    'modelgate verify --json (the process) refuses %s the same way',
    async (_, s) => {
      expect(await judge(s, verifyCli)).toEqual(await judge(s, verifyInProcess));
    },
  );
});
