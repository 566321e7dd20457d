// Real model packagers' artifacts through the real CLI: a safe model (safetensors by Hugging Face's
// writer, config.json, tokenizer.json, README.md, LICENSE) packaged as users package it, signed with
// the real cosign, is ADMITTED by `modelgate verify` under a key policy with no `formats` section (the
// fail-closed default), and the same artifact with one file replaced by a pickle is refused with
// FORMAT_DENIED. Against both registries: go-containerregistry's (referrers API) and distribution 2.8
// (tag fallback).
//
// Producers: Docker's model packager (model-distribution's builder, the code of `docker model package`,
// built from the Go module proxy), the seed article's `oras push` layout, and the layouts of `kit pack`
// (plain and --compression gzip), `modctl build` and Ollama, assembled from their sources' media types
// and pushed with oras: KitOps and modctl are not served by the Go module proxy, Ollama is not needed.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { Oras } from '../../support/oras.ts';
import { type RegistryKind, startRegistry, type TestRegistry } from '../../support/registries.ts';
import { signedPolicy, writePolicies } from '../../support/signed-models.ts';
import { toolPath } from '../../support/tools.ts';
import { Cosign } from '../verify/signers.ts';
import { libraryBom } from './boms.ts';
import {
  type KitEntry,
  kitManifest,
  MODELPACK,
  modelPackManifest,
  ollamaManifest,
  type PackFile,
  pushManifest,
} from './layouts.ts';
import { python } from './python.ts';

const run = promisify(execFile);
const MAKE = fileURLToPath(new URL('./make_producers.py', import.meta.url));
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const CDX = 'application/vnd.cyclonedx+json';
const FILES = ['model.safetensors', 'config.json', 'tokenizer.json', 'README.md', 'LICENSE'] as const;

let dir: string;
const bytes = async (path: string) => new Uint8Array(await readFile(join(dir, path)));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-producers-'));
  await python(MAKE, [dir]);
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Case {
  /** The artifact made of the safe model. */
  readonly safe: string;
  /** The same artifact with model.safetensors (Ollama: the GGUF model layer) replaced by a pickle. */
  readonly pickled: string;
}

const PRODUCERS = [
  'docker model package',
  'KitOps ModelKit, kit pack layout',
  'KitOps ModelKit, kit pack --compression gzip layout',
  'ModelPack, modctl build layout',
  'ModelPack raw weights, kit pack --use-model-pack layout',
  'oras push (seed layout)',
  'Ollama manifest',
] as const;
type Producer = (typeof PRODUCERS)[number];

