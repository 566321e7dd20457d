import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CachingVerifier, type CachingVerifierOptions } from '../../../src/engine/caching-verifier.ts';
import type { ModelVerifier } from '../../../src/engine/engine.ts';
import { createVerificationMetrics } from '../../../src/engine/metrics.ts';
import { RegistryError } from '../../../src/oci/errors.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import type { ModelReference } from '../../../src/reference/reference.ts';
import type { CheckOutcome } from '../../../src/verdict/outcome.ts';
import type { ReasonCode } from '../../../src/verdict/reasons.ts';
import { engine, podReview, policy } from './builders.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const never = () => new AbortController().signal;
const P = policy('p', { models: ['r.example/**'] });

function ref(
  repository: string,
  at: { digest?: string; tag?: string },
  registry = 'r.example',
): ModelReference {
  return { registry, repository, ...at };
}

function fail(code: ReasonCode): CheckOutcome {
  return { failures: [{ code, message: code }] };
}

/** An inner verifier that records its calls and answers from `answer`. */
function recording(answer: (r: ModelReference, p: CompiledPolicy, s: AbortSignal) => Promise<CheckOutcome>) {
  const calls: { ref: ModelReference; policy: CompiledPolicy; signal: AbortSignal }[] = [];
  const inner: ModelVerifier = {
    verify: (r, p, s) => {
      calls.push({ ref: r, policy: p, signal: s });
      return answer(r, p, s);
    },
  };
  return { inner, calls };
}

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function verifier(inner: ModelVerifier, opts: Partial<CachingVerifierOptions> = {}) {
  return new CachingVerifier({
    inner,
    resolveTag: async () => D1,
    ...opts,
  });
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>) {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('CachingVerifier: the decision cache', () => {
  it('verifies a pinned model once, then answers from the cache', async () => {
    const { inner, calls } = recording(async () => ({ failures: [] }));
    const registry = new Registry();
    const v = verifier(inner, { metrics: createVerificationMetrics(registry) });
    for (let i = 0; i < 5; i++)
      expect(await v.verify(ref('m/a', { digest: D1 }), P, never())).toEqual({ failures: [] });
    expect(calls).toHaveLength(1);
    expect(await metricValue(registry, 'modelgate_cache_hits_total', { cache: 'decision' })).toBe(4);
    expect(await metricValue(registry, 'modelgate_cache_misses_total', { cache: 'decision' })).toBe(1);
    expect(
      await metricValue(registry, 'modelgate_verification_outcomes_total', {
        result: 'verified',
        reason: 'none',
      }),
    ).toBe(5);
    expect(await metricValue(registry, 'modelgate_cache_entries', { cache: 'decision' })).toBe(1);
  });

  it('keys by repository, digest and policy content, never by uid, name or generation', async () => {
    const { inner, calls } = recording(async () => ({ failures: [] }));
    const v = verifier(inner);
    const edited = policy('p', { models: ['r.example/**'], formats: { deny: ['pickle', 'unknown'] } });
    // The same uid and generation as P (a file that carries them), another spec: another entry.
    const sameUid: CompiledPolicy = { ...edited, uid: P.uid, generation: P.generation };
    await v.verify(ref('m/a', { digest: D1 }), P, never());
    await v.verify(ref('m/a', { digest: D2 }), P, never());
    await v.verify(ref('m/b', { digest: D1 }), P, never());
    await v.verify(ref('m/a', { digest: D1 }, 'other.example'), P, never());
    await v.verify(ref('m/a', { digest: D1 }), sameUid, never());
    expect(calls).toHaveLength(5);
    // Identical content under another name, uid and generation shares the entry: it depends on nothing else.
    const twin = policy('q', { models: ['r.example/**'] });
    const nextGeneration: CompiledPolicy = { ...P, uid: 'another', generation: P.generation + 1 };
    await v.verify(ref('m/a', { digest: D1 }), twin, never());
    await v.verify(ref('m/a', { digest: D1 }), nextGeneration, never());
    await v.verify(ref('m/a', { digest: D1 }), edited, never());
    expect(calls).toHaveLength(5);
  });

  it('keys a policy with signatures by its compiled trust, and keeps nothing made while the trust changed', async () => {
    let token = { key: 'sha256:trust-1' };
    const trust = { forPolicy: async () => token, current: () => token };
    let rotateDuringRun = false;
    const { inner, calls } = recording(async () => {
      if (rotateDuringRun) token = { key: 'sha256:trust-3' };
      return { failures: [] };
    });
    const v = verifier(inner, { trust });
    const signed = {
      ...P,
      spec: { ...P.spec, signatures: { required: true, threshold: 1, authorities: [] } },
    } as CompiledPolicy;
    await v.verify(ref('m/a', { digest: D1 }), signed, never());
    await v.verify(ref('m/a', { digest: D1 }), signed, never());
    expect(calls).toHaveLength(1);
    expect(v.cached(ref('m/a', { digest: D1 }), signed)).toEqual({ failures: [] });
    // A rotated key (new material): a new key, so the old verdict is not used.
    token = { key: 'sha256:trust-2' };
    expect(v.cached(ref('m/a', { digest: D1 }), signed)).toBeUndefined();
    await v.verify(ref('m/a', { digest: D1 }), signed, never());
    expect(calls).toHaveLength(2);
    // The trust changed while a verification ran: its answer is given but not kept.
    rotateDuringRun = true;
    await v.verify(ref('m/b', { digest: D1 }), signed, never());
    rotateDuringRun = false;
    await v.verify(ref('m/b', { digest: D1 }), signed, never());
    expect(calls).toHaveLength(4);
  });

  it('expires a verified decision after its TTL', async () => {
    const t = clock();
    const { inner, calls } = recording(async () => ({ failures: [] }));
    const v = verifier(inner, { now: t.now, cache: { ttlMs: 1_000 } });
    await v.verify(ref('m/a', { digest: D1 }), P, never());
    t.advance(999);
    await v.verify(ref('m/a', { digest: D1 }), P, never());
    expect(calls).toHaveLength(1);
    t.advance(1);
    await v.verify(ref('m/a', { digest: D1 }), P, never());
    expect(calls).toHaveLength(2);
  });

  it('keeps a refusal briefly and apart: its own TTL and its own bound', async () => {
    const t = clock();
    const { inner, calls } = recording(async (r) =>
      r.repository === 'm/good' ? { failures: [] } : fail('SIGNATURE_MISSING'),
    );
    const v = verifier(inner, {
      now: t.now,
      cache: { ttlMs: 60_000, negativeTtlMs: 10_000, negativeMaxEntries: 2 },
    });
    expect((await v.verify(ref('m/bad', { digest: D1 }), P, never())).failures[0]?.code).toBe(
      'SIGNATURE_MISSING',
    );
    await v.verify(ref('m/bad', { digest: D1 }), P, never());
    expect(calls).toHaveLength(1);
    await v.verify(ref('m/good', { digest: D1 }), P, never());
    // A flood of refusals evicts refusals only.
    for (const d of ['3', '4', '5', '6'])
      await v.verify(ref('m/bad', { digest: `sha256:${d.repeat(64)}` }), P, never());
    expect(v.sizes).toMatchObject({ decision: 1, negative: 2 });
    t.advance(10_000);
    await v.verify(ref('m/good', { digest: D1 }), P, never());
    const before = calls.length;
    await v.verify(ref('m/bad', { digest: `sha256:${'6'.repeat(64)}` }), P, never());
    expect(calls.length).toBe(before + 1);
  });

  it.each(['REGISTRY_ERROR', 'DEADLINE_EXCEEDED', 'INTERNAL_ERROR'] as const)(
    'never caches a %s outcome, alone or beside a refusal',
    async (code) => {
      const { inner, calls } = recording(async () => ({
        failures: [
          { code: 'SIGNATURE_MISSING', message: 'x' },
          { code, message: 'transient' },
        ],
      }));
      const v = verifier(inner);
      await v.verify(ref('m/a', { digest: D1 }), P, never());
      await v.verify(ref('m/a', { digest: D1 }), P, never());
      expect(calls).toHaveLength(2);
      expect(v.sizes).toMatchObject({ decision: 0, negative: 0 });
    },
  );

  it('turns an inner verifier that throws into INTERNAL_ERROR, not cached', async () => {
    let n = 0;
    const { inner } = recording(async () => {
      n += 1;
      if (n === 1) throw new Error('bug');
      return { failures: [] };
    });
    const v = verifier(inner);
    expect((await v.verify(ref('m/a', { digest: D1 }), P, never())).failures[0]?.code).toBe('INTERNAL_ERROR');
    expect(await v.verify(ref('m/a', { digest: D1 }), P, never())).toEqual({ failures: [] });
  });

  it('holds at most maxEntries verified decisions and counts the evictions', async () => {
    const registry = new Registry();
    const { inner } = recording(async () => ({ failures: [] }));
    const v = verifier(inner, { cache: { maxEntries: 3 }, metrics: createVerificationMetrics(registry) });
    for (let i = 0; i < 10; i++)
      await v.verify(ref('m/a', { digest: `sha256:${i.toString(16).repeat(64)}` }), P, never());
    expect(v.sizes.decision).toBe(3);
    expect(
      await metricValue(registry, 'modelgate_cache_evictions_total', {
        cache: 'decision',
        reason: 'capacity',
      }),
    ).toBe(7);
    expect(await metricValue(registry, 'modelgate_cache_entries', { cache: 'decision' })).toBe(3);
  });
});

describe('CachingVerifier: tags', () => {
  it('resolves a tag once per TTL and verifies the digest it names', async () => {
    const t = clock();
    let digest = D1;
    let resolutions = 0;
    const { inner, calls } = recording(async () => ({ failures: [] }));
    const v = verifier(inner, {
      now: t.now,
      cache: { tagTtlMs: 30_000 },
      resolveTag: async () => {
        resolutions += 1;
        return digest;
      },
    });
    const tagged = ref('m/a', { tag: 'v1' });
    await v.verify(tagged, P, never());
    await v.verify(tagged, P, never());
    expect(resolutions).toBe(1);
    expect(calls.map((c) => c.ref)).toEqual([{ ...tagged, digest: D1 }]);
    // The tag moves: seen once the resolution expires, and the new digest is verified.
    digest = D2;
    t.advance(30_000);
    await v.verify(tagged, P, never());
    expect(resolutions).toBe(2);
    expect(calls.map((c) => c.ref.digest)).toEqual([D1, D2]);
  });

  it('answers a failed resolution with its code and does not keep it', async () => {
    let n = 0;
    const { inner } = recording(async () => ({ failures: [] }));
    const v = verifier(inner, {
      resolveTag: async () => {
        n += 1;
        if (n === 1) throw new RegistryError('REGISTRY_ERROR', 'HTTP 503', { status: 503 });
        if (n === 2) throw new RegistryError('MANIFEST_DIGEST_MISMATCH', 'bytes differ');
        return D1;
      },
    });
    const tagged = ref('m/a', { tag: 'v1' });
    expect((await v.verify(tagged, P, never())).failures[0]?.code).toBe('REGISTRY_ERROR');
    expect((await v.verify(tagged, P, never())).failures[0]?.code).toBe('MANIFEST_DIGEST_MISMATCH');
    expect(await v.verify(tagged, P, never())).toEqual({ failures: [] });
  });

  it('coalesces concurrent resolutions of one tag', async () => {
    let resolutions = 0;
    const { inner } = recording(async () => ({ failures: [] }));
    const v = verifier(inner, {
      resolveTag: async () => {
        resolutions += 1;
        await new Promise((r) => setTimeout(r, 5));
        return D1;
      },
    });
    await Promise.all(Array.from({ length: 20 }, () => v.verify(ref('m/a', { tag: 'v1' }), P, never())));
    expect(resolutions).toBe(1);
  });
});

describe('CachingVerifier: coalescing, limits, deadlines', () => {
  it('runs identical concurrent verifications once', async () => {
    const registry = new Registry();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { inner, calls } = recording(async () => {
      await gate;
      return { failures: [] };
    });
    const v = verifier(inner, { metrics: createVerificationMetrics(registry) });
    const all = Array.from({ length: 50 }, () => v.verify(ref('m/a', { digest: D1 }), P, never()));
    await new Promise((r) => setTimeout(r, 1));
    release();
    const outcomes = await Promise.all(all);
    expect(outcomes.every((o) => o.failures.length === 0)).toBe(true);
    expect(calls).toHaveLength(1);
    expect(await metricValue(registry, 'modelgate_verifications_coalesced_total', {})).toBe(49);
  });

  it('lets a waiter whose deadline passes leave, without cancelling the work for the others', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { inner, calls } = recording(async () => {
      await gate;
      return { failures: [] };
    });
    const v = verifier(inner);
    const impatient = new AbortController();
    const first = v.verify(ref('m/a', { digest: D1 }), P, impatient.signal);
    const second = v.verify(ref('m/a', { digest: D1 }), P, never());
    impatient.abort(new Error('deadline'));
    expect((await first).failures.map((f) => f.code)).toEqual(['DEADLINE_EXCEEDED']);
    expect(calls[0]?.signal.aborted).toBe(false);
    release();
    expect(await second).toEqual({ failures: [] });
  });

  it('finishes work that every caller left, and caches its result for the next one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { inner, calls } = recording(async () => {
      await gate;
      return { failures: [] };
    });
    const v = verifier(inner);
    const gone = new AbortController();
    const first = v.verify(ref('m/a', { digest: D1 }), P, gone.signal);
    gone.abort(new Error('deadline'));
    expect((await first).failures[0]?.code).toBe('DEADLINE_EXCEEDED');
    release();
    await new Promise((r) => setTimeout(r, 1));
    expect(await v.verify(ref('m/a', { digest: D1 }), P, never())).toEqual({ failures: [] });
    expect(calls).toHaveLength(1);
  });

  it('bounds verifications in flight per registry', async () => {
    const registry = new Registry();
    const metrics = createVerificationMetrics(registry);
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    let peakGauge = 0;
    const { inner } = recording(async (r) => {
      running.set(r.registry, (running.get(r.registry) ?? 0) + 1);
      peak.set(r.registry, Math.max(peak.get(r.registry) ?? 0, running.get(r.registry)!));
      peakGauge = Math.max(peakGauge, (await metrics.inFlight.get()).values[0]?.value ?? 0);
      await new Promise((res) => setTimeout(res, 2));
      running.set(r.registry, running.get(r.registry)! - 1);
      return { failures: [] };
    });
    const v = verifier(inner, { limits: { perRegistry: 3 }, metrics });
    const jobs: Promise<CheckOutcome>[] = [];
    for (let i = 0; i < 20; i++) {
      const d = `sha256:${i.toString(16).padStart(2, '0').repeat(32)}`;
      jobs.push(v.verify(ref('m/a', { digest: d }, 'one.example'), P, never()));
      jobs.push(v.verify(ref('m/a', { digest: d }, 'two.example'), P, never()));
    }
    const outcomes = await Promise.all(jobs);
    expect(outcomes.every((o) => o.failures.length === 0)).toBe(true);
    expect(peak.get('one.example')).toBe(3);
    expect(peak.get('two.example')).toBe(3);
    expect(peakGauge).toBe(6);
    expect((await metrics.inFlight.get()).values[0]?.value).toBe(0);
  });

  it('refuses with REGISTRY_ERROR, uncached, when too many verifications wait for one registry', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { inner } = recording(async () => {
      await gate;
      return { failures: [] };
    });
    const v = verifier(inner, { limits: { perRegistry: 1, maxWaitingPerRegistry: 1 } });
    const a = v.verify(ref('m/a', { digest: D1 }), P, never());
    const b = v.verify(ref('m/b', { digest: D1 }), P, never());
    const c = await v.verify(ref('m/c', { digest: D1 }), P, never());
    expect(c.failures.map((f) => f.code)).toEqual(['REGISTRY_ERROR']);
    release();
    await Promise.all([a, b]);
    expect(await v.verify(ref('m/c', { digest: D1 }), P, never())).toEqual({ failures: [] });
  });

  it('ends a verification at its own budget with DEADLINE_EXCEEDED, uncached', async () => {
    let n = 0;
    const { inner } = recording(
      (_r, _p, s) =>
        new Promise<CheckOutcome>((resolve) => {
          n += 1;
          if (n > 1) resolve({ failures: [] });
          s.addEventListener('abort', () => resolve(fail('DEADLINE_EXCEEDED')));
        }),
    );
    const v = verifier(inner, { limits: { workTimeoutMs: 20 } });
    const started = Date.now();
    expect((await v.verify(ref('m/a', { digest: D1 }), P, never())).failures[0]?.code).toBe(
      'DEADLINE_EXCEEDED',
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await v.verify(ref('m/a', { digest: D1 }), P, never())).toEqual({ failures: [] });
  });
});

