// The engine and the registry client together, against a real registry with
// artifacts pushed by the real oras CLI: what `modelgate verify` and `review`
// resolve, and which hosts they contact (only those a policy governs).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_FORMATS } from '../../../src/policy/schema.ts';
import { runCli } from '../../support/cli.ts';
import { type FakeServer, startFakeServer } from '../../support/fake-server.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { safetensors } from '../../unit/evidence/builders.ts';
import { libraryBom } from '../evidence/boms.ts';
import { Cosign } from '../verify/signers.ts';

/** A one-tensor safetensors file of `n` bytes of `fill`: a data format, admitted by the default formats rule. */
const safetensorsOf = (n: number, fill: number) =>
  safetensors({ w: { dtype: 'U8', shape: [n], data: new Uint8Array(n).fill(fill) } });

/** Every format: a policy that allows them all demands no format check. */
const ALL_FORMATS = `[${MODEL_FORMATS.join(', ')}]`;

function policyFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mg-engine-'));
  const f = join(dir, 'policies.yaml');
  writeFileSync(f, yaml);
  return f;
}

function review(uid: string, models: string[]): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'ml',
      name: 'p',
      operation: 'CREATE',
      object: {
        metadata: { name: 'p', annotations: { 'modelgate.dev/models': models.join('\n') } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  });
}

