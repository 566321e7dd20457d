import type { PolicyMode } from '../policy/schema.ts';
import type { ReasonCode } from '../verdict/reasons.ts';

/** One failed check of one model reference, as a policy judged it. */
export interface Finding {
  readonly code: ReasonCode;
  /** Field path in the admitted object, e.g. `spec.template.spec.volumes[0].image.reference`. */
  readonly fieldPath: string;
  /** The model reference as written by the pod author. */
  readonly reference: string;
  /** Policy name, or undefined when no policy governs the reference. */
  readonly policy?: string;
  readonly mode: PolicyMode;
  /** What is wrong, for a person. */
  readonly message: string;
  /** One line on how to fix it. */
  readonly fix: string;
}

/** The answer for one admission request. Built by pure code; the HTTP layer only encodes it. */
export interface Decision {
  readonly allowed: boolean;
  /** HTTP-like status for a denial (403 for a policy refusal, 400 for an unreadable request). */
  readonly status?: number;
  /** The denial message shown to the user by kubectl. */
  readonly message?: string;
  /** AdmissionReview warnings (Warn mode), each under 120 chars where possible. */
  readonly warnings: readonly string[];
  /** Every finding, including Audit-mode ones that did not change the outcome. */
  readonly findings: readonly Finding[];
}
