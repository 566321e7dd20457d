// Registry faults between modelgate and a real registry (go-containerregistry, cosign-signed models
// pushed by oras), injected by test/support/fault-proxy.ts: latency, bandwidth limits, resets, hangs,
// stalled bodies, 429 storms, 503s, a registry that is down. Whatever the fault, the engine answers
// within its deadline, never admits what it could not verify, and keeps no transient failure: once the
// fault clears, the same verifier admits the signed model.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifierFrom } from '../../../src/cli/setup.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { type Fault, type FaultProxy, type FaultRule, startFaultProxy } from '../../support/fault-proxy.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { pushSignedModels, type SignedModels, signedPolicy } from '../../support/signed-models.ts';
import { podReview } from '../../unit/engine/builders.ts';

const DEADLINE_MS = 1_500;
// Timers on a busy shared machine fire late; the API server's own timeout is far above this.
const SLACK_MS = 750;
const TRANSIENT = new Set(['REGISTRY_ERROR', 'DEADLINE_EXCEEDED']);

let registry: TestRegistry;
let proxy: FaultProxy;
let models: SignedModels;
/** The models as modelgate sees them: through the proxy. */
let signed: string[];
let unsigned: string[];

function engineFor(host: string, publicKey: string, opts: { cache?: boolean } = {}) {
  const v = validateModelPolicy(signedPolicy(host, publicKey));
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  const snapshot = { policies: [compilePolicy(v.policy)], invalid: [] };
  const { verifier, close } = verifierFrom(
    { insecureRegistry: [host] },
    {
      limits: { workTimeoutMs: DEADLINE_MS },
      ...(opts.cache === false ? { cache: { ttlMs: 0, negativeTtlMs: 0 } } : {}),
    },
  );
  const engine = new Engine({
    unmatched: 'deny',
    deadlineMs: DEADLINE_MS,
    policies: () => snapshot,
    namespaceLabels: () => undefined,
    verifier,
  });
  return { engine, close };
}

async function timed(engine: Engine, refs: string[]) {
  const started = performance.now();
  const decision = await engine.review(podReview(refs));
  return { decision, ms: performance.now() - started, codes: new Set(decision.findings.map((f) => f.code)) };
}

beforeAll(async () => {
  registry = await startRegistry('ggcr', { warningProbability: 0 });
  models = await pushSignedModels({ host: registry.host }, { signed: 2, unsigned: 1 });
  proxy = await startFaultProxy(registry.host);
  const via = (r: string) => r.replace(registry.host, proxy.host);
  signed = models.signed.map(via);
  unsigned = models.unsigned.map(via);
});

afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
});

const FAULTS: [string, (Fault | FaultRule)[], 'admits' | 'refuses' | 'either'][] = [
  ['no fault', [], 'admits'],
  ['100 ms latency on every request', [{ kind: 'latency', ms: 100 }], 'admits'],
  ['3 s latency (longer than the deadline)', [{ kind: 'latency', ms: 3_000 }], 'refuses'],
  ['a 2 KiB/s bandwidth limit', [{ kind: 'bandwidth', bytesPerSecond: 2_048 }], 'either'],
  ['200 B/s on blobs', [{ fault: { kind: 'bandwidth', bytesPerSecond: 200 }, path: /\/blobs\// }], 'refuses'],
  ['connections reset at once', [{ kind: 'reset', at: 'connect' }], 'refuses'],
  ['resets after the headers', [{ kind: 'reset', at: 'headers' }], 'refuses'],
  [
    'resets mid-body on half the requests',
    [{ fault: { kind: 'reset', at: 'body' }, probability: 0.5 }],
    'either',
  ],
  ['requests never answered', [{ kind: 'hang' }], 'refuses'],
  ['bodies that stall halfway', [{ kind: 'stall' }], 'refuses'],
  ['a 429 storm with Retry-After: 1', [{ kind: 'status', status: 429, retryAfter: '1' }], 'refuses'],
  ['a 429 storm with Retry-After: 3600', [{ kind: 'status', status: 429, retryAfter: '3600' }], 'refuses'],
  ['503 on half the requests', [{ fault: { kind: 'status', status: 503 }, probability: 0.5 }], 'either'],
  ['the registry down', [{ kind: 'down' }], 'refuses'],
  ['the referrers API hanging', [{ fault: { kind: 'hang' }, path: /\/referrers\// }], 'refuses'],
];

describe('the engine under registry faults', () => {
  it.each(FAULTS)(
    '%s: answers within the deadline, never admits what it could not verify',
    async (_name, rules, expected) => {
      const { engine, close } = engineFor(proxy.host, models.publicKey);
      try {
        proxy.set(...rules);
        const good = await timed(engine, signed);
        const bad = await timed(engine, unsigned);
        proxy.clear();
        for (const r of [good, bad]) expect(r.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
        expect(bad.decision.allowed).toBe(false);
        if (expected === 'admits') expect(good.decision.allowed).toBe(true);
        if (expected === 'refuses') expect(good.decision.allowed).toBe(false);
        // A refusal of the signed model can only be the fault's doing.
        if (!good.decision.allowed) for (const c of good.codes) expect(TRANSIENT).toContain(c);
        // Nothing transient was kept: with the fault gone, the same verifier admits the signed model.
        const after = await timed(engine, signed);
        expect(after.decision.allowed).toBe(true);
      } finally {
        proxy.clear();
        await close();
      }
    },
  );

  it('answers concurrent admissions within the deadline while the registry hangs', async () => {
    const { engine, close } = engineFor(proxy.host, models.publicKey);
    try {
      proxy.set({ kind: 'hang' });
      const all = await Promise.all(
        Array.from({ length: 30 }, (_, i) => timed(engine, i % 3 === 0 ? unsigned : signed)),
      );
      for (const r of all) {
        expect(r.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
        expect(r.decision.allowed).toBe(false);
        expect([...r.codes]).toEqual(['DEADLINE_EXCEEDED']);
      }
    } finally {
      proxy.clear();
      await close();
    }
  });

  it('never admits the unsigned model, whatever sequence of faults', async () => {
    const fault = fc.constantFrom<Fault | undefined>(
      undefined,
      { kind: 'latency', ms: 40 },
      { kind: 'reset', at: 'body' },
      { kind: 'reset', at: 'connect' },
      { kind: 'status', status: 429, retryAfter: '0' },
      { kind: 'status', status: 503 },
      { kind: 'stall' },
      { kind: 'bandwidth', bytesPerSecond: 4_096 },
    );
    // No decision cache: every run goes to the registry through the faults.
    const { engine, close } = engineFor(proxy.host, models.publicKey, { cache: false });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fault, fc.double({ min: 0.2, max: 1, noNaN: true })), {
            minLength: 1,
            maxLength: 3,
          }),
          async (faults) => {
            proxy.set(...faults.flatMap(([f, p]) => (f === undefined ? [] : [{ fault: f, probability: p }])));
            const r = await timed(engine, [...unsigned, ...signed]);
            expect(r.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
            expect(r.decision.allowed).toBe(false);
            expect(r.decision.findings.some((f) => unsigned.includes(f.reference))).toBe(true);
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      proxy.clear();
      await close();
    }
  });
});
