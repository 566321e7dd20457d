/**
 * The verification front the engine calls for each (model reference, policy): tag -> digest resolution
 * with a short cache, a decision cache keyed by what the verdict is about, coalescing of identical
 * verifications, and a concurrency bound per registry. The verification itself (evidence and checks) is
 * the inner verifier's. See docs/adr/0003-decision-cache.md.
 */
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ModelReference } from '../reference/reference.ts';
import type { CheckFailure, CheckOutcome } from '../verdict/outcome.ts';
import type { ReasonCode } from '../verdict/reasons.ts';
import { Coalescer } from './coalesce.ts';
import type { ModelVerifier } from './engine.ts';
import { KeyedLimiter, QueueFullError } from './limiter.ts';
import { type EvictionReason, TtlLru } from './lru.ts';
import { clause } from './message.ts';
import type { CacheName, VerificationMetrics } from './metrics.ts';
import { registryFailure } from './registry-verifier.ts';

/**
 * Failures that say nothing about the model, only about this attempt: never cached, so that the next
 * admission tries again.
 */
export const TRANSIENT_CODES: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'REGISTRY_ERROR',
  'DEADLINE_EXCEEDED',
  'INTERNAL_ERROR',
]);

export interface CacheSettings {
  /** Verified decisions kept at most, and for how long. */
  readonly maxEntries: number;
  readonly ttlMs: number;
  /** Refusals (non-transient failures) kept at most, and for how long: briefly, so a fix shows soon. */
  readonly negativeMaxEntries: number;
  readonly negativeTtlMs: number;
  /** tag -> digest resolutions kept at most, and for how long. */
  readonly tagMaxEntries: number;
  readonly tagTtlMs: number;
}

export const DEFAULT_CACHE: CacheSettings = Object.freeze({
  maxEntries: 10_000,
  ttlMs: 300_000,
  negativeMaxEntries: 2_000,
  negativeTtlMs: 10_000,
  tagMaxEntries: 10_000,
  tagTtlMs: 30_000,
});

export interface LimitSettings {
  /** Verifications running at once against one registry host. */
  readonly perRegistry: number;
  /** Verifications waiting for one registry host; more are refused (REGISTRY_ERROR, not cached). */
  readonly maxWaitingPerRegistry: number;
  /**
   * Budget of one shared verification. It is not any caller's deadline: a caller that gives up leaves,
   * and the work goes on for the others, or, with nobody left, to fill the cache for the next attempt.
   */
  readonly workTimeoutMs: number;
}

export const DEFAULT_LIMITS: LimitSettings = Object.freeze({
  perRegistry: 8,
  maxWaitingPerRegistry: 256,
  workTimeoutMs: 8_000,
});

/**
 * What a policy's verdicts depend on beyond its spec: the trust material its `signatures` section names
 * (implemented by verify/trust.ts's TrustCache). A token's `key` digests the spec and that material; a
 * new compilation is a new token object, even with the same key.
 */
export interface TrustDependencies {
  forPolicy(policy: CompiledPolicy, signal: AbortSignal): Promise<{ readonly key: string }>;
  /** The token at hand without I/O, else undefined. */
  current(policy: CompiledPolicy): { readonly key: string } | undefined;
}

export interface CachingVerifierOptions {
  /** The registry-bound verification of one pinned reference under one policy. */
  readonly inner: ModelVerifier;
  /** Resolves a tag to the manifest digest it names now. */
  readonly resolveTag: (ref: ModelReference, signal: AbortSignal) => Promise<string>;
  /**
   * The trust material policies depend on. Without it a verdict is keyed by the spec alone, which is
   * right only when no policy names a Secret, a ConfigMap or a file.
   */
  readonly trust?: TrustDependencies;
  readonly cache?: Partial<CacheSettings>;
  readonly limits?: Partial<LimitSettings>;
  readonly metrics?: VerificationMetrics;
  readonly now?: () => number;
}

