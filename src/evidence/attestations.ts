// Attestations (in-toto statements in DSSE envelopes) whose signatures another part of modelgate
// verifies: the ML-BOM and provenance checks only read statements handed to them as verified.
import { parseDigest } from '../oci/digest.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ArtifactEvidence } from './types.ts';

export const PREDICATE_CYCLONEDX = 'https://cyclonedx.org/bom';
export const PREDICATE_SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

/** One verified statement and the policy authority (by name) whose key or identity signed it. */
export interface VerifiedStatement {
  readonly statement: unknown;
  readonly authority: string;
}

/**
 * Verified in-toto statements about an artifact. Implemented by the signature verifier.
 *
 * Contract: return only statements (a) carried in a DSSE envelope (Sigstore bundle referrer, cosign
 * `.att` tag, ...) whose signature verified against one of `policy`'s signature authorities, (b) whose
 * `predicateType` equals `predicateType`, and (c) whose `subject` names `e.digest`. One entry per
 * (statement, authority) pair. Throws only for failures that are not about the evidence (registry,
 * abort); evidence that does not verify is simply not returned.
 */
export interface AttestationSource {
  verifiedStatements(
    e: ArtifactEvidence,
    policy: CompiledPolicy,
    predicateType: string,
    signal: AbortSignal,
  ): Promise<VerifiedStatement[]>;
  /**
   * Documents that may hold statements but were refused because two consumers could read them
   * differently (`where: why`). A check that finds no usable statement reports ARTIFACT_AMBIGUOUS when
   * there are any, since cosign could read a valid statement where modelgate read none.
   */
  ambiguities?(e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<readonly string[]>;
}

/** The ARTIFACT_AMBIGUOUS finding of a check that found nothing usable, if there were ambiguous documents. */
export function ambiguityFailure(
  what: string,
  ambiguous: readonly string[],
): { code: 'ARTIFACT_AMBIGUOUS'; message: string } | undefined {
  if (ambiguous.length === 0) return undefined;
  const shown = ambiguous.slice(0, 3).join('; ');
  const more = ambiguous.length > 3 ? `; and ${ambiguous.length - 3} more` : '';
  return {
    code: 'ARTIFACT_AMBIGUOUS',
    message: `no usable ${what} found, and ${ambiguous.length} document${ambiguous.length === 1 ? ' that may hold one is' : 's that may hold one are'} refused because other readers could read ${ambiguous.length === 1 ? 'it' : 'them'} differently: ${shown}${more}`,
  };
}

/** The predicate of a statement of `predicateType` whose subject names `digest` (checked again here). */
export function predicateFor(statement: unknown, predicateType: string, digest: string): unknown {
  if (typeof statement !== 'object' || statement === null) return undefined;
  const s = statement as { predicateType?: unknown; subject?: unknown; predicate?: unknown };
  if (s.predicateType !== predicateType || !Array.isArray(s.subject)) return undefined;
  const want = parseDigest(digest);
  if (want === undefined) return undefined;
  const named = s.subject.some((sub: unknown) => {
    const d = (sub as { digest?: Record<string, unknown> } | null)?.digest;
    const v = d?.[want.algorithm];
    return typeof v === 'string' && v.toLowerCase() === want.hex;
  });
  return named ? s.predicate : undefined;
}
