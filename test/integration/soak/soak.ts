/**
 * The soak: the real `modelgate serve` under a steady mix of admissions for a while, with the policy file
 * rewritten now and then (a new policy uid each time, so the caches start over; sometimes an invalid file,
 * which must change nothing) and the registry (distribution, storage on disk) restarted in the middle.
 *
 * Each request knows what it should get. A Pod naming signed models must be admitted, except while the
 * registry is down (and for a few seconds after), when a refusal with a transient code (REGISTRY_ERROR,
 * DEADLINE_EXCEEDED) is allowed. A Pod naming an unsigned model, a digest the registry does not have, or
 * a model no policy governs must never be admitted. Every answer must come within the deadline. The
 * server's resident memory is sampled each second: after warm-up it must stay within a bound (the caches
 * are bounded: `--cache-max-entries` and friends are small here, so they fill and evict).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRestartableRegistry } from '../../support/restartable-registry.ts';
import { podReview, type ServeProcess, sample, startServe } from '../../support/serve.ts';
import { pushSignedModels, signedPolicy } from '../../support/signed-models.ts';

export interface SoakOptions {
  readonly durationMs: number;
  /** Admissions per second offered (evenly spaced, open loop). */
  readonly rate?: number;
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  readonly durationMs: number;
  readonly requests: number;
  readonly byKind: Readonly<Record<string, { sent: number; allowed: number; denied: number }>>;
  /** Requests that got what they should not have (empty when the soak passed). */
  readonly failures: readonly string[];
  readonly policyChanges: number;
  readonly registryDownMs: readonly [number, number];
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly rss: {
    readonly warm: number;
    readonly max: number;
    readonly lastQuarterMedian: number;
    readonly samples: number;
  };
  readonly cache: Readonly<Record<string, number>>;
  readonly verifications: number;
  readonly registryRequests: number;
}

const DEADLINE_MS = 3_000;
/** Resident memory may grow this much from the end of warm-up to the last quarter of the run. */
export const RSS_GROWTH_BOUND = 48 * 2 ** 20;
const TRANSIENT = /REGISTRY_ERROR|DEADLINE_EXCEEDED/;
const REFUSAL_CODES = /SIGNATURE_MISSING|REGISTRY_ERROR|DEADLINE_EXCEEDED|MODEL_UNGOVERNED|REQUEST_INVALID/;
/** After the registry is back, how long refusals of good models may still come (retries, backoff). */
const RECOVERY_GRACE_MS = 5_000;
const CACHE = { decision: 40, negative: 10 };

