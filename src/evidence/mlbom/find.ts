// Where an ML-BOM can be: a referrer of the artifact (oras attach --artifact-type
// application/vnd.cyclonedx+json), a layer of the artifact itself, or the predicate of a verified
// in-toto attestation (cosign attest --type cyclonedx).
import { isStrictJsonError, knownFields, parseStrictJson } from '../../oci/strict-json.ts';
import type { Descriptor } from '../../oci/types.ts';
import { MediaType } from '../../oci/types.ts';
import type { CompiledPolicy } from '../../policy/compile.ts';
import { type AttestationSource, PREDICATE_CYCLONEDX, predicateFor } from '../attestations.ts';
import { printable } from '../bytes.ts';
import { layerEntries } from '../formats/classify.ts';
import { baseMediaType, CYCLONEDX_JSON, layerName } from '../formats/hints.ts';
import { readReferrerManifest } from '../referrer.ts';
import type { ArtifactEvidence } from '../types.ts';
import { CYCLONEDX_FIELD_NAMES } from './fields.ts';

/** ML-BOMs larger than this are refused unread. */
export const MAX_BOM_BYTES = 4 * 1024 * 1024;
/** Referrers whose descriptor does not say what they are; at most this many manifests are read. */
export const MAX_REFERRER_MANIFESTS = 16;

// Referrer artifact types that are certainly not a CycloneDX document.
const OTHER_ARTIFACT_TYPES = [
  'application/vnd.dev.sigstore.bundle',
  'application/vnd.dev.cosign.',
  'application/vnd.in-toto',
  'application/vnd.dsse.',
  'application/spdx',
  'text/spdx',
];

export type BomOrigin = 'referrer' | 'layer' | 'attestation';

export interface BomCandidate {
  readonly origin: BomOrigin;
  /** Human-readable source for messages: `ML-BOM layer mlbom.json (sha256:…)` */
  readonly source: string;
  /** How it was recognised: media/artifact type, or only by its file name. */
  readonly by: 'mediaType' | 'name' | 'predicateType';
  readonly authority?: string;
  readonly descriptor?: Descriptor;
  /** Present for attestations (the statement's predicate). */
  readonly document?: unknown;
}

export interface FoundBoms {
  readonly candidates: readonly BomCandidate[];
  readonly notes: readonly string[];
  /** Documents that may be ML-BOMs, refused because two consumers could read them differently. */
  readonly ambiguous?: readonly string[];
}

const short = (digest: string) => `${digest.slice(0, 19)}…`;

function bomByName(name: string | undefined): boolean {
  if (name === undefined) return false;
  const n = name.toLowerCase();
  return n.endsWith('.cdx.json') || n.endsWith('bom.json');
}

function isCycloneDx(mediaType: string | undefined): boolean {
  return mediaType !== undefined && baseMediaType(mediaType) === CYCLONEDX_JSON;
}

/** The layers of a manifest that hold a CycloneDX document. */
function bomLayers(
  layers: readonly Descriptor[],
  manifestSaysBom: boolean,
): { layer: Descriptor; by: 'mediaType' | 'name' }[] {
  const out: { layer: Descriptor; by: 'mediaType' | 'name' }[] = [];
  for (const l of layers) {
    if (isCycloneDx(l.mediaType)) out.push({ layer: l, by: 'mediaType' });
    else if (bomByName(layerName(l))) out.push({ layer: l, by: manifestSaysBom ? 'mediaType' : 'name' });
  }
  // A manifest typed as a CycloneDX artifact with one generic layer: that layer is the document.
  if (out.length === 0 && manifestSaysBom && layers.length === 1)
    out.push({ layer: layers[0]!, by: 'mediaType' });
  return out;
}

