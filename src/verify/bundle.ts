/**
 * Sigstore bundles as this verifier reads them: parsed and validated with
 * `@sigstore/bundle`, then turned into the `SignedEntity` that
 * `@sigstore/verify` checks, with the signature check swapped for one that
 * (a) uses the hash the key's algorithm calls for and (b) for a message
 * signature over a file layer, verifies over the layer digest the manifest
 * already binds, instead of over the file's bytes.
 */
import { type Bundle, bundleFromJSON, type TransparencyLogEntry } from '@sigstore/bundle';
import { dsse, X509Certificate } from '@sigstore/core';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { type SignedEntity, toSignedEntity } from '@sigstore/verify';
import { isStrictJsonError, knownFields, parseStrictJson } from '../oci/strict-json.ts';
import { verifyData, verifyDigest } from './crypto.ts';

/** Media types a Sigstore bundle is stored under (OCI layer or artifact type). */
export const BUNDLE_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
]);

/** Largest bundle read (a bundle with a certificate chain and two log entries is ~10 KiB). */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

const HASHES: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

export interface ParsedBundle {
  readonly bundle: Bundle;
  readonly mediaType: string;
  /** What the signature is over. */
  readonly content:
    | { readonly kind: 'dsse'; readonly payloadType: string; readonly payload: Buffer }
    | { readonly kind: 'message'; readonly algorithm: string | undefined; readonly digest: Buffer };
  /** The signing key: a hint (key-signed) or a certificate (keyless). */
  readonly key:
    | { readonly kind: 'public-key'; readonly hint: string }
    | { readonly kind: 'certificate'; readonly certificate: X509Certificate };
  /** Raw signature bytes: what "the same signature" means when one is found twice. */
  readonly signature: Buffer;
}

export class BundleFormatError extends Error {
  /** Set when the document is refused because its consumers could read it differently. */
  readonly code: 'ARTIFACT_AMBIGUOUS' | undefined;

  constructor(message: string, options?: { cause?: unknown; code?: 'ARTIFACT_AMBIGUOUS' }) {
    super(message, options);
    this.name = 'BundleFormatError';
    this.code = options?.code;
  }
}

/**
 * The fields of a Sigstore bundle and the DSSE envelope in it (protobuf-specs' JSON names). sigstore-go
 * and cosign read bundles with protojson (camelCase or snake_case names), DSSE envelopes elsewhere with
 * encoding/json (any case): any other spelling of one is refused.
 */
export const BUNDLE_FIELDS = knownFields([
  'mediaType',
  'verificationMaterial',
  'publicKey',
  'hint',
  'x509CertificateChain',
  'certificates',
  'certificate',
  'rawBytes',
  'tlogEntries',
  'logIndex',
  'logId',
  'keyId',
  'kindVersion',
  'kind',
  'version',
  'integratedTime',
  'inclusionPromise',
  'signedEntryTimestamp',
  'inclusionProof',
  'rootHash',
  'treeSize',
  'hashes',
  'checkpoint',
  'envelope',
  'canonicalizedBody',
  'timestampVerificationData',
  'rfc3161Timestamps',
  'signedTimestamp',
  'messageSignature',
  'messageDigest',
  'algorithm',
  'digest',
  'signature',
  'dsseEnvelope',
  'payload',
  'payloadType',
  'signatures',
  'sig',
  'keyid',
]);

/** Parses security-document JSON strictly, as a BundleFormatError when refused. */
export function parseBundleDocument(
  bytes: Uint8Array | string,
  what: string,
  known: ReturnType<typeof knownFields>,
): unknown {
  try {
    return parseStrictJson(bytes, { known, topLevel: 'any' });
  } catch (err) {
    if (isStrictJsonError(err) && err.code === 'ARTIFACT_AMBIGUOUS')
      throw new BundleFormatError(`${what} is ambiguous: ${err.message}`, { cause: err, code: err.code });
    throw new BundleFormatError(`${what} is not JSON`, { cause: err });
  }
}

/** Parses bundle JSON bytes. Throws `BundleFormatError` for anything that is not a well-formed bundle. */
export function parseBundle(bytes: Uint8Array): ParsedBundle {
  if (bytes.length > MAX_BUNDLE_BYTES)
    throw new BundleFormatError(`bundle larger than ${MAX_BUNDLE_BYTES} bytes`);
  return parseBundleJson(parseBundleDocument(bytes, 'bundle', BUNDLE_FIELDS));
}

