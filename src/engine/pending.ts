import { admitsEveryFormat, type CompiledPolicy } from '../policy/compile.ts';
import type { ModelReference } from '../reference/reference.ts';
import type { CheckFailure, CheckOutcome, ModelVerifier } from './engine.ts';

/**
 * The checks a policy demands that this build cannot perform yet. Each one
 * fails closed with its own reason code: a missing implementation never
 * admits a model.
 */
export function unverifiableChecks(policy: CompiledPolicy, missing: string): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const spec = policy.spec;
  if (spec.signatures) {
    failures.push({ code: 'SIGNATURE_MISSING', message: `signatures could not be verified: ${missing}` });
  }
  if (!admitsEveryFormat(policy)) {
    failures.push({
      code: 'FORMAT_DENIED',
      message: `model file formats could not be classified: ${missing}`,
    });
  }
  if (spec.mlbom?.required) {
    failures.push({ code: 'MLBOM_MISSING', message: `the ML-BOM could not be checked: ${missing}` });
  }
  if (spec.provenance?.required) {
    failures.push({ code: 'PROVENANCE_FAILED', message: `provenance could not be checked: ${missing}` });
  }
  return failures;
}

/** A verifier with no registry access: every registry-bound check fails closed. */
export const offlineVerifier: ModelVerifier = {
  async verify(_ref: ModelReference, policy: CompiledPolicy): Promise<CheckOutcome> {
    return { failures: unverifiableChecks(policy, 'registry access is not available (offline)') };
  },
};
