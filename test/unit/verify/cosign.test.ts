// Key-signed cosign signatures: the real cosign v3 output (fixtures) and bundles built the same way
// for the key types cosign supports.
import { describe, expect, it } from 'vitest';
import type { AttestationSource } from '../../../src/evidence/attestations.ts';
import { legacyToBundle } from '../../../src/verify/legacy.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import {
  artifact,
  attach,
  BUNDLE_V03,
  cosignFixture,
  cosignStatement,
  dsseBundle,
  ecKey,
  ed25519Key,
  evidence,
  json,
  keyAuthority,
  MemoryRepo,
  messageBundle,
  policy,
  statement,
} from './builders.ts';

const signal = new AbortController().signal;

describe('cosign v3 bundles (real cosign output)', () => {
  it('verifies the bundle referrer listed with the empty config media type (go-containerregistry)', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const r = await new SignatureVerifier().check(
      evidence(repo, f.artifact, [f.referrer]),
      policy({ authorities: [keyAuthority('release', f.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      satisfied: true,
      matched: [{ authority: 'release', identity: expect.stringMatching(/^key sha256:[0-9a-f]{64}$/) }],
      signatures: [{ kind: 'cosign signature', covers: 'the whole artifact (manifest digest)' }],
    });
  });

  it('verifies the legacy .sig tag signature (simple signing) when legacy tags are read', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const v = new SignatureVerifier({ legacyTags: f.legacyTags });
    const r = await v.check(
      evidence(repo, f.artifact),
      policy({ authorities: [keyAuthority('release', f.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      signatures: [{ where: expect.stringMatching(/^tag sha256-.*\.sig layer 0$/) }],
    });
  });

  it('reads legacy annotations into a message-signature bundle', () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const layer = f.legacyManifest.layers[0]!;
    const b = legacyToBundle(layer, repo.blobs.get(layer.digest)!);
    expect(b.content.kind).toBe('message');
    expect(b.key).toEqual({ kind: 'public-key', hint: '' });
  });
});

describe.each([
  ['ECDSA P-256', () => ecKey('P-256')],
  ['ECDSA P-384 (SHA-384)', () => ecKey('P-384')],
  ['ECDSA P-521 (SHA-512)', () => ecKey('P-521')],
  ['Ed25519', () => ed25519Key()],
])('key-signed DSSE bundle with %s', (_name, makeKey) => {
  it('is admitted under that key and refused under another', async () => {
    const key = makeKey();
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.gguf', 'gguf weights')]);
    const ref = attach(repo, a, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]);
    const e = evidence(repo, a, [ref]);
    const ok = await new SignatureVerifier().check(
      e,
      policy({ authorities: [keyAuthority('k', key.pem)] }),
      signal,
    );
    expect(ok.failures).toEqual([]);
    const no = await new SignatureVerifier().check(
      e,
      policy({ authorities: [keyAuthority('k', makeKey().pem)] }),
      signal,
    );
    expect(no.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
  });
});

describe('message signatures', () => {
  it('over the manifest itself count for the whole artifact (verified over the digest)', async () => {
    const key = ecKey();
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.onnx', 'onnx')]);
    const manifestBytes = repo.manifests.get(a.digest)!.bytes;
    const b = messageBundle(key, { content: manifestBytes });
    const ref = attach(repo, a, [repo.blob(json(b), BUNDLE_V03)]);
    const r = await new SignatureVerifier().check(
      evidence(repo, a, [ref]),
      policy({ authorities: [keyAuthority('k', key.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({ signatures: [{ kind: 'message signature over the manifest' }] });
  });

  it('beside one file (model.pt + model.pt.sigstore.json) verify over the layer digest; the file is never read', async () => {
    const key = ecKey('P-384');
    const repo = new MemoryRepo();
    const weights = repo.phantom('model.pt', 'torch weights');
    const b = messageBundle(key, { content: Buffer.from('torch weights') });
    const a = artifact(repo, [weights, repo.file('model.pt.sigstore.json', json(b), BUNDLE_V03)]);
    const e = evidence(repo, a);
    const r = await new SignatureVerifier().check(
      e,
      policy({ authorities: [keyAuthority('k', key.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
    expect(repo.reads).not.toContain(weights.digest);
  });

  it('beside one file also accepts a `.sig` title and a DSSE statement about the file', async () => {
    const key = ecKey();
    const repo = new MemoryRepo();
    const weights = repo.phantom('model.pt', 'torch weights');
    const s = statement({
      subject: [{ name: 'model.pt', digest: { sha256: weights.digest.slice(7) } }],
      predicateType: 'https://example.com/anything/v1',
    });
    const a = artifact(repo, [
      weights,
      repo.file('model.pt.sig', json(dsseBundle(key, s)), 'application/json'),
    ]);
    const r = await new SignatureVerifier().check(
      evidence(repo, a),
      policy({ authorities: [keyAuthority('k', key.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
  });
});

describe('attestations', () => {
  it('are served verified, by authority, and only for their predicate type', async () => {
    const key = ecKey();
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
    const bom = statement({
      subject: [{ digest: { sha256: a.digest.slice(7) } }],
      predicateType: 'https://cyclonedx.org/bom',
      predicate: { bomFormat: 'CycloneDX' },
    });
    const refs = [
      attach(repo, a, [repo.blob(json(dsseBundle(key, bom)), BUNDLE_V03)]),
      attach(repo, a, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]),
    ];
    const e = evidence(repo, a, refs);
    const p = policy({
      authorities: [keyAuthority('bom-signer', key.pem), keyAuthority('other', ecKey().pem)],
    });
    const v = new SignatureVerifier();
    const got = await v.verifiedStatements(e, p, 'https://cyclonedx.org/bom', signal);
    expect(got).toEqual([
      expect.objectContaining({
        authority: 'bom-signer',
        statement: expect.objectContaining({ predicate: { bomFormat: 'CycloneDX' } }),
      }),
    ]);
    expect(await v.verifiedStatements(e, p, 'https://slsa.dev/provenance/v1', signal)).toEqual([]);
    // It is the AttestationSource the ML-BOM and provenance checks take.
    const source: AttestationSource = v;
    expect(await source.verifiedStatements(e, p, 'https://cyclonedx.org/bom', signal)).toHaveLength(1);
    // Discovery is shared between the check and the attestation source: one read per blob.
    const before = repo.reads.length;
    expect((await v.check(e, p, signal)).failures).toEqual([]);
    expect(repo.reads.length).toBe(before);
  });
});

describe('attestations about a file rather than the artifact', () => {
  it('are not served (the contract: subject names the artifact digest)', async () => {
    const key = ecKey();
    const repo = new MemoryRepo();
    const weights = repo.phantom('model.pt', 'torch weights');
    const s = statement({
      subject: [{ digest: { sha256: weights.digest.slice(7) } }],
      predicateType: 'https://cyclonedx.org/bom',
    });
    const a = artifact(repo, [weights, repo.file('model.pt.sigstore.json', json(dsseBundle(key, s)))]);
    const p = policy({ authorities: [keyAuthority('k', key.pem)] });
    const v = new SignatureVerifier();
    expect(await v.verifiedStatements(evidence(repo, a), p, 'https://cyclonedx.org/bom', signal)).toEqual([]);
    // ... though the same bundle is a valid signature of that file.
    expect((await v.check(evidence(repo, a), p, signal)).failures).toEqual([]);
  });
});

describe('a bundle over one file attached as a referrer under the file-beside title', () => {
  it('covers that file of the subject artifact', async () => {
    const key = ecKey();
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.pt', 'torch weights')]);
    const b = messageBundle(key, { content: Buffer.from('torch weights') });
    const ref = attach(repo, a, [repo.file('model.pt.sigstore.json', json(b), BUNDLE_V03)]);
    const r = await new SignatureVerifier().check(
      evidence(repo, a, [ref]),
      policy({ authorities: [keyAuthority('k', key.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      signatures: [{ kind: 'message signature over model.pt', covers: ['model.pt'] }],
    });
  });
});
