// In-memory evidence for the unit tests: an EvidenceReader over byte arrays (and over "sparse" blobs
// whose bytes are zero except for a few chunks, so that a 2 GiB file costs a few KiB of memory).
import { createHash } from 'node:crypto';
import type { ArtifactEvidence, EvidenceReader } from '../../../src/evidence/types.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import type { Descriptor, Index, Manifest } from '../../../src/oci/types.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';

/** A blob of `size` bytes, zero except for the given chunks. */
export interface SparseBlob {
  readonly size: number;
  readonly chunks: readonly { readonly offset: number; readonly bytes: Uint8Array }[];
}

export type BlobContent = Uint8Array | SparseBlob;

const isSparse = (b: BlobContent): b is SparseBlob => !(b instanceof Uint8Array);

export function sizeOf(b: BlobContent): number {
  return isSparse(b) ? b.size : b.length;
}

export function sparseRange(b: SparseBlob, start: number, endInclusive: number): Uint8Array {
  const end = Math.min(endInclusive, b.size - 1);
  const out = new Uint8Array(end - start + 1);
  for (const c of b.chunks) {
    const from = Math.max(start, c.offset);
    const to = Math.min(end + 1, c.offset + c.bytes.length);
    if (from < to) out.set(c.bytes.subarray(from - c.offset, to - c.offset), from - start);
  }
  return out;
}

/** A digest for a sparse blob: unique per content description, not a real hash of its bytes. */
function sparseDigest(b: SparseBlob): string {
  const h = createHash('sha256').update(String(b.size));
  for (const c of b.chunks) h.update(String(c.offset)).update(c.bytes);
  return `sha256:${h.digest('hex')}`;
}

export class MemoryReader implements EvidenceReader {
  readonly blobs = new Map<string, BlobContent>();
  readonly manifests = new Map<
    string,
    { mediaType: string; manifest: Manifest | Index; bytes: Uint8Array }
  >();
  bytesRead = 0;
  ranges: [string, number, number][] = [];
  blobReads: string[] = [];
  manifestReads: string[] = [];

  add(content: BlobContent, mediaType: string, annotations?: Record<string, string>): Descriptor {
    const digest = isSparse(content) ? sparseDigest(content) : digestOf(content);
    this.blobs.set(digest, content);
    return { mediaType, digest, size: sizeOf(content), ...(annotations ? { annotations } : {}) };
  }

  addManifest(m: Manifest | Index): Descriptor {
    const bytes = new TextEncoder().encode(JSON.stringify(m));
    const digest = digestOf(bytes);
    const mediaType = m.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
    this.manifests.set(digest, { mediaType, manifest: m, bytes });
    return {
      mediaType,
      digest,
      size: bytes.length,
      ...(m.artifactType ? { artifactType: m.artifactType } : {}),
    };
  }

  async blob(d: Descriptor, maxBytes: number): Promise<Uint8Array> {
    if (d.size > maxBytes) throw new Error(`blob of ${d.size} bytes over cap ${maxBytes}`);
    const b = this.blobs.get(d.digest);
    if (b === undefined) throw new Error(`no blob ${d.digest}`);
    if (isSparse(b)) throw new Error('whole reads of sparse blobs are not supported');
    this.blobReads.push(d.digest);
    this.bytesRead += b.length;
    return b;
  }

  async range(d: Descriptor, start: number, endInclusive: number): Promise<Uint8Array> {
    const b = this.blobs.get(d.digest);
    if (b === undefined) throw new Error(`no blob ${d.digest}`);
    const size = sizeOf(b);
    // The real client refuses these before any request.
    if (start < 0 || endInclusive < start || start >= size)
      throw new Error(`invalid range ${start}-${endInclusive} of ${size}`);
    if (endInclusive - start + 1 > 16 * 1024 * 1024) throw new Error('range over 16 MiB');
    const out = isSparse(b)
      ? sparseRange(b, start, endInclusive)
      : b.slice(start, Math.min(endInclusive + 1, size));
    this.bytesRead += out.length;
    this.ranges.push([d.digest, start, endInclusive]);
    return out;
  }

  async manifest(digest: string) {
    const m = this.manifests.get(digest);
    if (m === undefined) throw new Error(`no manifest ${digest}`);
    this.manifestReads.push(digest);
    return m;
  }
}

export interface FileSpec {
  name?: string;
  content: BlobContent;
  mediaType?: string;
  /** Use org.cncf.model.filepath instead of the title annotation. */
  filepathAnnotation?: boolean;
}

export interface ArtifactSpec {
  files: FileSpec[];
  config?: { mediaType: string; content: Uint8Array };
  artifactType?: string;
  reader?: MemoryReader;
  referrers?: Descriptor[];
}

export const ORAS_LAYER = 'application/vnd.oci.image.layer.v1.tar';

/** An artifact pushed the way oras does: one layer per file, titled with its name. */
export function artifact(spec: ArtifactSpec): ArtifactEvidence & { reader: MemoryReader } {
  const reader = spec.reader ?? new MemoryReader();
  const layers = spec.files.map((f) =>
    reader.add(
      f.content,
      f.mediaType ?? ORAS_LAYER,
      f.name === undefined
        ? undefined
        : { [f.filepathAnnotation ? 'org.cncf.model.filepath' : 'org.opencontainers.image.title']: f.name },
    ),
  );
  const config = spec.config
    ? reader.add(spec.config.content, spec.config.mediaType)
    : reader.add(new TextEncoder().encode('{}'), 'application/vnd.oci.empty.v1+json');
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    config,
    layers,
  };
  const d = reader.addManifest(manifest);
  return {
    reference: { registry: 'registry.test', repository: 'models/m', digest: d.digest },
    digest: d.digest,
    mediaType: manifest.mediaType!,
    manifest,
    layers,
    referrers: spec.referrers ?? [],
    reader,
  };
}

/** Attaches a referrer manifest (like `oras attach`) and returns its descriptor as a registry lists it. */
export function attach(
  reader: MemoryReader,
  subject: ArtifactEvidence,
  files: FileSpec[],
  artifactType: string,
  listedArtifactType: string | undefined = artifactType,
): Descriptor {
  const layers = files.map((f) =>
    reader.add(
      f.content,
      f.mediaType ?? ORAS_LAYER,
      f.name ? { 'org.opencontainers.image.title': f.name } : undefined,
    ),
  );
  const config = reader.add(new TextEncoder().encode('{}'), 'application/vnd.oci.empty.v1+json');
  const d = reader.addManifest({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType,
    config,
    layers,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: 1 },
  });
  const listed: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (listedArtifactType !== undefined) listed.artifactType = listedArtifactType;
  return listed;
}

export function withReferrers(e: ArtifactEvidence, referrers: Descriptor[]): ArtifactEvidence {
  return { ...e, referrers };
}

export function policy(spec: Record<string, unknown> = {}, name = 'p') {
  const v = validateModelPolicy({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name },
    // These checks are about evidence: a policy that needs no signature, unless a test gives one.
    spec: { models: ['registry.test/**'], signatures: { required: false }, ...spec },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return compilePolicy(v.policy);
}

export const signal = () => AbortSignal.timeout(10_000);