describe.each(['ggcr', 'distribution'] as RegistryKind[])('real producers on %s', (kind) => {
  let reg: TestRegistry;
  let oras: Oras;
  let cosign: Cosign;
  let policyFile: string;
  let key: string;
  const cases = new Map<Producer, Case>();

  const verify = async (ref: string) => {
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      policyFile,
      '--insecure-registry',
      reg.host,
      '--json',
    ]);
    if (r.code !== 0 && r.code !== 1) throw new Error(`modelgate verify exited ${r.code}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { allowed: boolean; reasons: { code: string; message: string }[] };
    return { exit: r.code, ...out, codes: [...new Set(out.reasons.map((x) => x.code))] };
  };

  /** Docker's packager reads a directory and pushes by itself; the digest comes from the tag. */
  async function dockerModel(src: string, repo: string): Promise<string> {
    const bin = await toolPath('docker-model');
    await run(
      bin,
      ['package', join(dir, src), '--tag', `${reg.host}/${repo}:v1`, '--license', join(dir, src, 'LICENSE')],
      {
        env: { ...process.env, INSECURE_REGISTRY: 'true' },
        timeout: 120_000,
      },
    );
    const digest = (await oras.run(['resolve', `${reg.host}/${repo}:v1`])).trim();
    return `${reg.host}/${repo}@${digest}`;
  }

  async function kit(repo: string, pickled: boolean, gzip: boolean): Promise<string> {
    const ext = gzip ? '.tar.gz' : '.tar';
    const entries: KitEntry[] = [
      {
        path: 'model.safetensors',
        kind: 'model',
        tar: await bytes(`kit/${pickled ? 'model-pickle' : 'model.safetensors'}${ext}`),
      },
      { path: 'config.json', kind: 'modelpart', tar: await bytes(`kit/config.json${ext}`) },
      { path: 'tokenizer.json', kind: 'modelpart', tar: await bytes(`kit/tokenizer.json${ext}`) },
      { path: 'README.md', kind: 'docs', tar: await bytes(`kit/README.md${ext}`) },
      { path: 'LICENSE', kind: 'docs', tar: await bytes(`kit/LICENSE${ext}`) },
    ];
    return (await pushManifest(oras, reg.host, `${repo}:v1`, kitManifest('tiny-model', entries, gzip)))
      .reference;
  }

  async function modctl(repo: string, pickled: boolean, raw: boolean): Promise<string> {
    const weight: PackFile = raw
      ? {
          path: 'model.safetensors',
          mediaType: MODELPACK.weightRaw,
          content: await bytes(pickled ? 'pickle.bin' : 'model/model.safetensors'),
        }
      : {
          path: 'model.safetensors',
          mediaType: MODELPACK.weight,
          content: await bytes(`modelpack/${pickled ? 'model-pickle' : 'model.safetensors'}.tar`),
        };
    const files: PackFile[] = [
      weight,
      {
        path: 'config.json',
        mediaType: MODELPACK.weightConfig,
        content: await bytes('modelpack/config.json.tar'),
      },
      {
        path: 'tokenizer.json',
        mediaType: MODELPACK.weightConfig,
        content: await bytes('modelpack/tokenizer.json.tar'),
      },
      { path: 'README.md', mediaType: MODELPACK.doc, content: await bytes('modelpack/README.md.tar') },
      { path: 'LICENSE', mediaType: MODELPACK.doc, content: await bytes('modelpack/LICENSE.tar') },
    ];
    return (await pushManifest(oras, reg.host, `${repo}:v1`, modelPackManifest(files))).reference;
  }

  /** design.md §2.3: weights, ML-BOM and a sign-blob bundle over the weights in one manifest. */
  async function seed(repo: string, pickled: boolean): Promise<string> {
    const weights = pickled ? 'pickle.bin' : 'model/model.safetensors';
    const bundle = await cosign.signBlob(join(dir, weights), key);
    const others = await Promise.all(
      FILES.slice(1).map(async (name) => ({ name, content: await bytes(`model/${name}`) })),
    );
    const pushed = await oras.push(`${repo}:v1`, [
      { name: 'model.safetensors', content: await bytes(weights) },
      ...others,
      { name: 'mlbom.json', content: libraryBom(), mediaType: CDX },
      { name: 'model.safetensors.sigstore.json', content: bundle, mediaType: BUNDLE },
    ]);
    return pushed.reference;
  }

  async function ollama(repo: string, pickled: boolean): Promise<string> {
    const model = await bytes(pickled ? 'pickle.bin' : 'model.gguf');
    const license = await readFile(join(dir, 'model', 'LICENSE'), 'utf8');
    return (await pushManifest(oras, reg.host, `${repo}:v1`, ollamaManifest(model, license))).reference;
  }

  const make: Record<Producer, (repo: string, pickled: boolean) => Promise<string>> = {
    'docker model package': (repo, p) => dockerModel(p ? 'model-pickle' : 'model', repo),
    'KitOps ModelKit, kit pack layout': (repo, p) => kit(repo, p, false),
    'KitOps ModelKit, kit pack --compression gzip layout': (repo, p) => kit(repo, p, true),
    'ModelPack, modctl build layout': (repo, p) => modctl(repo, p, false),
    'ModelPack raw weights, kit pack --use-model-pack layout': (repo, p) => modctl(repo, p, true),
    'oras push (seed layout)': seed,
    'Ollama manifest': ollama,
  };

  beforeAll(async () => {
    reg = await startRegistry(kind);
    oras = new Oras({ host: reg.host });
    cosign = await Cosign.create();
    const pair = await cosign.generateKeyPair('release');
    key = pair.key;
    policyFile = await writePolicies(cosign.dir, [signedPolicy(reg.host, pair.pem)]);
    for (const [i, producer] of PRODUCERS.entries()) {
      const safe = await make[producer](`producers/p${i}-safe`, false);
      const pickled = await make[producer](`producers/p${i}-pickled`, true);
      await cosign.sign(safe, key);
      await cosign.sign(pickled, key);
      cases.set(producer, { safe, pickled });
    }
  }, 600_000);

  afterAll(async () => {
    await oras?.close();
    await cosign?.close();
    await reg?.stop();
  });

  it.each(PRODUCERS)(
    '%s: a signed safe model is admitted under the default formats rule',
    async (producer) => {
      const r = await verify(cases.get(producer)!.safe);
      expect(r.reasons).toEqual([]);
      expect(r.allowed).toBe(true);
      expect(r.exit).toBe(0);
    },
  );

  it.each(PRODUCERS)(
    '%s: the same model with a pickle in it is refused with FORMAT_DENIED',
    async (producer) => {
      const r = await verify(cases.get(producer)!.pickled);
      expect(r.codes).toEqual(['FORMAT_DENIED']);
      expect(r.allowed).toBe(false);
      expect(r.exit).toBe(1);
    },
  );
});
