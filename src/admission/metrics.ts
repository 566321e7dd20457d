import { Counter, collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

/** How one `/validate` call ended: `error` when modelgate could not decide (bad request, failure, deadline). */
export type AdmissionResult = 'allowed' | 'denied' | 'warned' | 'error';

export const ADMISSION_RESULTS: readonly AdmissionResult[] = ['allowed', 'denied', 'warned', 'error'];

export interface AdmissionMetrics {
  readonly requests: Counter<'result'>;
  readonly duration: Histogram<'result'>;
}

export const REQUESTS_TOTAL = 'modelgate_admission_requests_total';
export const DURATION_SECONDS = 'modelgate_admission_duration_seconds';

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
  // Every series exists from the start, so a rate() over a result that has not happened yet reads 0.
  for (const result of ADMISSION_RESULTS) {
    requests.inc({ result }, 0);
    if (existing === undefined) duration.zero({ result });
  }
  return { requests, duration };
}

/** Records one answered request. */
export function observeAdmission(metrics: AdmissionMetrics, result: AdmissionResult, seconds: number): void {
  metrics.requests.inc({ result });
  metrics.duration.observe({ result }, seconds);
}
