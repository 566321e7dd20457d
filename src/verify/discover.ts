/**
 * Finds what may be a signature of an artifact: bundles attached as
 * referrers, bundles stored as layers of the artifact itself (`model.sig`,
 * `model.pt.sigstore.json`, `model.pt.sig`), and legacy cosign `.sig` tags.
 * Nothing is trusted for what it claims to be: a media type or a title only
 * decides what is read; what was read is parsed, and only verification later
 * decides what it is worth. Reads are bounded in count and size.
 */

import { readReferrerManifest } from '../evidence/referrer.ts';
import type { ArtifactEvidence } from '../evidence/types.ts';
import { type Descriptor, isIndex, layerTitle, type Manifest, MediaType } from '../oci/types.ts';
import {
  BUNDLE_MEDIA_TYPES,
  BundleFormatError,
  MAX_BUNDLE_BYTES,
  type ParsedBundle,
  parseBundle,
} from './bundle.ts';
import {
  type LegacyTagFetcher,
  legacyToBundle,
  MAX_SIMPLE_SIGNING_BYTES,
  readSimpleSigning,
  type SimpleSigningPayload,
  simpleSigningLayers,
} from './legacy.ts';

/** Where a signature was found. */
export type SignatureSource =
  | { readonly kind: 'referrer'; readonly referrer: string; readonly blob: string; readonly title?: string }
  | { readonly kind: 'layer'; readonly index: number; readonly blob: string; readonly title?: string }
  | { readonly kind: 'legacy-tag'; readonly tag: string; readonly manifest: string; readonly blob: string };

export interface Candidate {
  readonly source: SignatureSource;
  /** The source in words, for messages and reports. */
  readonly where: string;
  readonly bundle?: ParsedBundle;
  /** For a legacy signature: the simple-signing payload, and its claims. */
  readonly legacy?: { readonly payload: Uint8Array; readonly claims: SimpleSigningPayload | undefined };
  /** Why it could not be read as a signature. */
  readonly error?: string;
  /**
   * Set when it was refused because two consumers could read it differently (duplicate or case-variant
   * keys): cosign or sigstore-go might see a valid signature where modelgate saw none, so a check that
   * then fails says ARTIFACT_AMBIGUOUS rather than "no signature".
   */
  readonly ambiguous?: boolean;
}

export interface Discovery {
  readonly candidates: readonly Candidate[];
  /** Layers of the artifact that hold a well-formed signature: they need no signature themselves. */
  readonly signatureLayers: ReadonlySet<number>;
  /** What was looked at, for SIGNATURE_MISSING messages. */
  readonly looked: { readonly referrers: number; readonly layers: number; readonly legacyTag: string };
}

export interface DiscoveryOptions {
  /** Reads the legacy `sha256-<hex>.sig` tag; without it legacy signatures are not looked for. */
  readonly legacyTags?: LegacyTagFetcher;
  /** Referrer manifests read at most (default 32). */
  readonly maxReferrers?: number;
  /** Signature blobs read at most (default 64). */
  readonly maxBlobs?: number;
}

/** Titles that say "I am the signature of ...": `model.sig` (model_signing), `X.sigstore.json`, `X.sig`. */
const SIGNATURE_TITLE = /(?:\.sigstore\.json|\.sigstore|\.sig)$/;

/** Whether a layer looks like it holds a signature (it will still have to parse as one). */
export function isSignatureLayer(d: Descriptor): boolean {
  if (BUNDLE_MEDIA_TYPES.has(d.mediaType)) return true;
  const title = layerTitle(d);
  return title !== undefined && SIGNATURE_TITLE.test(title);
}

/** The title of the file a layer's signature is beside (`model.pt.sigstore.json` -> `model.pt`). */
export function signedFileTitle(title: string | undefined): string | undefined {
  if (title === undefined) return undefined;
  const m = /^(.+?)(?:\.sigstore\.json|\.sigstore|\.sig)$/.exec(title);
  return m?.[1];
}

/**
 * What a referrer's descriptor says about it: a signature type (its manifest is read), nothing conclusive
 * (read too, within its own bound: go-containerregistry reports the config media type, and the client
 * completes what it can), or another type (never read: anyone who can push can attach those).
 */
function referrerKind(d: Descriptor): 'signature' | 'inconclusive' | 'other' {
  const t = d.artifactType;
  if (t === undefined || t === '' || t === MediaType.OciEmpty) return 'inconclusive';
  if (BUNDLE_MEDIA_TYPES.has(t)) return 'signature';
  // Signatures attached by hand (`oras attach --artifact-type ...`) under a signature-ish type.
  return /sigstore|signature|model[-_.]?sig/i.test(t) ? 'signature' : 'other';
}

