export type { AttestationSource, VerifiedStatement } from './attestations.ts';
export { PREDICATE_CYCLONEDX, PREDICATE_SLSA_PROVENANCE_V1, predicateFor } from './attestations.ts';
export * from './formats/index.ts';
export * from './mlbom/index.ts';
export type { ProvenanceFacts } from './provenance.ts';
export { checkProvenance, normalizeRepository, provenanceFacts, sourceRepositoriesOf } from './provenance.ts';