describe('CachingVerifier: a refusal from the negative cache', () => {
  it('says it is cached and until when; the fresh refusal does not', async () => {
    const t = clock();
    t.advance(Date.parse('2026-03-04T12:02:54.500Z'));
    const { inner } = recording(async () => ({
      failures: [{ code: 'SIGNATURE_MISSING', message: 'no signature found.' }],
    }));
    const v = verifier(inner, { now: t.now, cache: { negativeTtlMs: 10_000 } });
    const bad = ref('m/bad', { digest: D1 });
    const fresh = await v.verify(bad, P, never());
    expect(fresh.failures[0]?.message).toBe('no signature found.');
    const again = await v.verify(bad, P, never());
    expect(again.failures.map((f) => [f.code, f.message])).toEqual([
      ['SIGNATURE_MISSING', 'no signature found (cached refusal, re-checked after 12:03:05Z)'],
    ]);
    expect(v.cached(bad, P)?.failures[0]?.message).toContain('cached refusal, re-checked after 12:03:05Z');
    // Past the TTL it is checked again, and the answer is fresh.
    t.advance(10_000);
    expect((await v.verify(bad, P, never())).failures[0]?.message).toBe('no signature found.');
  });

  it('shows the date too when refusals are kept a day or more', async () => {
    const t = clock();
    t.advance(Date.parse('2026-03-04T12:00:00Z'));
    const { inner } = recording(async () => fail('FORMAT_DENIED'));
    const v = verifier(inner, { now: t.now, cache: { negativeTtlMs: 86_400_000 } });
    const bad = ref('m/bad', { digest: D1 });
    await v.verify(bad, P, never());
    expect((await v.verify(bad, P, never())).failures[0]?.message).toBe(
      'FORMAT_DENIED (cached refusal, re-checked after 2026-03-05T12:00:00Z)',
    );
  });
});

