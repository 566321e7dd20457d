/**
 * The `status` of a ModelPolicy: one `Ready` condition (True/Valid or False/Invalid with every error and
 * its path) and `observedGeneration`. Pure: it says what the status should be and whether the one the API
 * server holds already says it, so that replicas write only on a change (no write storms, no ping-pong
 * between two replicas).
 */
import type { PolicyError } from '../policy/validate.ts';

export const READY = 'Ready';
export type ReadyReason = 'Valid' | 'Invalid' | 'TRUST_UNAVAILABLE';

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

export interface PolicyStatus {
  readonly observedGeneration: number;
  /** Ready, and the conditions of other types as the object carried them. */
  readonly conditions: readonly unknown[];
}

export type PolicyVerdict =
  /** Valid; `trustUnavailable` says why its trust material cannot be used, when it cannot. */
  | { readonly ok: true; readonly trustUnavailable?: string }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

/** metav1.Condition caps a message at 32768; a condition people read stays far shorter. */
export const MAX_CONDITION_MESSAGE = 4_096;

/** The Ready condition's status, reason and message for a verdict (without times). */
export function readyCondition(verdict: PolicyVerdict): Pick<Condition, 'status' | 'reason' | 'message'> {
  if (verdict.ok && verdict.trustUnavailable !== undefined) {
    // Valid and applied, but nothing it governs can pass: the operator must see it on the policy.
    const head =
      'the policy is valid and in force, but the trust material of its authorities cannot be used, so the models it governs are refused (TRUST_UNAVAILABLE): ';
    return { status: 'False', reason: 'TRUST_UNAVAILABLE', message: cut(head + verdict.trustUnavailable) };
  }
  if (verdict.ok) {
    return { status: 'True', reason: 'Valid', message: 'the policy is valid and in force' };
  }
  return { status: 'False', reason: 'Invalid', message: invalidMessage(verdict.errors) };
}

/** Every error as `path: message`, joined with `; `, cut with a count of what was left out. */
export function invalidMessage(errors: readonly PolicyError[]): string {
  const head = 'the policy is invalid and not applied; models it governs are refused (POLICY_INVALID): ';
  const parts = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  if (parts.length === 0) parts.push('invalid');
  let out = head;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const sep = i === 0 ? '' : '; ';
    const rest = parts.length - i;
    const more = ` (and ${rest} more)`;
    if (out.length + sep.length + part.length + (rest > 1 ? more.length : 0) > MAX_CONDITION_MESSAGE) {
      return `${out}${more}`;
    }
    out += sep + part;
  }
  return out;
}

function cut(s: string): string {
  const more = '... (cut)';
  return s.length <= MAX_CONDITION_MESSAGE ? s : `${s.slice(0, MAX_CONDITION_MESSAGE - more.length)}${more}`;
}

/**
 * The status to write for `generation` given the one the object carries, or `undefined` when the current
 * one already says the same thing. `lastTransitionTime` moves only when the condition's status changes.
 * Conditions of other types (written by someone else) are kept.
 */
export function statusUpdate(
  current: unknown,
  verdict: PolicyVerdict,
  generation: number,
  now: Date,
): PolicyStatus | undefined {
  const want = readyCondition(verdict);
  const ready = readConditions(current).find((c) => c.type === READY);
  const observed = readObservedGeneration(current);
  if (
    ready !== undefined &&
    ready.status === want.status &&
    ready.reason === want.reason &&
    ready.message === want.message &&
    ready.observedGeneration === generation &&
    observed === generation
  ) {
    return undefined;
  }
  const lastTransitionTime =
    ready !== undefined && ready.status === want.status ? ready.lastTransitionTime : rfc3339(now);
  const condition: Condition = {
    type: READY,
    ...want,
    observedGeneration: generation,
    lastTransitionTime,
  };
  return {
    observedGeneration: generation,
    conditions: [...otherConditions(current), condition],
  };
}

/** Whole seconds, as metav1.Time serialises. */
function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

function readObservedGeneration(status: unknown): number | undefined {
  const g = (status as { observedGeneration?: unknown } | null | undefined)?.observedGeneration;
  return typeof g === 'number' ? g : undefined;
}

function otherConditions(status: unknown): unknown[] {
  const list = (status as { conditions?: unknown } | null | undefined)?.conditions;
  if (!Array.isArray(list)) return [];
  return list.filter((c) => (c as { type?: unknown } | null)?.type !== READY);
}

/** The well-formed conditions of a status read from the API server (anything else is dropped). */
function readConditions(status: unknown): Condition[] {
  const list = (status as { conditions?: unknown } | null | undefined)?.conditions;
  if (!Array.isArray(list)) return [];
  const out: Condition[] = [];
  for (const c of list) {
    if (typeof c !== 'object' || c === null) continue;
    const r = c as Record<string, unknown>;
    if (typeof r.type !== 'string') continue;
    if (r.status !== 'True' && r.status !== 'False' && r.status !== 'Unknown') continue;
    out.push({
      type: r.type,
      status: r.status,
      reason: typeof r.reason === 'string' ? r.reason : '',
      message: typeof r.message === 'string' ? r.message : '',
      ...(typeof r.observedGeneration === 'number' ? { observedGeneration: r.observedGeneration } : {}),
      lastTransitionTime: typeof r.lastTransitionTime === 'string' ? r.lastTransitionTime : '',
    });
  }
  return out;
}
