// Typed builders for the verify tests: an in-memory repository (the EvidenceReader), artifacts,
// referrers, policies, keys and key-signed bundles shaped exactly as cosign v3 and model_signing write
// them (the real tools' output is in test/fixtures/verify and is exercised live in the integration tests).
import { createHash, generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ArtifactEvidence, EvidenceReader } from '../../../src/evidence/types.ts';
import type { Descriptor, Index, Manifest } from '../../../src/oci/types.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { parseReference } from '../../../src/reference/reference.ts';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/verify/', import.meta.url));
export const fixture = (path: string) => readFileSync(`${FIXTURES}${path}`);
export const fixtureText = (path: string) => readFileSync(`${FIXTURES}${path}`, 'utf8');

export const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const EMPTY = 'application/vnd.oci.empty.v1+json';
export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const TITLE = 'org.opencontainers.image.title';

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const EMPTY_CONFIG: Descriptor = { mediaType: EMPTY, digest: sha256('{}'), size: 2 };

/** A repository held in memory: blobs and manifests by digest, reads counted. */
export class MemoryRepo {
  readonly blobs = new Map<string, Uint8Array>();
  readonly manifests = new Map<string, { mediaType: string; bytes: Uint8Array }>();
  readonly reads: string[] = [];

  /** Stores bytes and returns their descriptor. */
  blob(
    content: Uint8Array | string,
    mediaType = LAYER_TAR,
    annotations?: Record<string, string>,
  ): Descriptor {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length, ...(annotations ? { annotations } : {}) };
  }

  /** A file layer (titled like `oras push` does). */
  file(title: string, content: Uint8Array | string, mediaType = LAYER_TAR): Descriptor {
    return this.blob(content, mediaType, { [TITLE]: title });
  }

  /** A layer whose bytes are NOT stored: reading it fails the test (weights are never downloaded). */
  phantom(title: string, content: Uint8Array | string, mediaType = LAYER_TAR): Descriptor {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    return { mediaType, digest: sha256(bytes), size: bytes.length, annotations: { [TITLE]: title } };
  }

  manifest(m: Manifest | Index): { digest: string; descriptor: Descriptor; bytes: Uint8Array } {
    const bytes = Buffer.from(JSON.stringify(m));
    const digest = sha256(bytes);
    const mediaType = m.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
    this.manifests.set(digest, { mediaType, bytes });
    return {
      digest,
      bytes,
      descriptor: {
        mediaType,
        digest,
        size: bytes.length,
        ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      },
    };
  }

  /** Stores a manifest given as its exact bytes (a real tool's output). */
  rawManifest(bytes: Uint8Array): string {
    const m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
    const digest = sha256(bytes);
    this.manifests.set(digest, {
      mediaType: m.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
      bytes,
    });
    return digest;
  }

  reader(): EvidenceReader {
    return {
      blob: async (d, maxBytes) => {
        this.reads.push(d.digest);
        if (d.size > maxBytes) throw new Error(`blob ${d.digest} over cap`);
        const b = this.blobs.get(d.digest);
        if (b === undefined)
          throw new Error(`test repo: blob ${d.digest} was read but is not stored (weights?)`);
        return b;
      },
      range: async () => {
        throw new Error('range reads are not used by signature checks');
      },
      manifest: async (digest) => {
        this.reads.push(digest);
        const m = this.manifests.get(digest);
        if (m === undefined) throw new Error(`test repo: no manifest ${digest}`);
        return {
          mediaType: m.mediaType,
          manifest: JSON.parse(Buffer.from(m.bytes).toString('utf8')),
          bytes: m.bytes,
        };
      },
    };
  }
}

export interface Artifact {
  readonly digest: string;
  readonly manifest: Manifest;
  readonly descriptor: Descriptor;
}

/** An artifact manifest (as `oras push` makes) of the given layers. */
export function artifact(
  repo: MemoryRepo,
  layers: Descriptor[],
  artifactType = 'application/vnd.unknown.artifact.v1',
): Artifact {
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType,
    config: EMPTY_CONFIG,
    layers,
  };
  repo.blobs.set(EMPTY_CONFIG.digest, Buffer.from('{}'));
  const m = repo.manifest(manifest);
  return { digest: m.digest, manifest, descriptor: m.descriptor };
}