export async function discoverSignatures(
  e: ArtifactEvidence,
  opts: DiscoveryOptions,
  signal: AbortSignal,
): Promise<Discovery> {
  const maxReferrers = opts.maxReferrers ?? 32;
  let blobBudget = opts.maxBlobs ?? 64;
  const candidates: Candidate[] = [];
  const signatureLayers = new Set<number>();

  const readBundle = async (d: Descriptor, where: string, source: SignatureSource): Promise<Candidate> => {
    if (d.size > MAX_BUNDLE_BYTES) return { source, where, error: `${d.size} bytes: too large for a bundle` };
    if (blobBudget-- <= 0) return { source, where, error: 'not read: too many signature blobs' };
    const bytes = await e.reader.blob(d, MAX_BUNDLE_BYTES, signal);
    try {
      return { source, where, bundle: parseBundle(bytes) };
    } catch (err) {
      if (err instanceof BundleFormatError)
        return { source, where, error: err.message, ...(err.code ? { ambiguous: true } : {}) };
      throw err;
    }
  };

  // Layers of the artifact itself.
  const layerJobs = e.layers.map(async (d, index) => {
    if (!isSignatureLayer(d)) return undefined;
    const title = layerTitle(d);
    const source: SignatureSource = {
      kind: 'layer',
      index,
      blob: d.digest,
      ...(title !== undefined ? { title } : {}),
    };
    const c = await readBundle(d, `layer ${title ?? d.digest}`, source);
    if (c.bundle !== undefined) signatureLayers.add(index);
    return c;
  });

  // Referrers: read the manifest of every one that may hold a bundle, each kind within its own bound so
  // that referrers saying nothing cannot crowd out those typed as signatures.
  const toRead = [
    ...e.referrers.filter((r) => referrerKind(r) === 'signature').slice(0, maxReferrers),
    ...e.referrers.filter((r) => referrerKind(r) === 'inconclusive').slice(0, maxReferrers),
  ];
  const referrerJobs = toRead.map(async (r): Promise<Candidate[]> => {
    const got = await readReferrerManifest(e, r.digest, signal);
    if (!got.ok) {
      const source: SignatureSource = { kind: 'referrer', referrer: r.digest, blob: r.digest };
      return [
        {
          source,
          where: `referrer ${r.digest}`,
          error: got.message,
          ...(got.ambiguous ? { ambiguous: true } : {}),
        },
      ];
    }
    const m = got.manifest;
    if (isIndex(m)) return [];
    if (m.subject !== undefined && m.subject.digest !== e.digest) return [];
    const out: Candidate[] = [];
    for (const l of m.layers) {
      if (!isSignatureLayer(l)) continue;
      const title = layerTitle(l);
      const where = `referrer ${r.digest}${title ? ` (${title})` : ''}`;
      out.push(
        await readBundle(l, where, {
          kind: 'referrer',
          referrer: r.digest,
          blob: l.digest,
          ...(title !== undefined ? { title } : {}),
        }),
      );
    }
    return out;
  });

  const legacyJob = opts.legacyTags ? readLegacy(e, opts.legacyTags, signal) : Promise.resolve([]);

  const [layers, referrers, legacy] = await Promise.all([
    Promise.all(layerJobs),
    Promise.all(referrerJobs),
    legacyJob,
  ]);
  for (const c of layers) if (c !== undefined) candidates.push(c);
  for (const cs of referrers) candidates.push(...cs);
  candidates.push(...legacy);
  return {
    candidates,
    signatureLayers,
    looked: {
      referrers: e.referrers.length,
      layers: e.layers.length,
      legacyTag: opts.legacyTags ? `${e.digest.replace(':', '-')}.sig` : '',
    },
  };
}

async function readLegacy(
  e: ArtifactEvidence,
  fetch: LegacyTagFetcher,
  signal: AbortSignal,
): Promise<Candidate[]> {
  const found = await fetch(e, signal);
  if (found === undefined) return [];
  return Promise.all(
    simpleSigningLayers(found.manifest as Manifest)
      .slice(0, 16)
      .map(async (l, i) => {
        const source: SignatureSource = {
          kind: 'legacy-tag',
          tag: found.tag,
          manifest: found.digest,
          blob: l.digest,
        };
        const where = `tag ${found.tag} layer ${i}`;
        if (l.size > MAX_SIMPLE_SIGNING_BYTES)
          return { source, where, error: `${l.size} bytes: too large for a payload` };
        const payload = await e.reader.blob(l, MAX_SIMPLE_SIGNING_BYTES, signal);
        const read = readSimpleSigning(payload);
        const legacy = { payload, claims: read.claims };
        if (read.ambiguous !== undefined)
          return { source, where, legacy, error: `payload is ambiguous: ${read.ambiguous}`, ambiguous: true };
        try {
          return { source, where, legacy, bundle: legacyToBundle(l, payload) };
        } catch (err) {
          if (err instanceof BundleFormatError)
            return { source, where, legacy, error: err.message, ...(err.code ? { ambiguous: true } : {}) };
          throw err;
        }
      }),
  );
}
