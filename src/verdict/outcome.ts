/**
 * What a check says about one model under one policy: the vocabulary that evidence/, verify/, engine/
 * and admission/ share. A leaf: it imports nothing but the reason codes, so no lower layer has to
 * import the engine to say why a model failed.
 */
import type { ReasonCode } from './reasons.ts';

/** A finding before it is placed (reference, field path, mode are the engine's to add). */
export interface CheckFailure {
  readonly code: ReasonCode;
  readonly message: string;
  /** What fixes this failure, where the code's general fix (REASON_FIX) would mislead. */
  readonly fix?: string;
}

/** The outcome of verifying one model against one policy. `report` is shown by `modelgate verify`. */
export interface CheckOutcome {
  readonly failures: readonly CheckFailure[];
  readonly report?: Readonly<Record<string, unknown>>;
}