export function parseBundleJson(json: unknown): ParsedBundle {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    throw new BundleFormatError(`not a Sigstore bundle: ${(err as Error).message}`, { cause: err });
  }
  const mediaType = bundle.mediaType;
  let content: ParsedBundle['content'];
  let signature: Buffer;
  if (bundle.content.$case === 'dsseEnvelope') {
    const env = bundle.content.dsseEnvelope;
    if (env.signatures.length !== 1) {
      throw new BundleFormatError(
        `DSSE envelope carries ${env.signatures.length} signatures (a bundle has one)`,
      );
    }
    content = { kind: 'dsse', payloadType: env.payloadType, payload: Buffer.from(env.payload) };
    signature = Buffer.from(env.signatures[0]!.sig);
  } else {
    const ms = bundle.content.messageSignature;
    content = {
      kind: 'message',
      algorithm: HASHES[ms.messageDigest.algorithm],
      digest: Buffer.from(ms.messageDigest.digest),
    };
    signature = Buffer.from(ms.signature);
  }
  const vm = bundle.verificationMaterial.content;
  let key: ParsedBundle['key'];
  try {
    switch (vm.$case) {
      case 'publicKey':
        key = { kind: 'public-key', hint: vm.publicKey.hint };
        break;
      case 'certificate':
        key = {
          kind: 'certificate',
          certificate: X509Certificate.parse(Buffer.from(vm.certificate.rawBytes)),
        };
        break;
      case 'x509CertificateChain': {
        const leaf = vm.x509CertificateChain.certificates[0];
        if (leaf === undefined) throw new BundleFormatError('empty certificate chain');
        key = { kind: 'certificate', certificate: X509Certificate.parse(Buffer.from(leaf.rawBytes)) };
        break;
      }
    }
  } catch (err) {
    if (err instanceof BundleFormatError) throw err;
    throw new BundleFormatError(`unreadable certificate: ${(err as Error).message}`, { cause: err });
  }
  return { bundle, mediaType, content, key, signature };
}

/** The identity a certificate claims (SAN and OIDC issuer), read without verifying it: for messages only. */
export function claimedIdentity(cert: X509Certificate): {
  subject: string | undefined;
  issuer: string | undefined;
} {
  let issuer: string | undefined;
  try {
    const v2 = cert.extension('1.3.6.1.4.1.57264.1.8');
    issuer = v2
      ? v2.valueObj.subs[0]?.value.toString('ascii')
      : cert.extension('1.3.6.1.4.1.57264.1.1')?.value.toString('ascii');
  } catch {
    issuer = undefined;
  }
  let subject: string | undefined;
  try {
    subject = cert.subjectAltName;
  } catch {
    subject = undefined;
  }
  return { subject, issuer };
}

/**
 * The entity `@sigstore/verify` checks. For a DSSE bundle the signature is over
 * the envelope (PAE). For a message signature, `over` says what was signed:
 * the bytes (a legacy simple-signing payload, small) or only the digest of a
 * file the registry holds, which the caller has already matched against the
 * bundle's `messageDigest`.
 */
export function signedEntity(
  b: ParsedBundle,
  over?: { readonly bytes: Uint8Array } | { readonly digest: Uint8Array },
): SignedEntity {
  const content = b.content;
  if (content.kind === 'message' && over === undefined) {
    throw new Error('a message signature needs the signed bytes or their digest');
  }
  const artifact = over !== undefined && 'bytes' in over ? Buffer.from(over.bytes) : undefined;
  const entity = toSignedEntity(b.bundle, artifact);
  const inner = entity.signature;
  let verifySignature: (key: Parameters<typeof inner.verifySignature>[0]) => boolean;
  if (content.kind === 'dsse') {
    const pae = dsse.preAuthEncoding(content.payloadType, content.payload);
    verifySignature = (key) => verifyData(key, pae, b.signature);
  } else if (artifact !== undefined) {
    verifySignature = (key) => verifyData(key, artifact, b.signature);
  } else {
    const digest = Buffer.from((over as { digest: Uint8Array }).digest);
    verifySignature = (key) => digest.equals(content.digest) && verifyDigest(key, digest, b.signature);
  }
  const out: SignedEntity = {
    ...entity,
    signature: {
      signature: inner.signature,
      compareSignature: (s) => inner.compareSignature(s),
      compareDigest: (d) => inner.compareDigest(d),
      compareSignedDigest: (d) => inner.compareSignedDigest(d),
      verifySignature,
    },
  };
  if (content.kind === 'message' && artifact === undefined) DIGEST_ONLY.add(out);
  return out;
}

const DIGEST_ONLY = new WeakSet<SignedEntity>();

/** Whether an entity's signature is checked over a digest alone (a file the verifier never reads). */
export function isDigestOnly(entity: SignedEntity): boolean {
  return DIGEST_ONLY.has(entity);
}

/** The entries of the bundle's transparency logs (for reports). */
export function tlogEntries(b: ParsedBundle): readonly TransparencyLogEntry[] {
  return b.bundle.verificationMaterial.tlogEntries;
}
