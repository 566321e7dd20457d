/**
 * Metrics of verification and of the registry client, registered in the same prom-client Registry as the
 * admission metrics and served with them on /metrics. Names follow the Prometheus conventions: a
 * `modelgate_` prefix, `_total` counters, base units (`_seconds`, `_bytes`).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RequestEvent } from '../oci/transport.ts';
import { REASON_CODES } from '../verdict/reasons.ts';

/** The caches: verified decisions, refusals (kept apart and briefly), tag -> digest resolutions. */
export type CacheName = 'decision' | 'negative' | 'tag';
export const CACHE_NAMES: readonly CacheName[] = ['decision', 'negative', 'tag'];

export type VerificationResult = 'verified' | 'failed';

export const METRIC = {
  outcomes: 'modelgate_verification_outcomes_total',
  duration: 'modelgate_verification_duration_seconds',
  inFlight: 'modelgate_verifications_in_flight',
  waiting: 'modelgate_verifications_waiting',
  coalesced: 'modelgate_verifications_coalesced_total',
  cacheHits: 'modelgate_cache_hits_total',
  cacheMisses: 'modelgate_cache_misses_total',
  cacheEvictions: 'modelgate_cache_evictions_total',
  cacheEntries: 'modelgate_cache_entries',
  registryRequests: 'modelgate_registry_requests_total',
  registryDuration: 'modelgate_registry_request_duration_seconds',
  registryBytes: 'modelgate_registry_response_bytes_total',
} as const;

export interface VerificationMetrics {
  /** Verdicts handed to the engine (cache hits included): `none` for a pass, else one per distinct code. */
  readonly outcomes: Counter<'result' | 'reason'>;
  /** Verifications actually run (cache hits and coalesced waiters excluded). */
  readonly duration: Histogram<'result'>;
  readonly inFlight: Gauge;
  readonly waiting: Gauge;
  readonly coalesced: Counter;
  readonly cacheHits: Counter<'cache'>;
  readonly cacheMisses: Counter<'cache'>;
  readonly cacheEvictions: Counter<'cache' | 'reason'>;
  readonly cacheEntries: Gauge<'cache'>;
}

// A warm verification answers from memory in microseconds; a cold one takes a few round trips; the
// webhook deadline is a few seconds.
const VERIFICATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]) {
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  );
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]) {
  return (
    (registry.getSingleMetric(name) as Gauge<L> | undefined) ??
    new Gauge<L>({ name, help, labelNames, registers: [registry] })
  );
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  buckets: number[],
) {
  return (
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] })
  );
}

/** Registers the verification metrics in `registry` (idempotent per registry). */
export function createVerificationMetrics(registry: Registry): VerificationMetrics {
  const m: VerificationMetrics = {
    outcomes: counter(
      registry,
      METRIC.outcomes,
      'Verdicts on a model reference under one policy, cache hits included: result, and reason code of each failure.',
      ['result', 'reason'],
    ),
    duration: histogram(
      registry,
      METRIC.duration,
      'Time to verify one model under one policy from the registry (cache hits and coalesced waiters excluded).',
      ['result'],
      VERIFICATION_BUCKETS,
    ),
    inFlight: gauge(registry, METRIC.inFlight, 'Verifications running against a registry now.', []),
    waiting: gauge(
      registry,
      METRIC.waiting,
      'Verifications waiting for a slot under the per-registry concurrency limit.',
      [],
    ),
    coalesced: counter(
      registry,
      METRIC.coalesced,
      'Verifications that joined an identical one already running instead of starting their own.',
      [],
    ),
    cacheHits: counter(registry, METRIC.cacheHits, 'Cache lookups answered from the cache, by cache.', [
      'cache',
    ]),
    cacheMisses: counter(
      registry,
      METRIC.cacheMisses,
      'Cache lookups not answered from the cache, by cache (a decision miss missed both the decision and negative caches).',
      ['cache'],
    ),
    cacheEvictions: counter(
      registry,
      METRIC.cacheEvictions,
      'Entries dropped from a cache, by cache and reason (capacity or expired).',
      ['cache', 'reason'],
    ),
    cacheEntries: gauge(registry, METRIC.cacheEntries, 'Entries held by each cache.', ['cache']),
  };
  // Every series exists from the start, so that a rate() over one that has not happened yet reads 0.
  m.outcomes.inc({ result: 'verified', reason: 'none' }, 0);
  for (const reason of REASON_CODES) m.outcomes.inc({ result: 'failed', reason }, 0);
  for (const cache of CACHE_NAMES) {
    m.cacheHits.inc({ cache }, 0);
    m.cacheEntries.set({ cache }, 0);
    m.cacheEvictions.inc({ cache, reason: 'capacity' }, 0);
    m.cacheEvictions.inc({ cache, reason: 'expired' }, 0);
  }
  m.cacheMisses.inc({ cache: 'decision' }, 0);
  m.cacheMisses.inc({ cache: 'tag' }, 0);
  return m;
}

export interface RegistryMetrics {
  /** The registry client's `onRequest` hook. */
  observe(e: RequestEvent): void;
}

/** Distinct `registry` label values kept; further hosts (redirect targets, token realms) count as `other`. */
export const MAX_REGISTRY_LABELS = 64;

/** Registers the registry request metrics in `registry` (idempotent per registry). */
export function createRegistryMetrics(registry: Registry): RegistryMetrics {
  const requests = counter(
    registry,
    METRIC.registryRequests,
    'HTTP round trips to registries (token endpoints and redirects included), by host and status (`error` when no answer came).',
    ['registry', 'status'],
  );
  const duration = histogram(
    registry,
    METRIC.registryDuration,
    'Time of one HTTP round trip to a registry, body included.',
    ['registry'],
    REQUEST_BUCKETS,
  );
  const bytes = counter(registry, METRIC.registryBytes, 'Body bytes read from registry answers.', [
    'registry',
  ]);
  const seen = new Set<string>();
  return {
    observe(e: RequestEvent): void {
      let host = e.registry;
      if (!seen.has(host)) {
        if (seen.size >= MAX_REGISTRY_LABELS) host = 'other';
        else seen.add(host);
      }
      const status =
        e.status !== undefined && Number.isInteger(e.status) && e.status >= 100 && e.status <= 599
          ? String(e.status)
          : 'error';
      requests.inc({ registry: host, status });
      duration.observe({ registry: host }, e.ms / 1000);
      if (e.bytes > 0) bytes.inc({ registry: host }, e.bytes);
    },
  };
}
