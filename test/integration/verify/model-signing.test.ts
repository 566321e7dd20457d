// OpenSSF model signing with the real `model_signing` CLI (PyPI): a model directory signed with a key,
// pushed file by file with the real oras CLI (signature as a layer, or attached as a referrer) to both
// loopback registries, then verified from the registry's evidence alone. `model_signing verify` on the
// same directory is the reference: both must agree.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherEvidence } from '../../../src/evidence/gather.ts';
import { RegistryClient } from '../../../src/oci/client.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { parseReference } from '../../../src/reference/reference.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import { type ArtifactFile, Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { ModelSigning, writeEcKey } from './signers.ts';

const signal = () => AbortSignal.timeout(60_000);
const FILES: Record<string, string | Uint8Array> = {
  'config.json': '{"architectures":["TinyModel"]}',
  'tokenizer/tokenizer.json': '{"version":"1.0"}',
  'model.safetensors': new Uint8Array(64 * 1024).map((_, i) => (i * 7) % 251),
};
let uid = 0;

describe.each(['ggcr', 'distribution'] as const)('model_signing signatures on %s', (kind) => {
  let reg: TestRegistry;
  let oras: Oras;
  let ms: ModelSigning;
  let client: RegistryClient;
  let dir: string;
  let model: string;
  let team: { key: string; pub: string; pem: string };
  let other: { pem: string };
  let sig: Buffer;

  const policyOf = (pem: string, extra: Record<string, unknown> = {}) => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'ms', uid: `ms-${++uid}` },
      spec: {
        models: [`${reg.host}/**`],
        signatures: { authorities: [{ name: 'team', key: { pem } }], ...extra },
      },
    });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return compilePolicy(v.policy);
  };
  const files = (extra: ArtifactFile[] = [], withSig = true): ArtifactFile[] => [
    ...Object.entries(FILES).map(([name, content]) => ({ name, content })),
    ...(withSig ? [{ name: 'model.sig', content: sig }] : []),
    ...extra,
  ];
  const check = async (p: Pushed, pem: string, extra: Record<string, unknown> = {}) => {
    const r = parseReference(p.reference);
    if (!r.ok) throw new Error(r.error);
    const e = await gatherEvidence(client, r.ref, signal());
    return new SignatureVerifier().check(e, policyOf(pem, extra), signal());
  };

  beforeAll(async () => {
    reg = await startRegistry(kind);
    oras = new Oras({ host: reg.host });
    ms = await ModelSigning.create();
    client = new RegistryClient({ insecureRegistries: [reg.host] });
    dir = await mkdtemp(join(tmpdir(), 'modelgate-ms-'));
    model = join(dir, 'tiny-model');
    for (const [name, content] of Object.entries(FILES)) {
      await mkdir(join(model, name, '..'), { recursive: true });
      await writeFile(join(model, name), content);
    }
    team = await writeEcKey(dir, 'team');
    other = await writeEcKey(dir, 'other', 'P-384');
    // The signature is written inside the model directory, where model_signing leaves it out.
    await ms.signKey(model, team.key, join(model, 'model.sig'));
    sig = await readFile(join(model, 'model.sig'));
  });

  afterAll(async () => {
    await client?.close();
    await oras?.close();
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('model_signing itself verifies the directory (the reference)', async () => {
    expect(await ms.verifyKey(model, team.pub, join(model, 'model.sig'))).toBe(true);
  });

  it('admits the model with model.sig as a layer of the artifact', async () => {
    const p = await oras.push('models/tiny:layer', files());
    const r = await check(p, team.pem);
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      matched: [{ authority: 'team', signatures: ['layer model.sig (model_signing (files, 3 resources))'] }],
      signatures: [{ covers: ['config.json', 'tokenizer/tokenizer.json', 'model.safetensors'] }],
    });
  });

  it('admits the model with model.sig attached as a referrer', async () => {
    const p = await oras.push('models/tiny:referrer', files([], false));
    await oras.attach(`models/tiny@${p.digest}`, [{ name: 'model.sig', content: sig }], {
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
    expect((await check(p, team.pem)).failures).toEqual([]);
  });

  it('refuses another key, an extra unsigned file (unless allowed) and a swapped file', async () => {
    const p = await oras.push('models/tiny:layer2', files());
    expect((await check(p, other.pem)).failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);

    const extra = await oras.push('models/tiny:extra', files([{ name: 'README.md', content: '# tiny' }]));
    const strict = await check(extra, team.pem);
    expect(strict.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    expect(strict.failures[0]!.message).toMatch(/not covering README\.md/);
    expect((await check(extra, team.pem, { allowUnsignedFiles: ['*.md'] })).failures).toEqual([]);

    const swapped = await oras.push(
      'models/tiny:swapped',
      files().map((f) => (f.name === 'model.safetensors' ? { ...f, content: 'poisoned weights' } : f)),
    );
    const r = await check(swapped, team.pem);
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    expect(r.failures[0]!.message).toMatch(
      /layer model\.safetensors has digest sha256:[0-9a-f]+, but the signature covers/,
    );
    // The reference verifier refuses the same change on disk.
    const poisoned = join(dir, 'poisoned');
    for (const [name, content] of Object.entries(FILES)) {
      await mkdir(join(poisoned, name, '..'), { recursive: true });
      await writeFile(join(poisoned, name), name === 'model.safetensors' ? 'poisoned weights' : content);
    }
    expect(await ms.verifyKey(poisoned, team.pub, join(model, 'model.sig'))).toBe(false);
  });

  it('binds shards serialization when each file is one shard, and refuses files split in shards', async () => {
    const oneShard = join(dir, 'one-shard.sig');
    await ms.signKeyShards(model, team.key, oneShard, 1_000_000_000);
    const sigBytes = await readFile(oneShard);
    const p = await oras.push(
      'models/tiny:shards',
      files().map((f) => (f.name === 'model.sig' ? { ...f, content: sigBytes } : f)),
    );
    expect((await check(p, team.pem)).failures).toEqual([]);

    const split = join(dir, 'split.sig');
    await ms.signKeyShards(model, team.key, split, 16 * 1024);
    const splitBytes = await readFile(split);
    const q = await oras.push(
      'models/tiny:split',
      files().map((f) => (f.name === 'model.sig' ? { ...f, content: splitBytes } : f)),
    );
    const r = await check(q, team.pem);
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    expect(r.failures[0]!.message).toMatch(/model\.safetensors: signed as 4 shards/);
  });
});