/** Finds the unsigned ML-BOMs: referrers and layers. */
export async function findStoredBoms(e: ArtifactEvidence, signal: AbortSignal): Promise<FoundBoms> {
  const candidates: BomCandidate[] = [];
  const notes: string[] = [];

  for (const { layer } of layerEntries(e)) {
    const by = isCycloneDx(layer.mediaType) ? 'mediaType' : bomByName(layerName(layer)) ? 'name' : undefined;
    if (by === undefined) continue;
    const name = layerName(layer);
    candidates.push({
      origin: 'layer',
      source: `ML-BOM layer ${name ? printable(name, 80) : ''} (${short(layer.digest)})`.replace('  ', ' '),
      by,
      descriptor: layer,
    });
  }

  const ambiguous: string[] = [];
  let read = 0;
  for (const r of e.referrers) {
    const type = r.artifactType === undefined ? '' : baseMediaType(r.artifactType);
    if (type !== '' && OTHER_ARTIFACT_TYPES.some((t) => type.startsWith(t))) continue;
    if (r.mediaType === MediaType.OciIndex || r.mediaType === MediaType.DockerManifestList) continue;
    // A descriptor typed as CycloneDX is read; so is one whose type says nothing (go-containerregistry
    // reports the config media type, often the empty one), up to a bound.
    if (type !== CYCLONEDX_JSON) {
      if (read >= MAX_REFERRER_MANIFESTS) {
        notes.push(
          `referrer ${short(r.digest)} (${type || 'no artifactType'}) not read: over ${MAX_REFERRER_MANIFESTS} referrers`,
        );
        continue;
      }
      read++;
    }
    const got = await readReferrerManifest(e, r.digest, signal);
    if (!got.ok) {
      const what = `referrer ${short(r.digest)}: ${got.message}`;
      // Typed as CycloneDX or typed as nothing (ggcr lists oras attachments so): it may be the ML-BOM.
      if (got.ambiguous) ambiguous.push(what);
      else notes.push(what);
      continue;
    }
    const m = got.manifest;
    if (!('layers' in m)) continue;
    const saysBom = isCycloneDx(m.artifactType) || isCycloneDx(m.config.mediaType) || type === CYCLONEDX_JSON;
    for (const { layer, by } of bomLayers(m.layers, saysBom)) {
      const name = layerName(layer);
      candidates.push({
        origin: 'referrer',
        source: `ML-BOM referrer ${short(r.digest)}${name ? ` (${printable(name, 80)})` : ''}`,
        by,
        descriptor: layer,
      });
    }
  }
  return { candidates, notes, ambiguous };
}

/** Finds the ML-BOMs carried by verified attestations (none without an attestation source). */
export async function findAttestedBoms(
  e: ArtifactEvidence,
  policy: CompiledPolicy,
  source: AttestationSource | undefined,
  signal: AbortSignal,
): Promise<FoundBoms> {
  if (source === undefined)
    return { candidates: [], notes: ['no attestation verifier: attested ML-BOMs not considered'] };
  const statements = await source.verifiedStatements(e, policy, PREDICATE_CYCLONEDX, signal);
  const ambiguous = [...((await source.ambiguities?.(e, policy, signal)) ?? [])];
  const candidates: BomCandidate[] = [];
  const notes: string[] = [];
  for (const s of statements) {
    const predicate = predicateFor(s.statement, PREDICATE_CYCLONEDX, e.digest);
    if (predicate === undefined) {
      notes.push(
        `attestation signed by ${s.authority} ignored: not a ${PREDICATE_CYCLONEDX} statement about ${e.digest}`,
      );
      continue;
    }
    candidates.push({
      origin: 'attestation',
      source: `ML-BOM attestation signed by ${printable(s.authority, 63)}`,
      by: 'predicateType',
      authority: s.authority,
      document: predicate,
    });
  }
  return { candidates, notes, ambiguous };
}

export type LoadedBom =
  | { readonly ok: true; readonly document: unknown }
  | {
      readonly ok: false;
      readonly skip: boolean;
      readonly problem: string;
      /** Set when the document is refused because its consumers could read it differently. */
      readonly code?: 'ARTIFACT_AMBIGUOUS';
    };

/** The CycloneDX fields, compiled: any other spelling of one is refused (see ./fields.ts). */
export const MLBOM_FIELDS = knownFields(CYCLONEDX_FIELD_NAMES);

/** Reads and parses a candidate's document (a blob of at most MAX_BOM_BYTES). */
export async function loadBom(e: ArtifactEvidence, c: BomCandidate, signal: AbortSignal): Promise<LoadedBom> {
  if (c.document !== undefined) return { ok: true, document: c.document };
  const d = c.descriptor!;
  if (d.size > MAX_BOM_BYTES) {
    return {
      ok: false,
      skip: false,
      problem: `${c.source} is ${d.size} bytes, over the ${MAX_BOM_BYTES}-byte cap`,
    };
  }
  const bytes = await e.reader.blob(d, MAX_BOM_BYTES, signal);
  let doc: unknown;
  try {
    // Python's json (cyclonedx-python) accepts a BOM in bytes; Go's does not, but refusing it gains nothing.
    doc = parseStrictJson(bytes, {
      known: MLBOM_FIELDS,
      allowBom: true,
      topLevel: 'any',
      maxBytes: MAX_BOM_BYTES,
    });
  } catch (err) {
    // A file merely named like a BOM may be something else (an SPDX sbom.json, say): not counted.
    if (isStrictJsonError(err) && err.code === 'ARTIFACT_AMBIGUOUS') {
      const problem = `${c.source} is ambiguous: ${err.message}`;
      return c.by === 'name'
        ? { ok: false, skip: true, problem }
        : { ok: false, skip: false, problem, code: err.code };
    }
    return { ok: false, skip: c.by === 'name', problem: `${c.source} is not JSON` };
  }
  if (c.by === 'name' && (doc as { bomFormat?: unknown } | null)?.bomFormat !== 'CycloneDX') {
    return { ok: false, skip: true, problem: `${c.source} is not a CycloneDX document` };
  }
  return { ok: true, document: doc };
}