/**
 * The decision cache (and coalescing) key: the artifact, in the repository that holds its evidence, and a
 * digest of everything the policy makes the verdict depend on: `dependsOn` is the compiled trust's key
 * (spec and trust material) or, for a policy without signatures, its contentKey. Never the uid, name or
 * generation: an author writes those, and can keep them across edits or copy another policy's.
 */
export function decisionKey(ref: ModelReference, digest: string, dependsOn: string): string {
  return `${ref.registry}/${ref.repository}@${digest}\u0000${dependsOn}`;
}

function tagKey(ref: ModelReference): string {
  return `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
}

type Resolution = { ok: true; digest: string } | { ok: false; failure: CheckFailure };

/** Caches, coalesces and bounds verifications; see the module comment. */
export class CachingVerifier implements ModelVerifier {
  readonly #inner: ModelVerifier;
  readonly #resolveTag: CachingVerifierOptions['resolveTag'];
  readonly #trust: TrustDependencies | undefined;
  readonly #settings: CacheSettings;
  readonly #limits: LimitSettings;
  readonly #metrics: VerificationMetrics | undefined;
  readonly #now: () => number;
  readonly #decisions: TtlLru<string, CheckOutcome>;
  /** The refusal as it is served from the cache: each failure says so, and when it is checked again. */
  readonly #refusals: TtlLru<string, CheckOutcome>;
  readonly #tags: TtlLru<string, string>;
  readonly #verifications = new Coalescer<CheckOutcome>({ whenAbandoned: 'finish' });
  readonly #resolutions = new Coalescer<Resolution>({ whenAbandoned: 'finish' });
  readonly #limiter: KeyedLimiter;

  constructor(opts: CachingVerifierOptions) {
    this.#inner = opts.inner;
    this.#resolveTag = opts.resolveTag;
    this.#trust = opts.trust;
    this.#settings = { ...DEFAULT_CACHE, ...opts.cache };
    this.#limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.#metrics = opts.metrics;
    this.#now = opts.now ?? Date.now;
    const lru = <V>(cache: CacheName, maxEntries: number, ttlMs: number) =>
      new TtlLru<string, V>({
        maxEntries,
        ttlMs,
        now: this.#now,
        onEvict: (reason: EvictionReason) => {
          this.#metrics?.cacheEvictions.inc({ cache, reason });
          this.#gaugeSizes();
        },
      });
    this.#decisions = lru('decision', this.#settings.maxEntries, this.#settings.ttlMs);
    this.#refusals = lru<CheckOutcome>(
      'negative',
      this.#settings.negativeMaxEntries,
      this.#settings.negativeTtlMs,
    );
    this.#tags = lru('tag', this.#settings.tagMaxEntries, this.#settings.tagTtlMs);
    const metrics = this.#metrics;
    this.#limiter = new KeyedLimiter({
      concurrency: this.#limits.perRegistry,
      maxWaiting: this.#limits.maxWaitingPerRegistry,
      ...(metrics
        ? {
            onChange: (running: number, waiting: number) => {
              metrics.inFlight.set(running);
              metrics.waiting.set(waiting);
            },
          }
        : {}),
    });
  }

  /** Entries per cache, for tests and the soak. */
  get sizes(): Readonly<Record<CacheName, number>> {
    return { decision: this.#decisions.size, negative: this.#refusals.size, tag: this.#tags.size };
  }

  async verify(ref: ModelReference, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckOutcome> {
    const outcome = await this.#verify(ref, policy, signal);
    this.#count(outcome);
    return outcome;
  }

  /** A cached outcome, found without I/O; a miss counts nothing (the `verify` that follows does). */
  cached(ref: ModelReference, policy: CompiledPolicy): CheckOutcome | undefined {
    const digest = ref.digest ?? this.#tags.get(tagKey(ref));
    if (digest === undefined) return undefined;
    const token = this.#currentToken(policy);
    if (token === undefined) return undefined;
    const found = this.#find(decisionKey(ref, digest, token.key));
    if (found === undefined) return undefined;
    if (ref.digest === undefined) this.#metrics?.cacheHits.inc({ cache: 'tag' });
    this.#metrics?.cacheHits.inc({ cache: found.cache });
    this.#count(found.outcome);
    return found.outcome;
  }

  async #verify(ref: ModelReference, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckOutcome> {
    let digest = ref.digest;
    if (digest === undefined) {
      const resolved = await this.#digestOf(ref, signal);
      if (!resolved.ok) return { failures: [resolved.failure] };
      digest = resolved.digest;
    }
    let token: { readonly key: string };
    try {
      token = await this.#tokenOf(policy, signal);
    } catch (err) {
      if (signal.aborted) return { failures: [deadlineFailure()] };
      return {
        failures: [
          { code: 'INTERNAL_ERROR', message: `trust material: ${(err as Error)?.message ?? String(err)}` },
        ],
      };
    }
    const key = decisionKey(ref, digest, token.key);
    const cached = this.#lookup(key);
    if (cached !== undefined) return cached;

    // The inner verifier sees the digest: evidence is gathered for exactly what was resolved.
    const pinned: ModelReference = { ...ref, digest };
    try {
      return await this.#verifications.run(
        key,
        (workSignal) => this.#runVerification(key, token, pinned, policy, workSignal),
        signal,
        () => this.#metrics?.coalesced.inc(),
      );
    } catch {
      // Only the caller's own signal rejects a wait: the work itself never throws.
      return { failures: [deadlineFailure()] };
    }
  }

  /** What the policy's verdicts depend on now: its compiled trust, or (without signatures) its spec. */
  #tokenOf(policy: CompiledPolicy, signal: AbortSignal): Promise<{ readonly key: string }> {
    if (policy.spec.signatures === undefined || this.#trust === undefined)
      return Promise.resolve({ key: policy.contentKey });
    return this.#trust.forPolicy(policy, signal);
  }

  #currentToken(policy: CompiledPolicy): { readonly key: string } | undefined {
    if (policy.spec.signatures === undefined || this.#trust === undefined) return { key: policy.contentKey };
    return this.#trust.current(policy);
  }

  #lookup(key: string): CheckOutcome | undefined {
    const found = this.#find(key);
    if (found === undefined) {
      this.#metrics?.cacheMisses.inc({ cache: 'decision' });
      return undefined;
    }
    this.#metrics?.cacheHits.inc({ cache: found.cache });
    return found.outcome;
  }

  /** The cached outcome for a key: a verified decision first, then a refusal. Counts nothing. */
  #find(key: string): { outcome: CheckOutcome; cache: CacheName } | undefined {
    const verified = this.#decisions.get(key);
    if (verified !== undefined) return { outcome: verified, cache: 'decision' };
    const refused = this.#refusals.get(key);
    if (refused !== undefined) return { outcome: refused, cache: 'negative' };
    return undefined;
  }

  async #runVerification(
    key: string,
    token: { readonly key: string },
    ref: ModelReference,
    policy: CompiledPolicy,
    shared: AbortSignal,
  ): Promise<CheckOutcome> {
    const signal = AbortSignal.any([shared, AbortSignal.timeout(this.#limits.workTimeoutMs)]);
    let started = 0;
    let outcome: CheckOutcome;
    try {
      outcome = await this.#limiter.run(
        ref.registry,
        () => {
          started = performance.now();
          return this.#inner.verify(ref, policy, signal);
        },
        signal,
      );
    } catch (err) {
      outcome = { failures: [this.#workFailure(err, signal)] };
    }
    if (started > 0) {
      const result = outcome.failures.length === 0 ? 'verified' : 'failed';
      this.#metrics?.duration.observe({ result }, (performance.now() - started) / 1000);
    }
    // Material that changed while this ran (a rotated key noticed meanwhile) may have been used for part
    // of it: the answer goes to the callers but is not remembered. A new compilation is a new token, so
    // comparing objects also catches a change that came back to the same key.
    if (
      policy.spec.signatures === undefined ||
      this.#trust === undefined ||
      this.#trust.current(policy) === token
    )
      this.#remember(key, outcome);
    return outcome;
  }

  #workFailure(err: unknown, signal: AbortSignal): CheckFailure {
    if (err instanceof QueueFullError)
      return { code: 'REGISTRY_ERROR', message: `registry ${err.key} is saturated: ${err.message}` };
    if (signal.aborted) return deadlineFailure();
    return {
      code: 'INTERNAL_ERROR',
      message: `verification failed: ${(err as Error)?.message ?? String(err)}`,
    };
  }

  /** Passes go to the decision cache, refusals briefly to their own; transient failures nowhere. */
  #remember(key: string, outcome: CheckOutcome): void {
    if (outcome.failures.length === 0) {
      this.#decisions.set(key, outcome);
      this.#refusals.delete(key);
    } else if (outcome.failures.every((f) => !TRANSIENT_CODES.has(f.code))) {
      // An operator who just signed the model sees why it is still refused, and until when.
      const ttl = this.#settings.negativeTtlMs;
      this.#refusals.set(key, asCachedRefusal(outcome, this.#now() + ttl, ttl >= DAY_MS));
    } else {
      return;
    }
    this.#gaugeSizes();
  }

  async #digestOf(ref: ModelReference, signal: AbortSignal): Promise<Resolution> {
    const key = tagKey(ref);
    const cached = this.#tags.get(key);
    if (cached !== undefined) {
      this.#metrics?.cacheHits.inc({ cache: 'tag' });
      return { ok: true, digest: cached };
    }
    this.#metrics?.cacheMisses.inc({ cache: 'tag' });
    try {
      return await this.#resolutions.run(key, (shared) => this.#resolve(key, ref, shared), signal);
    } catch {
      return { ok: false, failure: deadlineFailure() };
    }
  }

  async #resolve(key: string, ref: ModelReference, shared: AbortSignal): Promise<Resolution> {
    const signal = AbortSignal.any([shared, AbortSignal.timeout(this.#limits.workTimeoutMs)]);
    try {
      const digest = await this.#limiter.run(ref.registry, () => this.#resolveTag(ref, signal), signal);
      this.#tags.set(key, digest);
      this.#gaugeSizes();
      return { ok: true, digest };
    } catch (err) {
      if (err instanceof QueueFullError) return { ok: false, failure: this.#workFailure(err, signal) };
      return { ok: false, failure: registryFailure(err, signal) };
    }
  }

  #count(outcome: CheckOutcome): void {
    const m = this.#metrics;
    if (m === undefined) return;
    if (outcome.failures.length === 0) {
      m.outcomes.inc({ result: 'verified', reason: 'none' });
      return;
    }
    for (const code of new Set(outcome.failures.map((f) => f.code)))
      m.outcomes.inc({ result: 'failed', reason: code });
  }

  #gaugeSizes(): void {
    const m = this.#metrics;
    if (m === undefined) return;
    m.cacheEntries.set({ cache: 'decision' }, this.#decisions.size);
    m.cacheEntries.set({ cache: 'negative' }, this.#refusals.size);
    m.cacheEntries.set({ cache: 'tag' }, this.#tags.size);
  }
}

const DAY_MS = 86_400_000;

/**
 * Marks each failure of a refusal as served from the negative cache until `until` (ms since the epoch):
 * `HH:MM:SSZ`, with the date only when the cache keeps refusals a day or more.
 */
export function asCachedRefusal(outcome: CheckOutcome, until: number, withDate = false): CheckOutcome {
  const iso = new Date(Math.ceil(until / 1000) * 1000).toISOString();
  const when = withDate ? `${iso.slice(0, 19)}Z` : `${iso.slice(11, 19)}Z`;
  const note = `cached refusal, re-checked after ${when}`;
  return {
    ...outcome,
    failures: outcome.failures.map((f) => ({ ...f, message: `${clause(f.message)} (${note})` })),
  };
}

function deadlineFailure(): CheckFailure {
  return { code: 'DEADLINE_EXCEEDED', message: 'verification was cut off by the deadline' };
}