type Kind = 'signed' | 'tagged' | 'volume' | 'unsigned' | 'missing' | 'ungoverned' | 'malformed';
const MIX: readonly [Kind, number][] = [
  ['signed', 35],
  ['tagged', 10],
  ['volume', 10],
  ['unsigned', 15],
  ['missing', 10],
  ['ungoverned', 10],
  ['malformed', 10],
];

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => {});
  const rate = opts.rate ?? 80;
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-soak-'));
  const registry = await startRestartableRegistry();
  let serve: ServeProcess | undefined;
  try {
    log(`registry ${registry.host}: pushing and signing models`);
    const models = await pushSignedModels({ host: registry.host }, { signed: 6, unsigned: 2 });
    const tagged = await pushSignedModels({ host: registry.host }, { signed: 2, prefix: 'tagged' });
    const policyFile = join(dir, 'policies.yaml');
    let generation = 0;
    const writePolicy = async (valid: boolean) => {
      generation += 1;
      const docs = [
        // An extra glob per generation changes the spec, hence the policy uid: the caches start over.
        signedPolicy(registry.host, models.publicKey, {
          name: 'models',
          models: [`${registry.host}/models/**`, `${registry.host}/generation-${generation}/**`],
        }),
        signedPolicy(registry.host, tagged.publicKey, {
          name: 'tagged',
          models: [`${registry.host}/tagged/**`],
          spec: { requireDigest: false },
        }),
      ];
      const text = docs.map((d) => JSON.stringify(d)).join('\n---\n');
      // An invalid file keeps the previous policies in force: expectations do not change.
      await writeFile(
        policyFile,
        valid
          ? text
          : `${text}\n---\n{"apiVersion": "modelgate.dev/v1alpha1", "kind": "ModelPolicy", "metadata": {"name": "broken"}, "spec": {"mode": "Sometimes"}}`,
      );
    };
    await writePolicy(true);
    serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      registry.host,
      '--deadline-ms',
      String(DEADLINE_MS),
      '--cache-max-entries',
      String(CACHE.decision),
      '--negative-cache-max-entries',
      String(CACHE.negative),
      '--negative-cache-ttl-ms',
      '2000',
      '--tag-cache-ttl-ms',
      '3000',
      '--log-level',
      'warn',
    ]);
    const server = serve;
    const taggedRefs = tagged.signed.map((r) => `${r.split('@')[0]}:v1`);

    const request = (kind: Kind, uid: string): unknown => {
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
      switch (kind) {
        case 'signed':
          return podReview(uid, [pick(models.signed), pick(models.signed)]);
        case 'tagged':
          return podReview(uid, [pick(taggedRefs)]);
        case 'volume': {
          const r = podReview(uid, []) as { request: Record<string, unknown> };
          r.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
          r.request.object = {
            spec: {
              template: {
                metadata: {},
                spec: {
                  containers: [{ name: 'c', image: 'busybox' }],
                  volumes: [{ name: 'm', image: { reference: pick(models.signed) } }],
                },
              },
            },
          };
          return r;
        }
        case 'unsigned':
          return podReview(uid, [pick(models.signed), pick(models.unsigned)]);
        case 'missing':
          return podReview(uid, [`${registry.host}/models/gone@sha256:${randomBytes(32).toString('hex')}`]);
        case 'ungoverned':
          return podReview(uid, [`elsewhere.example/m/${uid}@sha256:${'a'.repeat(64)}`]);
        case 'malformed':
          return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind: 7 } };
      }
    };
    const shouldAdmit = (kind: Kind) => kind === 'signed' || kind === 'tagged' || kind === 'volume';
    const totalWeight = MIX.reduce((n, [, w]) => n + w, 0);
    const kindAt = () => {
      let x = Math.random() * totalWeight;
      for (const [k, w] of MIX) {
        x -= w;
        if (x < 0) return k;
      }
      return 'signed';
    };

    const byKind: Record<string, { sent: number; allowed: number; denied: number }> = {};
    const failures: string[] = [];
    const latencies: number[] = [];
    const rssSamples: { t: number; rss: number }[] = [];
    let down: [number, number] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    let policyChanges = 0;
    const start = Date.now();
    const elapsed = () => Date.now() - start;
    const inOutage = (sent: number, answered: number) =>
      answered >= down[0] && sent <= (Number.isFinite(down[1]) ? down[1] : Date.now()) + RECOVERY_GRACE_MS;

    const one = async (n: number) => {
      const kind = kindAt();
      const uid = `soak-${n}`;
      byKind[kind] ??= { sent: 0, allowed: 0, denied: 0 };
      const stats = byKind[kind];
      stats.sent += 1;
      const sent = Date.now();
      let reply: Awaited<ReturnType<ServeProcess['validate']>>;
      try {
        reply = await server.validate(request(kind, uid));
      } catch (err) {
        failures.push(`${uid} (${kind}): no answer: ${(err as Error).message}`);
        return;
      }
      const answered = Date.now();
      latencies.push(reply.ms);
      if (reply.ms > DEADLINE_MS + 1_000)
        failures.push(`${uid} (${kind}): answered after ${reply.ms.toFixed(0)} ms`);
      if (kind === 'malformed') {
        if (reply.answer.allowed) failures.push(`${uid}: a malformed review was admitted`);
        stats.denied += 1;
        return;
      }
      if (reply.status !== 200) {
        failures.push(`${uid} (${kind}): HTTP ${reply.status}`);
        return;
      }
      const message = reply.answer.message ?? '';
      if (reply.answer.allowed) {
        stats.allowed += 1;
        if (!shouldAdmit(kind)) failures.push(`${uid} (${kind}): ADMITTED`);
        return;
      }
      stats.denied += 1;
      if (shouldAdmit(kind)) {
        const excused = TRANSIENT.test(message) && inOutage(sent, answered);
        if (!excused)
          failures.push(`${uid} (${kind}): refused at ${sent - start} ms: ${message.slice(0, 300)}`);
      } else if (!REFUSAL_CODES.test(message)) {
        failures.push(`${uid} (${kind}): refused for an unexpected reason: ${message.slice(0, 300)}`);
      }
    };

    // Events: policy rewrites spread over the run, one registry restart in the middle.
    const changeEvery = Math.max(4_000, opts.durationMs / 8);
    const restartAt = opts.durationMs / 2;
    const events = (async () => {
      let nextChange = changeEvery;
      let restarted = false;
      while (elapsed() < opts.durationMs) {
        await new Promise((r) => setTimeout(r, 250));
        if (!restarted && elapsed() >= restartAt) {
          restarted = true;
          log(`${elapsed()} ms: stopping the registry`);
          down = [Date.now(), Number.POSITIVE_INFINITY];
          await registry.stop();
          await new Promise((r) => setTimeout(r, 3_000));
          await registry.start();
          down = [down[0], Date.now()];
          log(`${elapsed()} ms: registry back after ${down[1] - down[0]} ms`);
        }
        if (elapsed() >= nextChange) {
          nextChange += changeEvery;
          policyChanges += 1;
          await writePolicy(policyChanges % 4 !== 0);
          log(
            `${elapsed()} ms: policy file rewritten (${policyChanges % 4 !== 0 ? 'new generation' : 'invalid'})`,
          );
        }
        rssSamples.push({ t: elapsed(), rss: server.memory().rss });
      }
    })();

    // Open-loop, evenly spaced admissions.
    const pending = new Set<Promise<void>>();
    let n = 0;
    while (elapsed() < opts.durationMs) {
      const due = start + (n * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = one(n++).finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
    await events;

    const text = await server.metrics();
    const cache = {
      decision: sample(text, 'modelgate_cache_entries', { cache: 'decision' }),
      negative: sample(text, 'modelgate_cache_entries', { cache: 'negative' }),
      tag: sample(text, 'modelgate_cache_entries', { cache: 'tag' }),
    };
    if (cache.decision > CACHE.decision)
      failures.push(`decision cache holds ${cache.decision} > ${CACHE.decision}`);
    if (cache.negative > CACHE.negative)
      failures.push(`negative cache holds ${cache.negative} > ${CACHE.negative}`);

    const sorted = [...latencies].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
    const afterWarmup = rssSamples.filter((s) => s.t >= opts.durationMs * 0.2);
    const warm = afterWarmup[0]?.rss ?? Number.NaN;
    const lastQuarter = rssSamples
      .filter((s) => s.t >= opts.durationMs * 0.75)
      .map((s) => s.rss)
      .sort((a, b) => a - b);
    return {
      durationMs: elapsed(),
      requests: n,
      byKind,
      failures,
      policyChanges,
      registryDownMs: [down[0] - start, down[1] - start],
      latencyMs: { p50: q(0.5), p99: q(0.99), max: q(1) },
      rss: {
        warm,
        max: Math.max(...afterWarmup.map((s) => s.rss)),
        lastQuarterMedian: lastQuarter[Math.floor(lastQuarter.length / 2)] ?? Number.NaN,
        samples: rssSamples.length,
      },
      cache,
      verifications: sample(text, 'modelgate_verification_duration_seconds_count'),
      registryRequests: sample(text, 'modelgate_registry_requests_total'),
    };
  } finally {
    await serve?.stop();
    await registry.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A report as lines for people. */
export function describeSoak(r: SoakReport): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const kinds = Object.entries(r.byKind)
    .map(
      ([k, v]) =>
        `  ${k.padEnd(10)} sent ${String(v.sent).padStart(6)}  admitted ${String(v.allowed).padStart(6)}  refused ${String(v.denied).padStart(6)}`,
    )
    .join('\n');
  return [
    `soak: ${(r.durationMs / 1000).toFixed(0)} s, ${r.requests} admissions, ${r.policyChanges} policy rewrites, registry down from ${(r.registryDownMs[0] / 1000).toFixed(1)} s to ${(r.registryDownMs[1] / 1000).toFixed(1)} s`,
    kinds,
    `latency p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(0)} ms`,
    `RSS after warm-up ${mib(r.rss.warm)}, max ${mib(r.rss.max)}, last quarter median ${mib(r.rss.lastQuarterMedian)} (${r.rss.samples} samples)`,
    `caches at the end: ${JSON.stringify(r.cache)}; verifications run ${r.verifications}; registry requests ${r.registryRequests}`,
    r.failures.length === 0
      ? 'no failed expectation'
      : `${r.failures.length} FAILED expectations:\n  ${r.failures.slice(0, 20).join('\n  ')}`,
  ].join('\n');
}
