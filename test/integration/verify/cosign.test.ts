// cosign v3 (the real CLI) signs models pushed by the real oras CLI to both loopback registries; the
// signature check reads them through the real registry client: the v3 bundle as a referrer (ggcr:
// referrers API, reported with the empty config's media type; distribution 2.8: the tag fallback), the
// legacy `.sig` tag, attestations, and `sign-blob` / `attest-blob` bundles stored beside a file.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryVerifier } from '../../../src/engine/registry-verifier.ts';
import { gatherEvidence } from '../../../src/evidence/gather.ts';
import { RegistryClient } from '../../../src/oci/client.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { MODEL_FORMATS } from '../../../src/policy/schema.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { parseReference } from '../../../src/reference/reference.ts';
import { legacyTagFetcher } from '../../../src/verify/legacy.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { Cosign } from './signers.ts';

const signal = () => AbortSignal.timeout(60_000);
let uid = 0;

function policyOf(host: string, signatures: Record<string, unknown>, spec: Record<string, unknown> = {}) {
  const v = validateModelPolicy({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: 'signed', uid: `cosign-${++uid}` },
    spec: { models: [`${host}/**`], signatures, ...spec },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return compilePolicy(v.policy);
}

describe.each(['ggcr', 'distribution'] as const)('cosign v3 signatures on %s', (kind) => {
  let reg: TestRegistry;
  let oras: Oras;
  let cosign: Cosign;
  let client: RegistryClient;
  let release: { key: string; pem: string };
  let other: { key: string; pem: string };
  let signed: Pushed;
  let legacy: Pushed;
  let attested: Pushed;
  let unsigned: Pushed;
  let beside: Pushed;

  const ref = (p: Pushed) => {
    const r = parseReference(p.reference);
    if (!r.ok) throw new Error(r.error);
    return r.ref;
  };
  const evidenceOf = (p: Pushed) => gatherEvidence(client, ref(p), signal());
  const keyPolicy = (pem: string, extra: Record<string, unknown> = {}) =>
    policyOf(reg.host, { threshold: 1, authorities: [{ name: 'release', key: { pem } }], ...extra });

  beforeAll(async () => {
    reg = await startRegistry(kind);
    oras = new Oras({ host: reg.host });
    cosign = await Cosign.create();
    release = await cosign.generateKeyPair('release');
    other = await cosign.generateKeyPair('other');
    const files = (tag: string) => [
      { name: 'model.safetensors', content: `weights of ${tag}` },
      { name: 'config.json', content: `{"model":"${tag}"}`, mediaType: 'application/json' },
    ];
    signed = await oras.push('models/signed:v1', files('signed'));
    legacy = await oras.push('models/legacy:v1', files('legacy'));
    attested = await oras.push('models/attested:v1', files('attested'));
    unsigned = await oras.push('models/unsigned:v1', files('unsigned'));
    await cosign.sign(`${reg.host}/models/signed@${signed.digest}`, release.key);
    await cosign.sign(`${reg.host}/models/legacy@${legacy.digest}`, release.key, { legacy: true });
    await cosign.attest(
      `${reg.host}/models/attested@${attested.digest}`,
      release.key,
      'https://example.com/eval/v1',
      {
        accuracy: 0.91,
      },
    );

    // A model file with its cosign sign-blob bundle stored beside it, in one manifest (the seed's layout).
    const weights = join(cosign.dir, 'model.pt');
    await writeFile(weights, 'pt weights, never downloaded to verify');
    const bundle = await cosign.signBlob(weights, release.key);
    beside = await oras.push('models/beside:v1', [
      { name: 'model.pt', content: 'pt weights, never downloaded to verify' },
      {
        name: 'model.pt.sigstore.json',
        content: bundle,
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      },
    ]);
    client = new RegistryClient({ insecureRegistries: [reg.host] });
  });

  afterAll(async () => {
    await client?.close();
    await oras?.close();
    await cosign?.close();
    await reg?.stop();
  });

  it('admits a model signed with the policy key (v3 bundle referrer)', async () => {
    const e = await evidenceOf(signed);
    expect(e.referrers.length).toBe(1);
    const r = await new SignatureVerifier().check(e, keyPolicy(release.pem), signal());
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      satisfied: true,
      matched: [
        { authority: 'release', signatures: [expect.stringMatching(/^referrer sha256:.*cosign signature/)] },
      ],
    });
  });

  it('refuses the same model under another key (SIGNATURE_INVALID, expected and found keys named)', async () => {
    const r = await new SignatureVerifier().check(await evidenceOf(signed), keyPolicy(other.pem), signal());
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    expect(r.failures[0]!.message).toMatch(
      /expected key sha256:[0-9a-f]{64} \(ecdsa-p256\), the bundle names key sha256:[0-9a-f]{64} \(another key\)/,
    );
  });

  it('refuses an unsigned model (SIGNATURE_MISSING)', async () => {
    const r = await new SignatureVerifier().check(
      await evidenceOf(unsigned),
      keyPolicy(release.pem),
      signal(),
    );
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_MISSING']);
  });

  it('admits a legacy .sig-tag signature only when legacy tags are read', async () => {
    const e = await evidenceOf(legacy);
    const withLegacy = new SignatureVerifier({ legacyTags: legacyTagFetcher(client) });
    const ok = await withLegacy.check(e, keyPolicy(release.pem), signal());
    expect(ok.failures).toEqual([]);
    expect(ok.report).toMatchObject({
      matched: [{ signatures: [expect.stringMatching(/cosign legacy signature/)] }],
    });
    const wrongKey = await withLegacy.check(e, keyPolicy(other.pem), signal());
    expect(wrongKey.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    const without = await new SignatureVerifier().check(
      await evidenceOf(legacy),
      keyPolicy(release.pem),
      signal(),
    );
    expect(without.failures.map((f) => f.code)).toEqual(['SIGNATURE_MISSING']);
  });

  it('serves a cosign attestation as a verified statement, and does not count it as a signature', async () => {
    const e = await evidenceOf(attested);
    const v = new SignatureVerifier();
    const p = keyPolicy(release.pem);
    const statements = await v.verifiedStatements(e, p, 'https://example.com/eval/v1', signal());
    expect(statements).toEqual([
      expect.objectContaining({
        authority: 'release',
        statement: expect.objectContaining({ predicate: { accuracy: 0.91 } }),
      }),
    ]);
    expect(
      await v.verifiedStatements(e, keyPolicy(other.pem), 'https://example.com/eval/v1', signal()),
    ).toEqual([]);
    const r = await v.check(e, p, signal());
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_MISSING']);
  });

  it('verifies a sign-blob bundle beside its file over the layer digest, without reading the file', async () => {
    const e = await evidenceOf(beside);
    const weights = e.layers.find((l) => l.annotations?.['org.opencontainers.image.title'] === 'model.pt')!;
    const read: string[] = [];
    const spy = {
      ...e,
      reader: {
        ...e.reader,
        blob: (d: typeof weights, max: number, s: AbortSignal) => {
          read.push(d.digest);
          return e.reader.blob(d, max, s);
        },
      },
    };
    const r = await new SignatureVerifier().check(spy, keyPolicy(release.pem), signal());
    expect(r.failures).toEqual([]);
    expect(read).not.toContain(weights.digest);
    expect(r.report).toMatchObject({
      matched: [{ signatures: [expect.stringMatching(/message signature over model.pt/)] }],
    });
  });

  it('plugs into the RegistryVerifier as the signatures check', async () => {
    const sigs = new SignatureVerifier({ legacyTags: legacyTagFetcher(client) });
    const verifier = new RegistryVerifier(client, { signatures: sigs.check });
    // Formats are another check's business: admit every format so that only signatures are demanded.
    const p = policyOf(
      reg.host,
      { authorities: [{ name: 'release', key: { pem: release.pem } }] },
      { formats: { allow: [...MODEL_FORMATS] } },
    );
    const ok = await verifier.verify(ref(signed), p, signal());
    expect(ok.failures).toEqual([]);
    const no = await verifier.verify(ref(unsigned), p, signal());
    expect(no.failures.map((f) => f.code)).toEqual(['SIGNATURE_MISSING']);
  });
});
