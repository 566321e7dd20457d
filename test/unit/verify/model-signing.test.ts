// OpenSSF model signing: the real `model_signing` output (fixtures) bound to OCI layers by title and
// sha256, never by reading the files.
import { describe, expect, it } from 'vitest';
import { bindModelSigning } from '../../../src/verify/model-signing.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import { parseStatement } from '../../../src/verify/statement.ts';
import {
  artifact,
  attach,
  dsseBundle,
  ecKey,
  evidence,
  fixture,
  fixtureText,
  json,
  keyAuthority,
  MemoryRepo,
  modelLayers,
  modelSigningStatement,
  policy,
  statement,
} from './builders.ts';

const signal = new AbortController().signal;
const P256 = fixtureText('model-signing/p256.pub');
const P384 = fixtureText('model-signing/p384.pub');

function statementOf(sigFile: string) {
  const b = JSON.parse(fixtureText(sigFile)) as { dsseEnvelope: { payload: string; payloadType: string } };
  const s = parseStatement(b.dsseEnvelope.payloadType, Buffer.from(b.dsseEnvelope.payload, 'base64'));
  if (!s.ok) throw new Error(s.error);
  return s.statement;
}

describe('model_signing signatures (real model_signing output)', () => {
  it.each([
    ['files-p256.sig', P256],
    ['files-p384.sig', P384],
    ['shards-1g.sig', P256],
  ])('%s as a model.sig layer covers every file', async (sig, pem) => {
    const repo = new MemoryRepo();
    const layers = modelLayers(repo);
    const a = artifact(repo, [...layers, repo.file('model.sig', fixture(`model-signing/${sig}`))]);
    const r = await new SignatureVerifier().check(
      evidence(repo, a),
      policy({ authorities: [keyAuthority('team', pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      matched: [
        { authority: 'team', signatures: [expect.stringMatching(/^layer model\.sig \(model_signing/)] },
      ],
    });
    // Only the signature was read: weights are never downloaded.
    expect(repo.reads).toEqual([a.manifest.layers[3]!.digest]);
  });

  it('model.sig attached as a referrer (oras attach) covers the artifact too', async () => {
    const repo = new MemoryRepo();
    const a = artifact(repo, modelLayers(repo));
    const ref = attach(repo, a, [repo.file('model.sig', fixture('model-signing/files-p256.sig'))], {
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      listedAs: 'application/vnd.oci.empty.v1+json',
    });
    const r = await new SignatureVerifier().check(
      evidence(repo, a, [ref]),
      policy({ authorities: [keyAuthority('team', P256)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
  });

  it('binds resources to layers by title or org.cncf.model.filepath', () => {
    const repo = new MemoryRepo();
    const layers = modelLayers(repo).map((l) => ({
      ...l,
      annotations: { 'org.cncf.model.filepath': `./${l.annotations!['org.opencontainers.image.title']}` },
    }));
    const b = bindModelSigning(statementOf('model-signing/files-p256.sig'), layers);
    expect(b).toMatchObject({ ok: true, method: 'files', resources: 3 });
    expect(b.ok && [...b.covered].sort()).toEqual([0, 1, 2]);
  });

  it('a file signed as several shards cannot be bound without reading it (SIGNATURE_INVALID)', async () => {
    const repo = new MemoryRepo();
    const a = artifact(repo, [
      ...modelLayers(repo),
      repo.file('model.sig', fixture('model-signing/shards-1000.sig')),
    ]);
    const r = await new SignatureVerifier().check(
      evidence(repo, a),
      policy({ authorities: [keyAuthority('team', P256)] }),
      signal,
    );
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    expect(r.failures[0]!.message).toMatch(/weights\.bin: signed as 3 shards/);
  });

  it('files the signature does not cover fail unless allowUnsignedFiles covers them', async () => {
    const repo = new MemoryRepo();
    const extra = [repo.phantom('README.md', 'readme'), repo.phantom('docs/LICENSE.txt', 'license')];
    const a = artifact(repo, [
      ...modelLayers(repo),
      ...extra,
      repo.file('model.sig', fixture('model-signing/files-p256.sig')),
    ]);
    const e = evidence(repo, a);
    const strict = await new SignatureVerifier().check(
      e,
      policy({ authorities: [keyAuthority('team', P256)] }),
      signal,
    );
    expect(strict.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
    expect(strict.failures[0]!.message).toMatch(/not covering README\.md, docs\/LICENSE\.txt/);
    const relaxed = await new SignatureVerifier().check(
      e,
      policy({ authorities: [keyAuthority('team', P256)], allowUnsignedFiles: ['README.md', 'docs/*.txt'] }),
      signal,
    );
    expect(relaxed.failures).toEqual([]);
    expect(relaxed.report).toMatchObject({ unsignedAllowed: ['README.md', 'docs/LICENSE.txt'] });
  });

  it('accepts the v0.1 Digests predicate (model_signing 0.2), each subject a file', async () => {
    const key = ecKey();
    const repo = new MemoryRepo();
    const layers = modelLayers(repo);
    const s = statement({
      subject: layers.map((l) => ({
        name: l.annotations!['org.opencontainers.image.title']!,
        digest: { sha256: l.digest.slice(7) },
      })),
      predicateType: 'https://model_signing/Digests/v0.1',
    });
    const a = artifact(repo, [...layers, repo.file('model.sig', json(dsseBundle(key, s)))]);
    const r = await new SignatureVerifier().check(
      evidence(repo, a),
      policy({ authorities: [keyAuthority('team', key.pem)] }),
      signal,
    );
    expect(r.failures).toEqual([]);
  });

  it('reads shard_size written as a float (1000000000.0) and a single shard per file', () => {
    const repo = new MemoryRepo();
    const layers = modelLayers(repo);
    const s = modelSigningStatement(
      layers.map((l) => ({
        name: `${l.annotations!['org.opencontainers.image.title']}:0:${l.size}`,
        digest: l.digest,
        algorithm: 'sha256-sharded-1000000000',
      })),
      { method: 'shards', shardSize: 1000000000.0 },
    );
    const parsed = parseStatement('application/vnd.in-toto+json', json(s));
    if (!parsed.ok) throw new Error(parsed.error);
    expect(bindModelSigning(parsed.statement, layers)).toMatchObject({ ok: true, method: 'shards' });
  });
});
