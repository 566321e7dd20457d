import { parseDigest } from './digest.ts';
import { isStrictJsonError, knownFields, parseStrictJson } from './strict-json.ts';
import type { Descriptor, Index, Manifest, ManifestKind, Platform } from './types.ts';
import { MediaType } from './types.ts';

export type ParsedManifest =
  | { ok: true; kind: 'manifest'; mediaType: string; manifest: Manifest }
  | { ok: true; kind: 'index'; mediaType: string; manifest: Index }
  /** `code` is set when the document is ambiguous (two consumers could read it differently). */
  | { ok: false; errors: string[]; code?: 'ARTIFACT_AMBIGUOUS' };

/**
 * Every field of image-spec's Manifest, Index, Descriptor and Platform. Go's encoding/json (oras,
 * containerd) fills them from any case variant of their names, so any other spelling is refused.
 */
export const OCI_FIELDS = knownFields([
  'schemaVersion',
  'mediaType',
  'artifactType',
  'config',
  'layers',
  'manifests',
  'subject',
  'annotations',
  'digest',
  'size',
  'urls',
  'data',
  'platform',
  'architecture',
  'os',
  'os.version',
  'os.features',
  'variant',
  'features',
]);

/** Base64 as Go decodes a []byte field (padded standard alphabet); a stricter subset. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const KIND_OF_MEDIA_TYPE: Record<string, ManifestKind> = {
  [MediaType.OciManifest]: 'manifest',
  [MediaType.DockerManifest]: 'manifest',
  [MediaType.OciIndex]: 'index',
  [MediaType.DockerManifestList]: 'index',
};

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Strips parameters: `application/json; charset=utf-8` -> `application/json`. */
export function baseMediaType(contentType: string | null | undefined): string | undefined {
  if (contentType === null || contentType === undefined) return undefined;
  const base = contentType.split(';')[0]?.trim().toLowerCase();
  return base === '' ? undefined : base;
}

function readAnnotations(v: unknown, path: string, errors: string[]): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) {
    errors.push(`${path}: must be an object of strings`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') errors.push(`${path}.${k}: must be a string`);
    else out[k] = val;
  }
  return out;
}

function readPlatform(v: unknown, path: string, errors: string[]): Platform | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || typeof v.architecture !== 'string' || typeof v.os !== 'string') {
    errors.push(`${path}: must have string architecture and os`);
    return undefined;
  }
  // Go fails the whole manifest on a mistyped field; reading past it would accept what oras refuses.
  if (v['os.version'] !== undefined && typeof v['os.version'] !== 'string')
    errors.push(`${path}.os.version: must be a string`);
  if (v.variant !== undefined && typeof v.variant !== 'string')
    errors.push(`${path}.variant: must be a string`);
  for (const list of ['os.features', 'features']) {
    const l = v[list];
    if (l !== undefined && (!Array.isArray(l) || l.some((x) => typeof x !== 'string')))
      errors.push(`${path}.${list}: must be an array of strings`);
  }
  const p: Platform = { architecture: v.architecture, os: v.os };
  if (typeof v.variant === 'string') p.variant = v.variant;
  return p;
}

/** Validates one descriptor, collecting every invalid field with its path. */
export function readDescriptor(v: unknown, path: string, errors: string[]): Descriptor | undefined {
  if (!isObject(v)) {
    errors.push(`${path}: must be an object`);
    return undefined;
  }
  const before = errors.length;
  if (typeof v.mediaType !== 'string' || v.mediaType === '')
    errors.push(`${path}.mediaType: must be a string`);
  if (typeof v.digest !== 'string' || parseDigest(v.digest) === undefined) {
    errors.push(`${path}.digest: must be a sha256 or sha512 digest`);
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    errors.push(`${path}.size: must be a non-negative integer`);
  }
  if (v.artifactType !== undefined && typeof v.artifactType !== 'string') {
    errors.push(`${path}.artifactType: must be a string`);
  }
  if (v.urls !== undefined && (!Array.isArray(v.urls) || v.urls.some((u) => typeof u !== 'string'))) {
    errors.push(`${path}.urls: must be an array of strings`);
  }
  if (v.data !== undefined && (typeof v.data !== 'string' || !BASE64.test(v.data))) {
    errors.push(`${path}.data: must be base64`);
  }
  const annotations = readAnnotations(v.annotations, `${path}.annotations`, errors);
  const platform = readPlatform(v.platform, `${path}.platform`, errors);
  if (errors.length > before) return undefined;
  const d: Descriptor = {
    mediaType: v.mediaType as string,
    digest: v.digest as string,
    size: v.size as number,
  };
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  if (annotations !== undefined) d.annotations = annotations;
  if (Array.isArray(v.urls)) d.urls = v.urls as string[];
  if (platform !== undefined) d.platform = platform;
  return d;
}

