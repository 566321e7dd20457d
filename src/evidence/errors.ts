/**
 * An artifact whose structure is beyond what modelgate reads, although the registry served it whole:
 * a property of the content (refused and cached as such), not a registry failure, so its fix is about
 * how the model is pushed, not about reachability or pull secrets.
 */
export class UnsupportedArtifactError extends Error {
  override readonly name = 'UnsupportedArtifactError';
  readonly code = 'ARTIFACT_UNSUPPORTED' as const;
}
