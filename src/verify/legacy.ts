/**
 * Legacy cosign signatures: the `sha256-<hex>.sig` tag whose layers are
 * simple-signing payloads (`critical.image.docker-manifest-digest`) with the
 * signature, certificate, chain and Rekor bundle in annotations. Each layer
 * is turned into an in-memory Sigstore bundle (a message signature over the
 * payload, which is small and read whole) so that one verifier checks both
 * formats.
 */
import { createHash } from 'node:crypto';
import type { ArtifactEvidence } from '../evidence/types.ts';
import type { RegistryClient } from '../oci/client.ts';
import { isStrictJsonError, knownFields, parseStrictJson } from '../oci/strict-json.ts';
import type { Descriptor, Manifest } from '../oci/types.ts';
import { isIndex } from '../oci/types.ts';
import { BundleFormatError, type ParsedBundle, parseBundleDocument, parseBundleJson } from './bundle.ts';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const MAX_SIMPLE_SIGNING_BYTES = 64 * 1024;

const ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  rekorBundle: 'dev.sigstore.cosign/bundle',
  timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

/** The manifest behind a model's legacy `.sig` tag, when there is one. */
export interface LegacySignatureManifest {
  readonly tag: string;
  readonly digest: string;
  readonly manifest: Manifest;
}

/** Fetches the legacy `.sig` tag of the artifact `e` (same repository), or undefined when there is none. */
export type LegacyTagFetcher = (
  e: ArtifactEvidence,
  signal: AbortSignal,
) => Promise<LegacySignatureManifest | undefined>;

/** The legacy-tag fetcher for a registry client (the only module that talks to registries). */
export function legacyTagFetcher(client: RegistryClient): LegacyTagFetcher {
  return async (e, signal) => {
    const { registry, repository } = e.reference;
    const tags = await client.legacyCosignTags(registry, repository, e.digest, signal);
    const sig = tags.sig;
    if (sig === undefined || isIndex(sig.manifest)) return undefined;
    return { tag: `${e.digest.replace(':', '-')}.sig`, digest: sig.digest, manifest: sig.manifest };
  };
}

/** The simple-signing payload's claims that matter here. */
export interface SimpleSigningPayload {
  readonly manifestDigest: string | undefined;
  readonly type: string | undefined;
  readonly reference: string | undefined;
}

/**
 * Fields of cosign's simple signing payload and its Rekor bundle annotation: cosign reads both with
 * encoding/json, which fills them from any case variant.
 */
const LEGACY_FIELDS = knownFields([
  'critical',
  'identity',
  'docker-reference',
  'image',
  'docker-manifest-digest',
  'type',
  'optional',
  'SignedEntryTimestamp',
  'Payload',
  'body',
  'integratedTime',
  'logIndex',
  'logID',
  'SignedRFC3161Timestamp',
  'kind',
  'apiVersion',
  'spec',
]);

/** The payload's claims; undefined when it is not a payload or is ambiguous (then nothing binds to it). */
export function parseSimpleSigning(bytes: Uint8Array): SimpleSigningPayload | undefined {
  return readSimpleSigning(bytes).claims;
}

/** The payload's claims, and why it was refused when two consumers could read it differently. */
export function readSimpleSigning(bytes: Uint8Array): {
  readonly claims: SimpleSigningPayload | undefined;
  readonly ambiguous?: string;
} {
  let j: {
    critical?: {
      image?: { 'docker-manifest-digest'?: unknown };
      type?: unknown;
      identity?: { 'docker-reference'?: unknown };
    };
  };
  try {
    j = parseStrictJson(bytes, { known: LEGACY_FIELDS, maxBytes: MAX_SIMPLE_SIGNING_BYTES }) as typeof j;
  } catch (err) {
    if (isStrictJsonError(err) && err.code === 'ARTIFACT_AMBIGUOUS')
      return { claims: undefined, ambiguous: err.message };
    return { claims: undefined };
  }
  const c = j?.critical;
  if (typeof c !== 'object' || c === null) return { claims: undefined };
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    claims: {
      manifestDigest: str(c.image?.['docker-manifest-digest']),
      type: str(c.type),
      reference: str(c.identity?.['docker-reference']),
    },
  };
}

/** The layers of a legacy signature manifest that hold signatures. */
export function simpleSigningLayers(m: Manifest): Descriptor[] {
  return m.layers.filter(
    (l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && l.annotations?.[ANNOTATION.signature],
  );
}

/**
 * A Sigstore bundle equivalent to one legacy signature layer: a message
 * signature over the payload, the certificate chain or a key hint, and the
 * Rekor entry with its signed entry timestamp (inclusion promise).
 */
export function legacyToBundle(layer: Descriptor, payload: Uint8Array): ParsedBundle {
  const a = layer.annotations ?? {};
  const sig = a[ANNOTATION.signature];
  if (!sig) throw new BundleFormatError('layer carries no signature annotation');
  const certificates = [...pemBlocks(a[ANNOTATION.certificate]), ...pemBlocks(a[ANNOTATION.chain])];
  const rekor = a[ANNOTATION.rekorBundle];
  const tlogEntries = rekor ? [rekorBundleEntry(rekor)] : [];
  let timestampVerificationData: unknown;
  const timestamp = a[ANNOTATION.timestamp];
  if (timestamp) {
    const t = parseBundleDocument(timestamp, 'RFC 3161 timestamp annotation', LEGACY_FIELDS) as {
      SignedRFC3161Timestamp?: string;
    } | null;
    if (typeof t?.SignedRFC3161Timestamp === 'string' && t.SignedRFC3161Timestamp !== '') {
      timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: t.SignedRFC3161Timestamp }] };
    }
  }
  const json = {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      ...(certificates.length > 0
        ? { x509CertificateChain: { certificates: certificates.map((rawBytes) => ({ rawBytes })) } }
        : { publicKey: { hint: '' } }),
      tlogEntries,
      ...(timestampVerificationData ? { timestampVerificationData } : {}),
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature: sig,
    },
  };
  return parseBundleJson(json);
}

function pemBlocks(pem: string | undefined): string[] {
  if (!pem) return [];
  const out: string[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(m[1]!.replace(/\s+/g, ''));
  }
  return out;
}

/** cosign's `dev.sigstore.cosign/bundle` (a Rekor entry with its SET) as a bundle's tlog entry. */
function rekorBundleEntry(text: string): unknown {
  const b = parseBundleDocument(text, 'Rekor bundle annotation', LEGACY_FIELDS) as {
    SignedEntryTimestamp?: string;
    Payload?: { body?: string; integratedTime?: number; logIndex?: number; logID?: string };
  } | null;
  if (typeof b !== 'object' || b === null) throw new BundleFormatError('unreadable Rekor bundle annotation');
  const p = b.Payload;
  if (!p?.body || p.logID === undefined || p.logIndex === undefined || p.integratedTime === undefined) {
    throw new BundleFormatError('Rekor bundle annotation lacks its payload');
  }
  const kind = parseBundleDocument(Buffer.from(p.body, 'base64'), 'Rekor entry body', LEGACY_FIELDS) as {
    kind?: string;
    apiVersion?: string;
  } | null;
  if (typeof kind !== 'object' || kind === null) throw new BundleFormatError('Rekor entry body is not JSON');
  return {
    logIndex: String(p.logIndex),
    logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
    kindVersion: { kind: kind.kind ?? '', version: kind.apiVersion ?? '' },
    integratedTime: String(p.integratedTime),
    inclusionPromise: { signedEntryTimestamp: b.SignedEntryTimestamp ?? '' },
    canonicalizedBody: p.body,
  };
}
