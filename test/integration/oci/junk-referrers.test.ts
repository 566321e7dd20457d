// Anyone who can push to a repository can attach referrers to a model. ~70 unrelated ones (pushed with the
// real `oras attach`, other artifact types), plus referrers the client cannot read as manifests, must not
// make a clean, signed model with its ML-BOM unverifiable: on go-containerregistry's registry (referrers
// API, every descriptor's artifactType taken from the config: all say `application/vnd.oci.empty.v1+json`)
// and on distribution 2.8 (the `sha256-<hex>` tag fallback, whose index oras writes with artifact types).
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { Oras } from '../../support/oras.ts';
import { type RegistryKind, startRegistry, type TestRegistry } from '../../support/registries.ts';
import {
  pushSignedModels,
  type SignedModels,
  signedPolicy,
  writePolicies,
} from '../../support/signed-models.ts';

const JUNK = 70;

describe.each<RegistryKind>(['ggcr', 'distribution'])('%s: ~70 unrelated referrers', (kind) => {
  let dir: string;
  let reg: TestRegistry;
  let models: SignedModels;
  let policyFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-junk-'));
    reg = await startRegistry(kind);
    models = await pushSignedModels({ host: reg.host }, { signed: 1, mlbom: true });
    const ref = models.signed[0]!;
    const repoAndDigest = ref.slice(reg.host.length + 1);
    const oras = new Oras({ host: reg.host });
    try {
      for (let i = 0; i < JUNK; i++) {
        await oras.attach(repoAndDigest, [{ name: `junk-${i}.txt`, content: `junk ${i}` }], {
          artifactType: `application/vnd.example.junk.v${i % 7}+json`,
        });
      }
    } finally {
      await oras.close();
    }
    if (kind === 'ggcr') {
      // A referrer no consumer can read unambiguously (two spellings of `layers`) and one the registry
      // lists but whose bytes are not a manifest at all: pushed raw, as an attacker would.
      const digest = ref.slice(ref.indexOf('@') + 1);
      const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1 };
      const empty = {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2,
      };
      const raw = [
        `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":${JSON.stringify(empty)},"layers":[],"Layers":[${JSON.stringify(empty)}],"subject":${JSON.stringify(subject)}}`,
        `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":${JSON.stringify(empty)},"layers":"not a list","subject":${JSON.stringify(subject)}}`,
      ];
      const repo = repoAndDigest.slice(0, repoAndDigest.indexOf('@'));
      for (const body of raw) {
        const d = `sha256:${createHash('sha256').update(body).digest('hex')}`;
        const res = await fetch(`${reg.url}/v2/${repo}/manifests/${d}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body,
        });
        expect(res.status).toBe(201);
      }
    }
    policyFile = await writePolicies(dir, [signedPolicy(reg.host, models.publicKey, { mlbom: true })]);
  }, 600_000);

  afterAll(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the signed model with its ML-BOM still verifies', async () => {
    const ref = models.signed[0]!;
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      policyFile,
      '--insecure-registry',
      reg.host,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      allowed: boolean;
      reasons: { code: string }[];
      referrers: unknown[];
    };
    expect(out.reasons).toEqual([]);
    expect(out.allowed).toBe(true);
    expect(r.code).toBe(0);
    // Every junk referrer was listed (the unreadable ones left out): they were there, and did not matter.
    expect(out.referrers.length).toBeGreaterThanOrEqual(JUNK + 2);
  }, 120_000);

  it('an unsigned model beside them is still refused for its missing signature', async () => {
    const oras = new Oras({ host: reg.host });
    let ref: string;
    try {
      const pushed = await oras.push('models/unsigned-junk:v1', [
        { name: 'model.safetensors', content: 'x' },
      ]);
      for (let i = 0; i < 5; i++) {
        await oras.attach(`models/unsigned-junk@${pushed.digest}`, [{ name: 'j.txt', content: `j${i}` }], {
          artifactType: 'application/vnd.example.junk+json',
        });
      }
      ref = `${reg.host}/models/unsigned-junk@${pushed.digest}`;
    } finally {
      await oras.close();
    }
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      policyFile,
      '--insecure-registry',
      reg.host,
      '--json',
    ]);
    const out = JSON.parse(r.stdout) as { allowed: boolean; reasons: { code: string }[] };
    expect(out.allowed).toBe(false);
    expect(out.reasons.map((f) => f.code)).toContain('SIGNATURE_MISSING');
  }, 120_000);
});
