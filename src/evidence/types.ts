import type { Descriptor, Index, Manifest } from '../oci/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ModelReference } from '../reference/reference.ts';
import type { CheckFailure } from '../verdict/outcome.ts';

/**
 * Reads what is stored with an artifact, in its own repository. Every read
 * is verified against the digest it is addressed by, and bounded: checks ask
 * for small blobs (bundles, ML-BOMs) and for byte ranges of weight files,
 * never for whole weights.
 */
export interface EvidenceReader {
  /** A whole blob, refused before any request when `d.size > maxBytes`; verified against `d.digest`. */
  blob(d: Descriptor, maxBytes: number, signal: AbortSignal): Promise<Uint8Array>;
  /** Bytes `start..endInclusive` of a blob by HTTP Range (clamped to the blob). Not digest-verifiable. */
  range(d: Descriptor, start: number, endInclusive: number, signal: AbortSignal): Promise<Uint8Array>;
  /** A manifest of the same repository by digest (e.g. a referrer's), verified against the digest. */
  manifest(
    digest: string,
    signal: AbortSignal,
  ): Promise<{ mediaType: string; manifest: Manifest | Index; bytes: Uint8Array }>;
}

/** What the registry holds for one model reference, resolved and digest-checked. */
export interface ArtifactEvidence {
  readonly reference: ModelReference;
  /** The manifest digest the pod will pull (verified: the manifest bytes hash to it). */
  readonly digest: string;
  readonly mediaType: string;
  readonly artifactType?: string;
  /** The image manifest; for an index, undefined and `children` holds the platform manifests. */
  readonly manifest?: Manifest;
  readonly children?: readonly { readonly descriptor: Descriptor; readonly manifest: Manifest }[];
  /** Layers of the manifest (or of every child manifest of an index). */
  readonly layers: readonly Descriptor[];
  /** Referrers of `digest` (referrers API, or the `sha256-<hex>` tag fallback). */
  readonly referrers: readonly Descriptor[];
  readonly reader: EvidenceReader;
}

/** The result of one check (signatures, formats, ML-BOM, provenance) of one artifact under one policy. */
export interface CheckResult {
  readonly failures: readonly CheckFailure[];
  /** What the check saw and decided, for `modelgate verify` (JSON-serialisable). */
  readonly report: Readonly<Record<string, unknown>>;
}

export type EvidenceCheck = (
  e: ArtifactEvidence,
  policy: CompiledPolicy,
  signal: AbortSignal,
) => Promise<CheckResult>;
