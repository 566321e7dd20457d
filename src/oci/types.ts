export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestMediaType = (typeof MediaType)[
  | 'OciManifest'
  | 'OciIndex'
  | 'DockerManifest'
  | 'DockerManifestList'];

/** Media types the client asks for when it fetches a manifest, most specific first. */
export const MANIFEST_ACCEPT: readonly ManifestMediaType[] = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
];

export const Annotation = {
  Title: 'org.opencontainers.image.title',
  Created: 'org.opencontainers.image.created',
  ModelFilepath: 'org.cncf.model.filepath',
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Platform;
}

/** An OCI image manifest or a Docker v2 schema 2 manifest. */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI image index or a Docker v2 manifest list. */
export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ManifestKind = 'manifest' | 'index';

export function isIndex(m: Manifest | Index): m is Index {
  return 'manifests' in m;
}

/** The title a file layer was pushed with (`oras push file` sets it), if any. */
export function layerTitle(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.Title] ?? d.annotations?.[Annotation.ModelFilepath];
}