describe.each(['ggcr', 'distribution'] as const)('engine + registry client against %s', (kind) => {
  let registry: TestRegistry;
  let other: FakeServer;
  let model: Pushed;
  let bom: Pushed;
  let openPolicy: string;
  let signedPolicy: string;
  let pickled: Pushed;
  let documented: Pushed;
  let bomPolicy: string;

  beforeAll(async () => {
    registry = await startRegistry(kind);
    other = await startFakeServer((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const oras = new Oras({ host: registry.host });
    model = await oras.push('models/llama:v1', [
      { name: 'model.safetensors', content: safetensorsOf(4096, 7) },
      { name: 'config.json', content: '{"arch":"llama"}', mediaType: 'application/json' },
    ]);
    bom = await oras.attach(
      `models/llama@${model.digest}`,
      [
        {
          name: 'mlbom.json',
          content: '{"bomFormat":"CycloneDX","specVersion":"1.6"}',
          mediaType: 'application/vnd.cyclonedx+json',
        },
      ],
      { artifactType: 'application/vnd.cyclonedx+json' },
    );
    // A pickle stream (protocol 4) under a name that claims safetensors: content wins.
    const pickle = Uint8Array.from([
      0x80, 0x04, 0x95, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x01, 0x78, 0x94, 0x2e,
    ]);
    pickled = await oras.push('models/sneaky:v1', [{ name: 'model.safetensors', content: pickle }]);
    documented = await oras.push('models/documented:v1', [
      { name: 'weights.safetensors', content: safetensorsOf(64, 1) },
    ]);
    await oras.attach(
      `models/documented@${documented.digest}`,
      [
        {
          name: 'mlbom.json',
          content: libraryBom({ modelDigests: [documented.digest] }),
          mediaType: 'application/vnd.cyclonedx+json',
        },
      ],
      { artifactType: 'application/vnd.cyclonedx+json' },
    );
    await oras.close();
    bomPolicy = policyFile(
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: bom}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures: {required: false}\n  mlbom: {required: true, requireHashMatch: true}\n`,
    );
    openPolicy = policyFile(
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: local}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures: {required: false}\n  formats: {allow: ${ALL_FORMATS}}\n`,
    );
    signedPolicy = policyFile(
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: signed}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures:\n    authorities: [{name: ci, keyless: {issuer: "https://issuer.example", subject: "ci@example.com"}}]\n`,
    );
  });

  afterAll(async () => {
    await registry?.stop();
    await other?.close();
  });

  it('verify --json resolves the digest, layers with titles, and the ML-BOM referrer', async () => {
    const ref = `${registry.host}/models/llama@${model.digest}`;
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      openPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ reference: ref, digest: model.digest, allowed: true, reasons: [] });
    expect(out.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(out.layers.map((l: { title: string }) => l.title).sort()).toEqual([
      'config.json',
      'model.safetensors',
    ]);
    expect(out.layers.find((l: { title: string }) => l.title === 'model.safetensors')).toMatchObject({
      size: safetensorsOf(4096, 7).length,
    });
    expect(out.referrers.map((x: { digest: string }) => x.digest)).toContain(bom.digest);
  });

  it('resolves a tag when the policy does not require a digest', async () => {
    const tagPolicy = policyFile(
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: tags}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures: {required: false}\n  requireDigest: false\n  formats: {allow: ${ALL_FORMATS}}\n`,
    );
    const r = await runCli([
      'verify',
      `${registry.host}/models/llama:v1`,
      '--policy-file',
      tagPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).digest).toBe(model.digest);
  });

  it('refuses with REGISTRY_ERROR when the digest does not exist', async () => {
    const ref = `${registry.host}/models/llama@sha256:${'0'.repeat(64)}`;
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      openPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).reasons.map((x: { code: string }) => x.code)).toEqual(['REGISTRY_ERROR']);
  });

  it('refuses with REGISTRY_ERROR over plain HTTP unless the registry is named insecure', async () => {
    const ref = `${registry.host}/models/llama@${model.digest}`;
    const r = await runCli(['verify', ref, '--policy-file', openPolicy, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).reasons.map((x: { code: string }) => x.code)).toEqual(['REGISTRY_ERROR']);
  });

  it('refuses an unsigned model with SIGNATURE_MISSING', async () => {
    const ref = `${registry.host}/models/llama@${model.digest}`;
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      signedPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(r.code).toBe(1);
    const codes = JSON.parse(r.stdout).reasons.map((x: { code: string }) => x.code);
    expect(codes).toContain('SIGNATURE_MISSING');
  });

  it('file mode: a key in a Secret (cluster only) is TRUST_UNAVAILABLE, and the fix says to write key.pem', async () => {
    const secretPolicy = policyFile(
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: cluster-key}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures:\n    authorities: [{name: release, key: {secretRef: {namespace: modelgate-system, name: release-key, key: cosign.pub}}}]\n`,
    );
    const ref = `${registry.host}/models/llama@${model.digest}`;
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      secretPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(r.code).toBe(1);
    const reasons = JSON.parse(r.stdout).reasons as { code: string; fix?: string; message: string }[];
    expect(reasons.map((x) => x.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(JSON.stringify(reasons[0])).toMatch(/key\.pem/);
    expect(JSON.stringify(reasons[0])).not.toMatch(/re-sign/);
  });

  it('refuses a pickle posing as safetensors with FORMAT_DENIED under the default formats rule', async () => {
    const ref = `${registry.host}/models/sneaky@${pickled.digest}`;
    const defaults = policyFile(
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: defaults}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures: {required: false}\n`,
    );
    const r = await runCli([
      'verify',
      ref,
      '--policy-file',
      defaults,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.reasons).toMatchObject([{ code: 'FORMAT_DENIED', policy: 'defaults' }]);
    expect(out.reasons[0].message).toContain('model.safetensors');
    expect(out.reasons[0].message).toContain('pickle');
  });

  it('admits a model whose ML-BOM carries its digest, and refuses one without (MLBOM_MISSING) or with a wrong one (MLBOM_INVALID)', async () => {
    const good = await runCli([
      'verify',
      `${registry.host}/models/documented@${documented.digest}`,
      '--policy-file',
      bomPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(JSON.parse(good.stdout).reasons).toEqual([]);
    expect(good.code).toBe(0);
    const missing = await runCli([
      'verify',
      `${registry.host}/models/sneaky@${pickled.digest}`,
      '--policy-file',
      bomPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).reasons.map((x: { code: string }) => x.code)).toEqual([
      'FORMAT_DENIED',
      'MLBOM_MISSING',
    ]);
    // llama's attached BOM is a bare {bomFormat, specVersion}: valid JSON, but no model component.
    const invalid = await runCli([
      'verify',
      `${registry.host}/models/llama@${model.digest}`,
      '--policy-file',
      bomPolicy,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout).reasons.map((x: { code: string }) => x.code)).toEqual([
      'MLBOM_INVALID',
    ]);
  });

  it('admits a model cosign signed with the policy key, refuses another key (SIGNATURE_INVALID)', async () => {
    const cosign = await Cosign.create();
    try {
      const trusted = await cosign.generateKeyPair('trusted');
      const other = await cosign.generateKeyPair('other');
      const ref = `${registry.host}/models/llama@${model.digest}`;
      await cosign.sign(ref, trusted.key);
      const keyPolicy = (name: string, pem: string) =>
        policyFile(
          `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: ${name}}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures:\n    authorities:\n      - name: release\n        key:\n          pem: |\n${pem
            .trim()
            .split('\n')
            .map((l) => `            ${l}`)
            .join('\n')}\n`,
        );
      const ok = await runCli([
        'verify',
        ref,
        '--policy-file',
        keyPolicy('ok', trusted.pem),
        '--insecure-registry',
        registry.host,
        '--json',
      ]);
      expect(JSON.parse(ok.stdout).reasons).toEqual([]);
      expect(ok.code).toBe(0);
      const bad = await runCli([
        'verify',
        ref,
        '--policy-file',
        keyPolicy('bad', other.pem),
        '--insecure-registry',
        registry.host,
        '--json',
      ]);
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.stdout).reasons.map((x: { code: string }) => x.code)).toEqual([
        'SIGNATURE_INVALID',
      ]);
    } finally {
      await cosign.close();
    }
  });

  it('contacts only hosts a policy governs: ungoverned and tag-only references cost no request', async () => {
    const before = other.requests.length;
    const models = [
      `${registry.host}/models/llama@${model.digest}`,
      `${other.host}/models/evil@sha256:${'1'.repeat(64)}`,
      `oci://${other.host}/x/y:latest`,
      `${registry.host}/models/llama:v1`,
    ];
    const r = await runCli(
      [
        'review',
        '--policy-file',
        openPolicy,
        '--insecure-registry',
        registry.host,
        '--insecure-registry',
        other.host,
      ],
      review('uid-ssrf', models),
    );
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout).response;
    expect(res.allowed).toBe(false);
    expect(res.status.message).toContain('MODEL_UNGOVERNED');
    expect(res.status.message).toContain('DIGEST_REQUIRED');
    expect(res.status.message).not.toContain(`llama@${model.digest} (`);
    expect(other.requests.length).toBe(before);
  });
});