describe('CachingVerifier.cached and the engine', () => {
  it('answers a cached outcome without I/O, and counts nothing on a miss', async () => {
    const registry = new Registry();
    const { inner } = recording(async (r) =>
      r.repository === 'm/bad' ? fail('FORMAT_DENIED') : { failures: [] },
    );
    const v = verifier(inner, { metrics: createVerificationMetrics(registry) });
    const good = ref('m/a', { digest: D1 });
    const bad = ref('m/bad', { digest: D1 });
    const tagged = ref('m/a', { tag: 'v1' });
    expect(v.cached(good, P)).toBeUndefined();
    expect(v.cached(tagged, P)).toBeUndefined();
    expect(await metricValue(registry, 'modelgate_cache_misses_total', { cache: 'decision' })).toBe(0);
    await v.verify(good, P, never());
    await v.verify(bad, P, never());
    expect(v.cached(good, P)).toEqual({ failures: [] });
    expect(v.cached(bad, P)?.failures[0]?.code).toBe('FORMAT_DENIED');
    // The tag is not resolved yet: no answer without I/O.
    expect(v.cached(tagged, P)).toBeUndefined();
    await v.verify(tagged, P, never());
    expect(v.cached(tagged, P)).toEqual({ failures: [] });
    expect(await metricValue(registry, 'modelgate_cache_hits_total', { cache: 'decision' })).toBe(3);
    expect(await metricValue(registry, 'modelgate_cache_hits_total', { cache: 'negative' })).toBe(1);
  });

  it('lets the engine decide a fully cached request without calling verify', async () => {
    const { inner, calls } = recording(async () => ({ failures: [] }));
    const v = verifier(inner);
    let verifies = 0;
    const counting = {
      verify: (r: ModelReference, p: CompiledPolicy, s: AbortSignal) => {
        verifies += 1;
        return v.verify(r, p, s);
      },
      cached: (r: ModelReference, p: CompiledPolicy) => v.cached(r, p),
    };
    const e = engine({ policies: [policy('p', { models: ['r.example/**'] })] }, { verifier: counting });
    const refs = [`r.example/m/a@${D1}`, `r.example/m/b@${D2}`];
    expect((await e.review(podReview(refs))).allowed).toBe(true);
    expect(verifies).toBe(2);
    expect((await e.review(podReview(refs))).allowed).toBe(true);
    expect((await e.review(podReview([refs[0]!, `r.example/m/c@${D1}`]))).allowed).toBe(true);
    expect(verifies).toBe(3);
    expect(calls).toHaveLength(3);
  });
});
