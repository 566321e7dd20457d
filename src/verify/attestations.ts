/**
 * Signed attestations for the ML-BOM and provenance checks: the contract is
 * theirs (src/evidence/attestations.ts); `SignatureVerifier` implements it
 * with the same discovery and verification as signatures, and adds who
 * signed and where the statement was found.
 */
import type {
  AttestationSource,
  VerifiedStatement as EvidenceVerifiedStatement,
} from '../evidence/attestations.ts';
import type { InTotoStatement } from './statement.ts';

export type { AttestationSource };

/** A statement verified as signed by one of a policy's authorities, whose subject is the artifact. */
export interface VerifiedStatement extends EvidenceVerifiedStatement {
  readonly statement: InTotoStatement;
  /** The signer as verified: `key sha256:...` or `issuer ..., subject ...`. */
  readonly identity: string;
  /** Where it was found: `referrer sha256:...`, `layer ...`, `tag ...`. */
  readonly signature: string;
}