function readDescriptorList(v: unknown, path: string, errors: string[]): Descriptor[] {
  if (!Array.isArray(v)) {
    errors.push(`${path}: must be an array`);
    return [];
  }
  const out: Descriptor[] = [];
  v.forEach((item, i) => {
    const d = readDescriptor(item, `${path}[${i}]`, errors);
    if (d !== undefined) out.push(d);
  });
  return out;
}

/**
 * Parses manifest bytes into an OCI/Docker image manifest or index. The kind comes from the body's
 * `mediaType`, else the response's Content-Type, else the document's shape (OCI allows an absent mediaType).
 */
export function parseManifest(bytes: Uint8Array, contentType?: string | null): ParsedManifest {
  let json: unknown;
  try {
    // Numbers in these types are all integers (schemaVersion, size): Go refuses `1.0e3` for them.
    json = parseStrictJson(bytes, { known: OCI_FIELDS, integersOnly: true });
  } catch (e) {
    if (isStrictJsonError(e) && e.code === 'ARTIFACT_AMBIGUOUS')
      return { ok: false, errors: [e.message], code: 'ARTIFACT_AMBIGUOUS' };
    return { ok: false, errors: [(e as Error).message] };
  }
  if (!isObject(json)) return { ok: false, errors: ['not a JSON object'] };
  const errors: string[] = [];
  if (json.schemaVersion !== 2) errors.push('schemaVersion: must be 2');
  if (json.mediaType !== undefined && typeof json.mediaType !== 'string') {
    errors.push('mediaType: must be a string');
  }
  const header = baseMediaType(contentType);
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  let mediaType = declared ?? header;
  let kind = mediaType === undefined ? undefined : KIND_OF_MEDIA_TYPE[mediaType];
  // A media type declared in the body but unknown (schema 1, ...) is refused; a merely generic
  // Content-Type (application/json) or none at all leaves the shape to decide, as OCI permits.
  if (mediaType === undefined || (kind === undefined && declared === undefined)) {
    if (Array.isArray(json.manifests)) {
      kind = 'index';
      mediaType = MediaType.OciIndex;
    } else if (json.layers !== undefined || json.config !== undefined) {
      kind = 'manifest';
      mediaType = MediaType.OciManifest;
    }
  }
  if (kind === undefined || mediaType === undefined) {
    errors.push(`mediaType: unsupported manifest media type ${mediaType ?? '(none)'}`);
    return { ok: false, errors };
  }
  if (declared !== undefined && header !== undefined && KIND_OF_MEDIA_TYPE[header] !== undefined) {
    if (declared !== header) errors.push(`mediaType: ${declared} differs from Content-Type ${header}`);
  }
  if (json.artifactType !== undefined && typeof json.artifactType !== 'string') {
    errors.push('artifactType: must be a string');
  }
  const annotations = readAnnotations(json.annotations, 'annotations', errors);
  const subject = json.subject === undefined ? undefined : readDescriptor(json.subject, 'subject', errors);

  if (kind === 'index') {
    if (json.layers !== undefined) errors.push('layers: an index has no layers');
    const manifests = readDescriptorList(json.manifests, 'manifests', errors);
    if (errors.length > 0) return { ok: false, errors };
    const index: Index = { schemaVersion: 2, manifests };
    if (declared !== undefined) index.mediaType = declared;
    if (typeof json.artifactType === 'string') index.artifactType = json.artifactType;
    if (subject !== undefined) index.subject = subject;
    if (annotations !== undefined) index.annotations = annotations;
    return { ok: true, kind, mediaType, manifest: index };
  }
  if (json.manifests !== undefined) errors.push('manifests: an image manifest has no manifests');
  const config = readDescriptor(json.config, 'config', errors);
  const layers = readDescriptorList(json.layers, 'layers', errors);
  if (errors.length > 0 || config === undefined) return { ok: false, errors };
  const manifest: Manifest = { schemaVersion: 2, config, layers };
  if (declared !== undefined) manifest.mediaType = declared;
  if (typeof json.artifactType === 'string') manifest.artifactType = json.artifactType;
  if (subject !== undefined) manifest.subject = subject;
  if (annotations !== undefined) manifest.annotations = annotations;
  return { ok: true, kind, mediaType, manifest };
}

/** Parses bytes that must be an OCI image index (the referrers API and the referrers tag schema). */
export function parseIndex(
  bytes: Uint8Array,
  contentType?: string | null,
): Index | { errors: string[]; code?: 'ARTIFACT_AMBIGUOUS' } {
  const parsed = parseManifest(bytes, contentType);
  if (!parsed.ok)
    return parsed.code === undefined
      ? { errors: parsed.errors }
      : { errors: parsed.errors, code: parsed.code };
  if (parsed.kind !== 'index') return { errors: [`expected an image index, got ${parsed.mediaType}`] };
  return parsed.manifest;
}
