// The negative corpus: every way a model must NOT get through, each denied with its reason code.
// Signatures are made by real tools (fixtures), by keys (cosign's and model_signing's formats) and by a
// private mock Sigstore (CA + CT log + transparency log), and the real public-good bundle.
import { createHash, sign as nodeSign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactEvidence } from '../../../src/evidence/types.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import type { ReasonCode } from '../../../src/verdict/reasons.ts';
import { SignatureVerifier, type SignatureVerifierOptions } from '../../../src/verify/signatures.ts';
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
  fixture,
  fixtureText,
  json,
  keyAuthority,
  MemoryRepo,
  messageBundle,
  modelLayers,
  modelSigningStatement,
  policy,
  sha256,
  statement,
  TITLE,
} from './builders.ts';
import { type Identity, type TestSigstore, testSigstore } from './keyless.ts';

const signal = new AbortController().signal;
const ID: Identity = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main',
};
const ROOT_REF = {
  configMapRef: { namespace: 'modelgate-system', name: 'private-root', key: 'trusted_root.json' },
};
const P256 = fixtureText('model-signing/p256.pub');
const WHEEL = 'sha256:c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201';

interface Case {
  readonly e: ArtifactEvidence;
  readonly p: CompiledPolicy;
  readonly opts?: SignatureVerifierOptions;
}

let mock: TestSigstore;
let rogue: TestSigstore;
const keylessOpts = (): SignatureVerifierOptions => ({
  trustedRoots: { trustedRoot: async () => mock.trustedRoot },
});
const keyless = (extra: Record<string, unknown> = {}) => ({
  name: 'ci',
  keyless: { issuer: ID.issuer, subject: ID.subject, trustedRoot: ROOT_REF, ...extra },
});

/** An artifact with one weights layer and the given bundle attached as a referrer. */
function withReferrer(bundle: (digest: string) => unknown | Promise<unknown>) {
  return async () => {
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.safetensors', 'weights')]);
    const ref = attach(repo, a, [repo.blob(json(await bundle(a.digest)), BUNDLE_V03)]);
    return { repo, a, e: evidence(repo, a, [ref]) };
  };
}

function modelSigned(
  sig: Buffer,
  extraLayers: (repo: MemoryRepo) => ReturnType<MemoryRepo['file']>[] = () => [],
) {
  const repo = new MemoryRepo();
  const a = artifact(repo, [...modelLayers(repo), ...extraLayers(repo), repo.file('model.sig', sig)]);
  return evidence(repo, a);
}

const key = ecKey();
const otherKey = ecKey();

/** A model with a legacy `.sig` tag whose one layer is `payload`, validly signed with `key`. */
function legacyCase(payload: (digest: string) => Buffer): Case {
  const repo = new MemoryRepo();
  const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
  const bytes = payload(a.digest);
  const layer = repo.blob(bytes, 'application/vnd.dev.cosign.simplesigning.v1+json', {
    'dev.cosignproject.cosign/signature': nodeSign('sha256', bytes, key.privateKey).toString('base64'),
  });
  const manifest = { schemaVersion: 2 as const, config: layer, layers: [layer] };
  return {
    e: evidence(repo, a),
    p: policy({ authorities: [keyAuthority('k', key.pem)] }),
    opts: { legacyTags: async () => ({ tag: 't.sig', digest: sha256('m'), manifest }) },
  };
}

/** An artifact with one weights layer and these raw bundle bytes attached as a referrer. */
function withRawReferrer(bytes: (digest: string) => Buffer) {
  const repo = new MemoryRepo();
  const a = artifact(repo, [repo.phantom('model.safetensors', 'weights')]);
  const ref = attach(repo, a, [repo.blob(bytes(a.digest), BUNDLE_V03)]);
  return evidence(repo, a, [ref]);
}