/** Attaches blobs as a referrer of `subject` (as `oras attach` / cosign do); returns the descriptor a registry lists. */
export function attach(
  repo: MemoryRepo,
  subject: Artifact,
  layers: Descriptor[],
  opts: { artifactType?: string; listedAs?: string | null } = {},
): Descriptor {
  const artifactType = opts.artifactType ?? BUNDLE_V03;
  const m = repo.manifest({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType,
    config: EMPTY_CONFIG,
    layers,
    subject: subject.descriptor,
  });
  // go-containerregistry lists the config media type as the artifact type: `listedAs` mimics that.
  const listed = opts.listedAs === undefined ? artifactType : opts.listedAs;
  const { artifactType: _drop, ...rest } = m.descriptor;
  return listed === null ? rest : { ...rest, artifactType: listed };
}

export function evidence(
  repo: MemoryRepo,
  a: Artifact,
  referrers: Descriptor[] = [],
  reference = '127.0.0.1:5000/models/m',
): ArtifactEvidence {
  const parsed = parseReference(`${reference}@${a.digest}`);
  if (!parsed.ok) throw new Error(parsed.error);
  return {
    reference: parsed.ref,
    digest: a.digest,
    mediaType: a.descriptor.mediaType,
    ...(a.manifest.artifactType ? { artifactType: a.manifest.artifactType } : {}),
    manifest: a.manifest,
    layers: a.manifest.layers,
    referrers,
    reader: repo.reader(),
  };
}

let policyCount = 0;

