import { admitsEveryFormat, type CompiledPolicy } from '../policy/compile.ts';
import type { ModelReference } from '../reference/reference.ts';
import type { CheckFailure, CheckOutcome } from '../verdict/outcome.ts';
import type { ReasonCode } from '../verdict/reasons.ts';
import type { ModelVerifier } from './engine.ts';

export type CheckName = 'signatures' | 'formats' | 'mlbom' | 'provenance';

/** The registry-bound checks, in the order they are reported, with when a policy demands each. */
export const CHECKS: readonly {
  name: CheckName;
  code: ReasonCode;
  what: string;
  demanded(p: CompiledPolicy): boolean;
}[] = [
  {
    name: 'signatures',
    code: 'SIGNATURE_MISSING',
    what: 'signatures',
    demanded: (p) => p.spec.signatures !== undefined,
  },
  {
    name: 'formats',
    code: 'FORMAT_DENIED',
    what: 'model file formats',
    demanded: (p) => !admitsEveryFormat(p),
  },
  {
    name: 'mlbom',
    code: 'MLBOM_MISSING',
    what: 'the ML-BOM',
    demanded: (p) => p.spec.mlbom?.required === true,
  },
  {
    name: 'provenance',
    code: 'PROVENANCE_FAILED',
    what: 'provenance',
    demanded: (p) => p.spec.provenance !== undefined,
  },
];

/** The failure of a demanded check that this build cannot make: fail closed, with the check's own code. */
export function unverifiable(name: CheckName, why: string): CheckFailure {
  const c = CHECKS.find((x) => x.name === name)!;
  return { code: c.code, message: `${c.what} could not be checked: ${why}` };
}

/** Every demanded check, failed closed. */
export function unverifiableChecks(policy: CompiledPolicy, why: string): CheckFailure[] {
  return CHECKS.filter((c) => c.demanded(policy)).map((c) => unverifiable(c.name, why));
}

/** A verifier with no registry access: every registry-bound check fails closed. */
export const offlineVerifier: ModelVerifier = {
  async verify(_ref: ModelReference, policy: CompiledPolicy): Promise<CheckOutcome> {
    return { failures: unverifiableChecks(policy, 'registry access is not available (offline)') };
  },
};