const CASES: [string, ReasonCode, () => Promise<Case>][] = [
  // --- keys and cosign
  [
    'cosign bundle verified with the wrong key',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const f = cosignFixture(repo);
      return {
        e: evidence(repo, f.artifact, [f.referrer]),
        p: policy({ authorities: [keyAuthority('k', key.pem)] }),
      };
    },
  ],
  [
    'legacy .sig signature verified with the wrong key',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const f = cosignFixture(repo);
      return {
        e: evidence(repo, f.artifact),
        p: policy({ authorities: [keyAuthority('k', key.pem)] }),
        opts: { legacyTags: f.legacyTags },
      };
    },
  ],
  [
    'no signature anywhere',
    'SIGNATURE_MISSING',
    async () => {
      const repo = new MemoryRepo();
      const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
      return { e: evidence(repo, a), p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'tampered DSSE payload (subject changed after signing)',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) =>
        dsseBundle(key, cosignStatement(sha256('another model')), {
          tamper: () => json(cosignStatement(d)),
        }),
      )();
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'valid signature for another model digest',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer(() => dsseBundle(key, cosignStatement(sha256('another model'))))();
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'legacy simple-signing payload for another digest',
    'SIGNATURE_INVALID',
    async () =>
      legacyCase(() =>
        json({
          critical: {
            identity: { 'docker-reference': 'x' },
            image: { 'docker-manifest-digest': sha256('another model') },
            type: 'cosign container image signature',
          },
          optional: null,
        }),
      ),
  ],
  [
    'legacy signature annotation that does not match the payload',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const f = cosignFixture(repo);
      const m = structuredClone(f.legacyManifest);
      m.layers[0]!.annotations!['dev.cosignproject.cosign/signature'] = nodeSign(
        'sha256',
        Buffer.from('something else'),
        key.privateKey,
      ).toString('base64');
      return {
        e: evidence(repo, f.artifact),
        p: policy({ authorities: [keyAuthority('k', f.pem)] }),
        opts: { legacyTags: async () => ({ tag: 't.sig', digest: sha256('m'), manifest: m }) },
      };
    },
  ],
  [
    'only an attestation (not a signature) about the model',
    'SIGNATURE_MISSING',
    async () => {
      const { e } = await withReferrer((d) =>
        dsseBundle(
          key,
          statement({ subject: [{ digest: { sha256: d.slice(7) } }], predicateType: 'https://x/v1' }),
        ),
      )();
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'DSSE payload that is not an in-toto statement',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) =>
        dsseBundle(key, Buffer.from(d), { payloadType: 'text/plain' }),
      )();
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'DSSE envelope with two signatures',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) => {
        const b = dsseBundle(key, cosignStatement(d)) as { dsseEnvelope: { signatures: unknown[] } };
        b.dsseEnvelope.signatures.push(b.dsseEnvelope.signatures[0]);
        return b;
      })();
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'bundle media type spoofing: a referrer that says bundle but holds a CycloneDX document',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer(() => ({ bomFormat: 'CycloneDX', specVersion: '1.6' }))();
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'bundle media type spoofing: the weights layer claims to be a bundle to escape coverage',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const layers = modelLayers(repo, { store: true });
      // weights.bin relabelled as a bundle (and re-pushed with other bytes) to be "a signature layer".
      layers[2] = repo.file('weights.bin', 'evil weights', BUNDLE_V03);
      const a = artifact(repo, [...layers, repo.file('model.sig', fixture('model-signing/files-p256.sig'))]);
      return { e: evidence(repo, a), p: policy({ authorities: [keyAuthority('k', P256)] }) };
    },
  ],
  [
    'referrer whose manifest names another subject',
    'SIGNATURE_MISSING',
    async () => {
      const repo = new MemoryRepo();
      const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
      const b = artifact(repo, [repo.phantom('other.safetensors', 'x')]);
      const ref = attach(repo, b, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]);
      return { e: evidence(repo, a, [ref]), p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'key authority that requires a transparency-log entry, bundle without one',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) => dsseBundle(key, cosignStatement(d)))();
      return {
        e,
        p: policy({ authorities: [keyAuthority('k', key.pem, { transparencyLog: { required: true } })] }),
      };
    },
  ],
  [
    'key authority whose Secret cannot be read (no Secret source): fails closed',
    'TRUST_UNAVAILABLE',
    async () => {
      const { e } = await withReferrer((d) => dsseBundle(key, cosignStatement(d)))();
      return {
        e,
        p: policy({
          authorities: [
            { name: 'k', key: { secretRef: { namespace: 'ns', name: 'keys', key: 'cosign.pub' } } },
          ],
        }),
      };
    },
  ],
  [
    'message signature beside a file whose layer digest was swapped',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const b = messageBundle(key, { content: Buffer.from('original weights') });
      const a = artifact(repo, [
        repo.phantom('model.pt', 'swapped weights'),
        repo.file('model.pt.sigstore.json', json(b), BUNDLE_V03),
      ]);
      return { e: evidence(repo, a), p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'message signature with a SHA-384 digest beside a file (cannot be matched with the layer sha256)',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const content = Buffer.from('weights');
      const b = {
        mediaType: BUNDLE_V03,
        verificationMaterial: { publicKey: { hint: '' } },
        messageSignature: {
          messageDigest: {
            algorithm: 'SHA2_384',
            digest: createHash('sha384').update(content).digest('base64'),
          },
          signature: nodeSign('sha384', content, key.privateKey).toString('base64'),
        },
      };
      const a = artifact(repo, [
        repo.phantom('model.pt', content),
        repo.file('model.pt.sigstore.json', json(b)),
      ]);
      return { e: evidence(repo, a), p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'Ed25519 message signature beside a file (EdDSA needs the bytes, which are never read)',
    'SIGNATURE_INVALID',
    async () => {
      const ed = ed25519Key();
      const repo = new MemoryRepo();
      const b = messageBundle(ed, { content: Buffer.from('weights') });
      const a = artifact(repo, [
        repo.phantom('model.pt', 'weights'),
        repo.file('model.pt.sigstore.json', json(b)),
      ]);
      return { e: evidence(repo, a), p: policy({ authorities: [keyAuthority('k', ed.pem)] }) };
    },
  ],
  [
    'bundle beside one file, another file unsigned',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const b = messageBundle(key, { content: Buffer.from('weights') });
      const a = artifact(repo, [
        repo.phantom('model.pt', 'weights'),
        repo.phantom('mlbom.json', '{}'),
        repo.file('model.pt.sigstore.json', json(b)),
      ]);
      return { e: evidence(repo, a), p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  // --- model_signing
  [
    'model_signing signature verified with the wrong key',
    'SIGNATURE_INVALID',
    async () => ({
      e: modelSigned(fixture('model-signing/files-p256.sig')),
      p: policy({ authorities: [keyAuthority('k', fixtureText('model-signing/p384.pub'))] }),
    }),
  ],
  [
    'model_signing: tampered resources list (digest edited after signing)',
    'SIGNATURE_INVALID',
    async () => {
      const b = JSON.parse(fixtureText('model-signing/files-p256.sig'));
      const s = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
      s.predicate.resources[2].digest = sha256('evil weights').slice(7);
      b.dsseEnvelope.payload = json(s).toString('base64');
      return { e: modelSigned(json(b)), p: policy({ authorities: [keyAuthority('k', P256)] }) };
    },
  ],
  [
    'model_signing: signed resources that do not hash to the root digest',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const layers = modelLayers(repo);
      const s = modelSigningStatement(
        layers.map((l) => ({ name: l.annotations![TITLE]!, digest: l.digest })),
        { root: sha256('not the root').slice(7) },
      );
      return {
        e: evidence(repo, artifact(repo, [...layers, repo.file('model.sig', json(dsseBundle(key, s)))])),
        p: policy({ authorities: [keyAuthority('k', key.pem)] }),
      };
    },
  ],
  [
    'model_signing: extra unsigned layer',
    'SIGNATURE_INVALID',
    async () => ({
      e: modelSigned(fixture('model-signing/files-p256.sig'), (r) => [r.phantom('extra.bin', 'x')]),
      p: policy({ authorities: [keyAuthority('k', P256)] }),
    }),
  ],
  [
    'model_signing: extra unsigned layer not covered by allowUnsignedFiles globs',
    'SIGNATURE_INVALID',
    async () => ({
      e: modelSigned(fixture('model-signing/files-p256.sig'), (r) => [r.phantom('extra.bin', 'x')]),
      p: policy({ authorities: [keyAuthority('k', P256)], allowUnsignedFiles: ['*.md', 'docs/**'] }),
    }),
  ],
  [
    'model_signing: swapped layer digest (same title, other bytes)',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const layers = modelLayers(repo);
      layers[2] = repo.phantom('weights.bin', 'other weights');
      return {
        e: evidence(
          repo,
          artifact(repo, [...layers, repo.file('model.sig', fixture('model-signing/files-p256.sig'))]),
        ),
        p: policy({ authorities: [keyAuthority('k', P256)] }),
      };
    },
  ],
  [
    'model_signing: a signed file missing from the artifact',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const layers = modelLayers(repo).slice(0, 2);
      return {
        e: evidence(
          repo,
          artifact(repo, [...layers, repo.file('model.sig', fixture('model-signing/files-p256.sig'))]),
        ),
        p: policy({ authorities: [keyAuthority('k', P256)] }),
      };
    },
  ],
  [
    'model_signing: file signed in several shards',
    'SIGNATURE_INVALID',
    async () => ({
      e: modelSigned(fixture('model-signing/shards-1000.sig')),
      p: policy({ authorities: [keyAuthority('k', P256)] }),
    }),
  ],
  [
    'model_signing: files hashed with blake2 (not comparable with layer digests)',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const layers = modelLayers(repo);
      const s = modelSigningStatement(
        layers.map((l) => ({ name: l.annotations![TITLE]!, digest: l.digest, algorithm: 'blake2' })),
      );
      return {
        e: evidence(repo, artifact(repo, [...layers, repo.file('model.sig', json(dsseBundle(key, s)))])),
        p: policy({ authorities: [keyAuthority('k', key.pem)] }),
      };
    },
  ],
  [
    'model_signing: a resource listed twice',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const layers = modelLayers(repo);
      const res = layers.map((l) => ({ name: l.annotations![TITLE]!, digest: l.digest }));
      const s = modelSigningStatement([...res, res[0]!]);
      return {
        e: evidence(repo, artifact(repo, [...layers, repo.file('model.sig', json(dsseBundle(key, s)))])),
        p: policy({ authorities: [keyAuthority('k', key.pem)] }),
      };
    },
  ],
  // --- thresholds
  [
    'duplicated signature counted twice for a threshold (two authorities with one key)',
    'THRESHOLD_NOT_MET',
    async () => {
      const { e } = await withReferrer((d) => dsseBundle(key, cosignStatement(d)))();
      return {
        e,
        p: policy({ threshold: 2, authorities: [keyAuthority('a', key.pem), keyAuthority('b', key.pem)] }),
      };
    },
  ],
  [
    'the same bundle attached twice, threshold 2 over two keys',
    'THRESHOLD_NOT_MET',
    async () => {
      const repo = new MemoryRepo();
      const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
      const bundle = repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03);
      const refs = [
        attach(repo, a, [bundle], { artifactType: BUNDLE_V03 }),
        attach(repo, a, [bundle], { artifactType: 'application/vnd.dev.sigstore.bundle+json;version=0.3' }),
      ];
      return {
        e: evidence(repo, a, refs),
        p: policy({
          threshold: 2,
          authorities: [keyAuthority('a', key.pem), keyAuthority('b', otherKey.pem)],
        }),
      };
    },
  ],
  [
    'two signatures by one key, two authorities naming that key, threshold 2',
    'THRESHOLD_NOT_MET',
    async () => {
      const repo = new MemoryRepo();
      const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
      const refs = [1, 2].map(() =>
        attach(repo, a, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]),
      );
      return {
        e: evidence(repo, a, refs),
        p: policy({ threshold: 2, authorities: [keyAuthority('a', key.pem), keyAuthority('b', key.pem)] }),
      };
    },
  ],
  // --- keyless (mock Sigstore)
  [
    'keyless: wrong subject',
    'IDENTITY_MISMATCH',
    async () => {
      const { e } = await withReferrer((d) =>
        mock.dsse(
          { ...ID, subject: 'https://github.com/mallory/models/.github/workflows/x.yml@refs/heads/main' },
          json(cosignStatement(d)),
        ),
      )();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless: wrong issuer',
    'IDENTITY_MISMATCH',
    async () => {
      const { e } = await withReferrer((d) =>
        mock.dsse({ ...ID, issuer: 'https://accounts.example.com' }, json(cosignStatement(d))),
      )();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless: unanchored-regexp bypass (the pattern appears inside the subject)',
    'IDENTITY_MISMATCH',
    async () => {
      const { e } = await withReferrer((d) =>
        mock.dsse(
          {
            ...ID,
            subject:
              'https://evil.example/?https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main',
          },
          json(cosignStatement(d)),
        ),
      )();
      return {
        e,
        p: policy({
          authorities: [
            keyless({
              subject: undefined,
              subjectRegExp:
                'https://github\\.com/acme/models/\\.github/workflows/train\\.yml@refs/heads/main',
            }),
          ],
        }),
        opts: keylessOpts(),
      };
    },
  ],
  [
    'keyless: unanchored-regexp bypass (a longer subject that starts with the pattern)',
    'IDENTITY_MISMATCH',
    async () => {
      const { e } = await withReferrer((d) =>
        mock.dsse(
          {
            ...ID,
            subject: 'https://github.com/acme/models-evil/.github/workflows/train.yml@refs/heads/main',
          },
          json(cosignStatement(d)),
        ),
      )();
      return {
        e,
        p: policy({
          authorities: [keyless({ subject: undefined, subjectRegExp: 'https://github\\.com/acme/models' })],
        }),
        opts: keylessOpts(),
      };
    },
  ],
  [
    'keyless: expired certificate outside its log time',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) =>
        mock.dsse(ID, json(cosignStatement(d)), { logTime: new Date(mock.t0.getTime() + 3_600_000) }),
      )();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless: missing transparency-log entry (required)',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) => mock.dsse(ID, json(cosignStatement(d)), { noTlog: true }))();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless: certificate without an SCT',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) => mock.dsse(ID, json(cosignStatement(d)), { noSct: true }))();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless: bundle from an untrusted root (another CA and log)',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) => rogue.dsse(ID, json(cosignStatement(d))))();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless: public-good bundle checked against the private root only',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const wheel = {
        mediaType: 'application/octet-stream',
        digest: WHEEL,
        size: 1,
        annotations: { [TITLE]: 'w.whl' },
      };
      const b = repo.file(
        'w.whl.sigstore.json',
        fixture('public-good/rfc8785-0.1.2-py3-none-any.whl.sigstore.json'),
      );
      return {
        e: evidence(repo, artifact(repo, [wheel, b])),
        p: policy({ authorities: [keyless()] }),
        opts: keylessOpts(),
      };
    },
  ],
  [
    'keyless: tampered transparency-log entry body',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer(async (d) => {
        const b = (await mock.dsse(ID, json(cosignStatement(d)))) as {
          verificationMaterial: { tlogEntries: { canonicalizedBody: string }[] };
        };
        const entry = b.verificationMaterial.tlogEntries[0]!;
        const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString());
        body.spec.payloadHash.value = sha256('x').slice(7);
        entry.canonicalizedBody = json(body).toString('base64');
        return b;
      })();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless authority given a key-signed bundle',
    'SIGNATURE_INVALID',
    async () => {
      const { e } = await withReferrer((d) => dsseBundle(key, cosignStatement(d)))();
      return { e, p: policy({ authorities: [keyless()] }), opts: keylessOpts() };
    },
  ],
  [
    'keyless authority whose trusted-root ConfigMap cannot be read (no source): fails closed',
    'TRUST_UNAVAILABLE',
    async () => {
      const { e } = await withReferrer((d) => mock.dsse(ID, json(cosignStatement(d))))();
      return { e, p: policy({ authorities: [keyless()] }) };
    },
  ],
  [
    'public-good bundle beside a file: wrong workflow identity',
    'IDENTITY_MISMATCH',
    async () => {
      const repo = new MemoryRepo();
      const wheel = {
        mediaType: 'application/octet-stream',
        digest: WHEEL,
        size: 1,
        annotations: { [TITLE]: 'w.whl' },
      };
      const b = repo.file(
        'w.whl.sigstore.json',
        fixture('public-good/rfc8785-0.1.2-py3-none-any.whl.sigstore.json'),
      );
      return {
        e: evidence(repo, artifact(repo, [wheel, b])),
        p: policy({
          authorities: [
            {
              name: 'gha',
              keyless: {
                issuer: 'https://token.actions.githubusercontent.com',
                subject:
                  'https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/heads/main',
              },
            },
          ],
        }),
      };
    },
  ],
  [
    'public-good bundle beside a file of another digest',
    'SIGNATURE_INVALID',
    async () => {
      const repo = new MemoryRepo();
      const b = repo.file(
        'w.whl.sigstore.json',
        fixture('public-good/rfc8785-0.1.2-py3-none-any.whl.sigstore.json'),
      );
      return {
        e: evidence(repo, artifact(repo, [repo.phantom('w.whl', 'another wheel'), b])),
        p: policy({
          authorities: [
            {
              name: 'gha',
              keyless: { issuer: 'https://token.actions.githubusercontent.com', subjectRegExp: '.*' },
            },
          ],
        }),
      };
    },
  ],
  [
    'threshold 2 (keyless + key): only the keyless signature present',
    'THRESHOLD_NOT_MET',
    async () => {
      const { e } = await withReferrer((d) => mock.dsse(ID, json(cosignStatement(d))))();
      return {
        e,
        p: policy({ threshold: 2, authorities: [keyless(), keyAuthority('release', key.pem)] }),
        opts: keylessOpts(),
      };
    },
  ],
  // --- documents two readers could read differently (cosign and sigstore-go use Go's encoding/json)
  [
    'validly signed statement with a second, case-variant subject list',
    'ARTIFACT_AMBIGUOUS',
    async () => {
      const e = withRawReferrer((d) => {
        const body = JSON.stringify(cosignStatement(d));
        // modelgate would read `subject` (this model); Go reads the last case-insensitive match: `Subject`.
        const payload = Buffer.from(
          body.replace(/\}$/, `,"Subject":[{"digest":{"sha256":"${sha256('other').slice(7)}"}}]}`),
        );
        return json(dsseBundle(key, payload));
      });
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'bundle with a duplicate dsseEnvelope (a valid one first, a forged one last)',
    'ARTIFACT_AMBIGUOUS',
    async () => {
      const e = withRawReferrer((d) => {
        const good = JSON.stringify(dsseBundle(key, cosignStatement(d)));
        const forged = JSON.stringify(dsseBundle(otherKey, cosignStatement(d)).dsseEnvelope);
        return Buffer.from(good.replace(/\}$/, `,"dsseEnvelope":${forged}}`));
      });
      return { e, p: policy({ authorities: [keyAuthority('k', key.pem)] }) };
    },
  ],
  [
    'legacy payload naming the image twice, in two cases',
    'ARTIFACT_AMBIGUOUS',
    async () =>
      legacyCase((digest) =>
        Buffer.from(
          `{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"${digest}"},"Image":{"docker-manifest-digest":"${sha256('other')}"},"type":"cosign container image signature"},"optional":null}`,
        ),
      ),
  ],
  [
    'threshold 2: one valid signature, the second authority only in an ambiguous bundle',
    'ARTIFACT_AMBIGUOUS',
    async () => {
      const repo = new MemoryRepo();
      const a = artifact(repo, [repo.phantom('model.safetensors', 'weights')]);
      const ok = attach(repo, a, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]);
      const odd = JSON.stringify(dsseBundle(otherKey, cosignStatement(a.digest))).replace(
        /^\{/,
        `{"MediaType":"${BUNDLE_V03}",`,
      );
      const amb = attach(repo, a, [repo.blob(Buffer.from(odd), BUNDLE_V03)]);
      return {
        e: evidence(repo, a, [ok, amb]),
        p: policy({
          threshold: 2,
          authorities: [keyAuthority('a', key.pem), keyAuthority('b', otherKey.pem)],
        }),
      };
    },
  ],
];

describe('negative corpus', () => {
  beforeAll(async () => {
    mock = await testSigstore('private');
    rogue = await testSigstore('rogue');
  });

  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES)('%s -> %s', async (_name, code, build) => {
    const c = await build();
    const r = await new SignatureVerifier(c.opts ?? {}).check(c.e, c.p, signal);
    expect(r.failures.map((f) => f.code)).toEqual([code]);
    expect(r.report).toMatchObject({ satisfied: false });
    // Every refusal says what was expected.
    expect(r.failures[0]!.message).toMatch(/needs|expected|expects/);
  });
});
