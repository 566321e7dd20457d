import { Counter, collectDefaultMetrics, Histogram, type Registry } from 'prom-client';
import type { Decision } from '../engine/decision.ts';

/**
 * How one `/validate` call ended: `error` when modelgate could not decide (bad request, failure,
 * deadline); `warned` when admitted with warnings (Warn findings); `audited` when admitted with Audit
 * findings only, which an Enforce policy would have refused.
 */
export type AdmissionResult = 'allowed' | 'denied' | 'warned' | 'audited' | 'error';

export const ADMISSION_RESULTS: readonly AdmissionResult[] = [
  'allowed',
  'denied',
  'warned',
  'audited',
  'error',
];

export interface AdmissionMetrics {
  readonly requests: Counter<'result'>;
  readonly duration: Histogram<'result'>;
  /** Findings of answered requests, by the mode and name of the policy that made them, and reason code. */
  readonly findings: Counter<'mode' | 'policy' | 'reason'>;
  /** Policy names seen as label values (bounded: see MAX_POLICY_LABELS). */
  readonly policyLabels: Set<string>;
}

export const REQUESTS_TOTAL = 'modelgate_admission_requests_total';
export const DURATION_SECONDS = 'modelgate_admission_duration_seconds';
export const FINDINGS_TOTAL = 'modelgate_admission_findings_total';
/** Distinct `policy` label values kept; findings of further policies count as `other`. */
export const MAX_POLICY_LABELS = 128;
/** The `policy` label of a finding no policy made (an ungoverned model under `--unmatched warn|deny`). */
export const NO_POLICY_LABEL = 'none';

// 1 ms .. 10 s: a cache hit answers in about a millisecond, a webhook times out at 10 s by default.
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Registers the admission metrics (and the default process metrics) in `registry`. Idempotent per
 * registry, so a second server on the same registry shares the series instead of throwing.
 */
export function createAdmissionMetrics(
  registry: Registry,
  opts: { defaultMetrics?: boolean } = {},
): AdmissionMetrics {
  if ((opts.defaultMetrics ?? true) && registry.getSingleMetric('process_cpu_seconds_total') === undefined) {
    collectDefaultMetrics({ register: registry });
  }
  const requests =
    (registry.getSingleMetric(REQUESTS_TOTAL) as Counter<'result'> | undefined) ??
    new Counter({
      name: REQUESTS_TOTAL,
      help: 'Admission requests answered on /validate, by result.',
      labelNames: ['result'],
      registers: [registry],
    });
  const existing = registry.getSingleMetric(DURATION_SECONDS) as Histogram<'result'> | undefined;
  const duration =
    existing ??
    new Histogram({
      name: DURATION_SECONDS,
      help: 'Time from receiving an admission request to answering it, by result.',
      labelNames: ['result'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  const findings =
    (registry.getSingleMetric(FINDINGS_TOTAL) as Counter<'mode' | 'policy' | 'reason'> | undefined) ??
    new Counter({
      name: FINDINGS_TOTAL,
      help: 'Findings in answered admission requests (Warn and Audit ones included, dry runs too), by policy mode, policy name (`none` when no policy governs the model) and reason code.',
      labelNames: ['mode', 'policy', 'reason'],
      registers: [registry],
    });
  // Every series exists from the start, so a rate() over a result that has not happened yet reads 0.
  for (const result of ADMISSION_RESULTS) {
    requests.inc({ result }, 0);
    if (existing === undefined) duration.zero({ result });
  }
  return { requests, duration, findings, policyLabels: new Set() };
}

/** How an answered request is counted; `errored` when no decision came from the engine. Pure. */
export function admissionResult(decision: Decision, errored: boolean): AdmissionResult {
  if (errored) return 'error';
  if (!decision.allowed) return 'denied';
  if (decision.warnings.length > 0) return 'warned';
  return decision.findings.some((f) => f.mode === 'Audit') ? 'audited' : 'allowed';
}

/** Records one answered request; with its decision, also its findings by mode, policy and reason. */
export function observeAdmission(
  metrics: AdmissionMetrics,
  result: AdmissionResult,
  seconds: number,
  decision?: Decision,
): void {
  metrics.requests.inc({ result });
  metrics.duration.observe({ result }, seconds);
  for (const f of decision?.findings ?? []) {
    metrics.findings.inc({ mode: f.mode, policy: policyLabel(metrics, f.policy), reason: f.code });
  }
}

function policyLabel(metrics: AdmissionMetrics, policy: string | undefined): string {
  if (policy === undefined) return NO_POLICY_LABEL;
  if (metrics.policyLabels.has(policy)) return policy;
  // Policies are few and written by cluster admins, but a label's values must stay bounded whatever happens.
  if (metrics.policyLabels.size >= MAX_POLICY_LABELS) return 'other';
  metrics.policyLabels.add(policy);
  return policy;
}
