import type { RegistryClient } from '../oci/client.ts';
import { type Descriptor, isIndex, type Manifest } from '../oci/types.ts';
import type { ModelReference } from '../reference/reference.ts';
import { UnsupportedArtifactError } from './errors.ts';
import type { ArtifactEvidence, EvidenceReader } from './types.ts';

/** Platform manifests of an index read at most; a model index with more is refused. */
export const MAX_INDEX_CHILDREN = 16;

/**
 * Resolves one model reference and lists what is stored with it: the
 * manifest (digest-checked by the client), its layers, and its referrers.
 * Blobs are not read here; checks read what they need through `reader`.
 * Round trips on the critical path: for a reference pinned by digest, the
 * manifest and the referrers side by side; for a tag, resolve, then
 * referrers and (for an index) child manifests in parallel.
 */
export async function gatherEvidence(
  client: RegistryClient,
  ref: ModelReference,
  signal: AbortSignal,
): Promise<ArtifactEvidence> {
  const { registry, repository } = ref;
  // A digest names the manifest the resolution must hash to (the client refuses anything else), so
  // its referrers can be asked for at once.
  const early =
    ref.digest === undefined ? undefined : client.referrers(registry, repository, ref.digest, {}, signal);
  early?.catch(() => {});
  const resolved = await client.resolve(registry, repository, ref.digest ?? ref.tag ?? 'latest', signal);
  const reader = readerFor(client, registry, repository);
  const referrers = early ?? client.referrers(registry, repository, resolved.digest, {}, signal);
  const top = resolved.manifest;
  if (!isIndex(top)) {
    return {
      reference: ref,
      digest: resolved.digest,
      mediaType: resolved.mediaType,
      ...(top.artifactType ? { artifactType: top.artifactType } : artifactTypeOf(top)),
      manifest: top,
      layers: top.layers,
      referrers: await referrers,
      reader,
    };
  }
  if (top.manifests.length > MAX_INDEX_CHILDREN) {
    throw new UnsupportedArtifactError(
      `index ${resolved.digest} lists ${top.manifests.length} manifests (at most ${MAX_INDEX_CHILDREN})`,
    );
  }
  const children = await Promise.all(
    top.manifests.map(async (descriptor) => {
      const child = await client.resolve(registry, repository, descriptor.digest, signal);
      if (isIndex(child.manifest))
        throw new UnsupportedArtifactError(
          `index ${resolved.digest} nests another index ${descriptor.digest}`,
        );
      return { descriptor, manifest: child.manifest };
    }),
  );
  return {
    reference: ref,
    digest: resolved.digest,
    mediaType: resolved.mediaType,
    ...(top.artifactType ? { artifactType: top.artifactType } : {}),
    children,
    layers: children.flatMap((c) => c.manifest.layers),
    referrers: await referrers,
    reader,
  };
}

/** An image manifest's artifact type: its own, else its config media type (the OCI 1.1 rule). */
function artifactTypeOf(m: Manifest): { artifactType?: string } {
  const t = m.config?.mediaType;
  return t && t !== 'application/vnd.oci.empty.v1+json' ? { artifactType: t } : {};
}

function readerFor(client: RegistryClient, registry: string, repository: string): EvidenceReader {
  return {
    blob: (d: Descriptor, maxBytes: number, signal: AbortSignal) =>
      client.blob(registry, repository, d, { maxBytes }, signal),
    range: (d: Descriptor, start: number, end: number, signal: AbortSignal) =>
      client.blobRange(registry, repository, d, start, end, signal),
    manifest: async (digest: string, signal: AbortSignal) => {
      const r = await client.resolve(registry, repository, digest, signal);
      return { mediaType: r.mediaType, manifest: r.manifest, bytes: r.bytes };
    },
  };
}
