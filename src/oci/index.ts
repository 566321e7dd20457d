export type { Exchange } from './auth.ts';
export type {
  BlobOptions,
  LegacyCosignTags,
  ReferrersOptions,
  RegistryClientOptions,
  ResolvedManifest,
} from './client.ts';
export { RegistryClient } from './client.ts';
export type { Credential, CredentialStore } from './credentials.ts';
export {
  CredentialsError,
  credentialsFromDockerConfig,
  normalizeRegistryHost,
  StaticCredentialStore,
} from './credentials.ts';
export type { DigestAlgorithm, ParsedDigest } from './digest.ts';
export { digestOf, digestToTag, isDigest, matchesDigest, parseDigest } from './digest.ts';
export type { RegistryErrorCode } from './errors.ts';
export { isRegistryError, RegistryError } from './errors.ts';
export type { Challenge } from './headers.ts';
export { parseLinkNext, parseRetryAfter, parseWwwAuthenticate } from './headers.ts';
export type { ParsedManifest } from './manifest.ts';
export { parseIndex, parseManifest } from './manifest.ts';
export type { RequestEvent } from './transport.ts';
export type { Descriptor, Index, Manifest, ManifestKind, ManifestMediaType, Platform } from './types.ts';
export { Annotation, isIndex, layerTitle, MANIFEST_ACCEPT, MediaType } from './types.ts';
