/**
 * Signature verification for model artifacts. The engine plugs in
 * `new SignatureVerifier(opts).check` as the `signatures` EvidenceCheck and
 * hands the same instance to the ML-BOM and provenance checks as their
 * `AttestationSource`.
 */
export type { AttestationSource, VerifiedStatement } from './attestations.ts';
export type { CompiledAuthority } from './authority.ts';
export { type LegacyTagFetcher, legacyTagFetcher } from './legacy.ts';
export { createSignatureCheck, SignatureVerifier, type SignatureVerifierOptions } from './signatures.ts';
export {
  publicGoodTrustedRoot,
  type SecretSource,
  TrustCache,
  type TrustedRootSource,
  type TrustOptions,
} from './trust.ts';
export type { ObjectKeyRef } from './trust-context.ts';