/** A compiled policy with the given `signatures` section (a fresh uid each time unless given). */
export function policy(
  signatures: Record<string, unknown>,
  opts: { uid?: string; generation?: number } = {},
): CompiledPolicy {
  const v = validateModelPolicy({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: {
      name: 'p',
      uid: opts.uid ?? `uid-${++policyCount}`,
      generation: opts.generation ?? 1,
    },
    spec: { models: ['127.0.0.1:5000/**'], signatures },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return compilePolicy(v.policy);
}

export const keyAuthority = (name: string, pem: string, extra: Record<string, unknown> = {}) => ({
  name,
  key: { pem },
  ...extra,
});

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly pem: string;
}

export function ecKey(namedCurve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return { privateKey, publicKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function ed25519Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

const HASH_FOR: Record<string, string> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

/** Signs as cosign and model_signing do: ECDSA with the curve's hash (DER), Ed25519 pure. */
export function signBytes(key: TestKey, data: Uint8Array): Buffer {
  if (key.privateKey.asymmetricKeyType === 'ed25519') return nodeSign(null, data, key.privateKey);
  const curve = key.privateKey.asymmetricKeyDetails?.namedCurve ?? 'prime256v1';
  return nodeSign(HASH_FOR[curve] ?? 'sha256', data, key.privateKey);
}

export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const t = Buffer.from(payloadType);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${t.length} `),
    t,
    Buffer.from(` ${payload.length} `),
    Buffer.from(payload),
  ]);
}

export interface StatementSpec {
  subject: { name?: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate?: unknown;
}

export function statement(s: StatementSpec): Record<string, unknown> {
  return { _type: 'https://in-toto.io/Statement/v1', ...s, predicate: s.predicate ?? {} };
}

/** cosign v3's signing statement for a manifest digest. */
export function cosignStatement(digest: string): Record<string, unknown> {
  return statement({
    subject: [{ digest: { sha256: digest.replace(/^sha256:/, '') } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
  });
}

/** A key-signed DSSE bundle (v0.3), as `cosign sign --key` offline writes it. */
export function dsseBundle(
  key: TestKey,
  payload: Uint8Array | Record<string, unknown>,
  opts: { payloadType?: string; hint?: string; tamper?: (payload: Buffer) => Buffer } = {},
): Record<string, unknown> {
  const payloadType = opts.payloadType ?? 'application/vnd.in-toto+json';
  const bytes = payload instanceof Uint8Array ? Buffer.from(payload) : Buffer.from(JSON.stringify(payload));
  const sig = signBytes(key, pae(payloadType, bytes));
  const stored = opts.tamper ? opts.tamper(bytes) : bytes;
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: { publicKey: { hint: opts.hint ?? hintOf(key) } },
    dsseEnvelope: {
      payload: stored.toString('base64'),
      payloadType,
      signatures: [{ sig: sig.toString('base64') }],
    },
  };
}

/** A key-signed message-signature bundle over a digest (as `cosign sign-blob --key --new-bundle-format`). */
export function messageBundle(
  key: TestKey,
  contentOrDigest: { content: Uint8Array } | { digestHex: string; sign?: Uint8Array },
) {
  const digestHex =
    'content' in contentOrDigest
      ? createHash('sha256').update(contentOrDigest.content).digest('hex')
      : contentOrDigest.digestHex;
  const signed = 'content' in contentOrDigest ? contentOrDigest.content : contentOrDigest.sign;
  if (signed === undefined) throw new Error('messageBundle needs the content to sign');
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: { publicKey: { hint: hintOf(key) } },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(digestHex, 'hex').toString('base64') },
      // The message digest is SHA-256, so the signature is over that digest whatever the curve.
      signature: (key.privateKey.asymmetricKeyType === 'ed25519'
        ? nodeSign(null, signed, key.privateKey)
        : nodeSign('sha256', signed, key.privateKey)
      ).toString('base64'),
    },
  };
}

export function hintOf(key: TestKey): string {
  return createHash('sha256')
    .update(key.publicKey.export({ format: 'der', type: 'spki' }))
    .digest('base64');
}

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** model_signing's v1.0 statement for files (or shards) with the given digests, root digest computed. */
export function modelSigningStatement(
  resources: { name: string; digest: string; algorithm?: string }[],
  opts: { method?: 'files' | 'shards'; root?: string; shardSize?: number } = {},
): Record<string, unknown> {
  const h = createHash('sha256');
  for (const r of resources) h.update(Buffer.from(r.digest.replace(/^sha256:/, ''), 'hex'));
  return statement({
    subject: [{ name: 'model', digest: { sha256: opts.root ?? h.digest('hex') } }],
    predicateType: 'https://model_signing/signature/v1.0',
    predicate: {
      serialization: {
        method: opts.method ?? 'files',
        hash_type: 'sha256',
        allow_symlinks: false,
        ignore_paths: ['model.sig'],
        ...(opts.method === 'shards' ? { shard_size: opts.shardSize ?? 1000000000.0 } : {}),
      },
      resources: resources.map((r) => ({
        name: r.name,
        algorithm: r.algorithm ?? 'sha256',
        digest: r.digest.replace(/^sha256:/, ''),
      })),
    },
  });
}

/** The real cosign fixture (test/fixtures/verify/cosign): the artifact, its v3 bundle referrer and legacy tag. */
export function cosignFixture(repo: MemoryRepo) {
  const bytes = fixture('cosign/manifest.json');
  const digest = repo.rawManifest(bytes);
  const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  for (const l of manifest.layers) repo.blobs.set(l.digest, Buffer.from('fixture weights\n'));
  const a: Artifact = {
    digest,
    manifest,
    descriptor: { mediaType: manifest.mediaType!, digest, size: bytes.length },
  };
  const refBytes = fixture('cosign/referrer-manifest.json');
  const refDigest = repo.rawManifest(refBytes);
  repo.blob(fixture('cosign/bundle.sigstore.json'), BUNDLE_V03);
  // As go-containerregistry lists it: the empty config's media type as the artifact type.
  const referrer: Descriptor = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: refDigest,
    size: refBytes.length,
    artifactType: EMPTY,
  };
  const legacyBytes = fixture('cosign/legacy-sig-manifest.json');
  const legacyDigest = repo.rawManifest(legacyBytes);
  repo.blob(fixture('cosign/legacy-payload.json'), 'application/vnd.dev.cosign.simplesigning.v1+json');
  const legacyManifest = JSON.parse(legacyBytes.toString('utf8')) as Manifest;
  const legacyTags = async () => ({
    tag: `${digest.replace(':', '-')}.sig`,
    digest: legacyDigest,
    manifest: legacyManifest,
  });
  return { artifact: a, referrer, legacyTags, legacyManifest, pem: fixtureText('cosign/cosign.pub') };
}

/** The model directory of test/fixtures/verify/model-signing as file layers (titles = paths), bytes stored or not. */
export function modelLayers(repo: MemoryRepo, opts: { store?: boolean } = {}): Descriptor[] {
  const files = ['config.json', 'sub/tokenizer.json', 'weights.bin'];
  return files.map((f) => {
    const bytes = fixture(`model-signing/model/${f}`);
    return opts.store ? repo.file(f, bytes) : repo.phantom(f, bytes);
  });
}
