// AdmissionReview bodies through the whole decision path: the codec (parseAdmissionReview), workload
// unwrapping and extraction, policy matching, the CachingVerifier (cache, coalescing, limits) over a
// scripted registry verifier whose answer depends on the model. 10,000 cases per property: no throw, an
// answer every time, and never `allowed` for a governed model that could not be verified.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAdmissionReview } from '../../../src/admission/review.ts';
import { CachingVerifier } from '../../../src/engine/caching-verifier.ts';
import type { Decision } from '../../../src/engine/decision.ts';
import { Engine, type ModelVerifier } from '../../../src/engine/engine.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import type { ModelReference } from '../../../src/reference/reference.ts';
import type { CheckOutcome } from '../../../src/verdict/outcome.ts';
import { policy } from '../engine/builders.ts';
import { hostileValue, mutatedJson } from './mutate.ts';

const RUNS = { numRuns: 10_000 };
const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** A model reference, whether the engine must admit it, and whether a policy governs it. */
interface Model {
  readonly ref: string;
  readonly admits: boolean;
  readonly governed: boolean;
}

const MODELS: readonly Model[] = [
  { ref: `reg.example/models/good-a@${digest('a')}`, admits: true, governed: true },
  { ref: `reg.example/models/good-b@${digest('b')}`, admits: true, governed: true },
  { ref: `oci://reg.example/models/good-a@${digest('a')}`, admits: true, governed: true },
  { ref: `reg.example/models/unsigned@${digest('c')}`, admits: false, governed: true },
  { ref: `reg.example/models/pickle@${digest('d')}`, admits: false, governed: true },
  { ref: `reg.example/models/unreachable@${digest('e')}`, admits: false, governed: true },
  { ref: `reg.example/models/crashes@${digest('f')}`, admits: false, governed: true },
  { ref: `reg.example/models/evidence-error@${digest('1')}`, admits: false, governed: true },
  { ref: 'reg.example/models/good-a:v1', admits: false, governed: true }, // DIGEST_REQUIRED
  { ref: `warn.example/models/unsigned@${digest('2')}`, admits: true, governed: true }, // Warn mode
  { ref: `elsewhere.example/m@${digest('3')}`, admits: false, governed: false }, // MODEL_UNGOVERNED
  { ref: `reg.example/Models/Upper@${digest('4')}`, admits: false, governed: false }, // REFERENCE_INVALID
  { ref: 'reg.example/models/x@sha256:short', admits: false, governed: false },
];

/** The registry side: the verdict depends on the repository, as a real registry's evidence would. */
const scripted: ModelVerifier = {
  async verify(ref: ModelReference): Promise<CheckOutcome> {
    const name = ref.repository.split('/').at(-1) ?? '';
    if (name.startsWith('good')) return { failures: [] };
    if (name === 'crashes') throw new Error('a bug in a check');
    const code =
      name === 'pickle'
        ? 'FORMAT_DENIED'
        : name === 'unreachable'
          ? 'REGISTRY_ERROR'
          : name === 'evidence-error'
            ? 'MLBOM_INVALID'
            : 'SIGNATURE_MISSING';
    return { failures: [{ code, message: `${code} for ${name}` }] };
  },
};

const POLICIES = [
  policy('models', { models: ['reg.example/**'], formats: { allow: ['safetensors'] } }),
  policy('warned', { mode: 'Warn', models: ['warn.example/**'] }),
];

/** Records every outcome the engine received, through either door of the verifier. */
function recording(inner: CachingVerifier) {
  const seen: { ref: ModelReference; policy: CompiledPolicy; outcome: CheckOutcome }[] = [];
  const verifier: ModelVerifier = {
    async verify(ref, p, signal) {
      const outcome = await inner.verify(ref, p, signal);
      seen.push({ ref, policy: p, outcome });
      return outcome;
    },
    cached(ref, p) {
      const outcome = inner.cached(ref, p);
      if (outcome !== undefined) seen.push({ ref, policy: p, outcome });
      return outcome;
    },
  };
  return { verifier, seen };
}

function newEngine(deadlineMs = 2_000) {
  const caching = new CachingVerifier({
    inner: scripted,
    resolveTag: async () => digest('a'),
    cache: { maxEntries: 4, negativeMaxEntries: 2 },
    limits: { perRegistry: 2, maxWaitingPerRegistry: 3 },
  });
  const rec = recording(caching);
  const snapshot = { policies: POLICIES, invalid: [] };
  const engine = new Engine({
    unmatched: 'deny',
    deadlineMs,
    policies: () => snapshot,
    namespaceLabels: () => undefined,
    verifier: rec.verifier,
  });
  return { engine, seen: rec.seen };
}

// ---- where a pod names a model ----------------------------------------------------------------------

type Placement = 'annotation' | 'volume' | 'initImage' | 'args' | 'env' | 'command';

interface PodParts {
  annotation: string[];
  volumes: unknown[];
  initContainers: Record<string, unknown>[];
  containers: Record<string, unknown>[];
}

function place(parts: PodParts, where: Placement, m: Model): void {
  const ref = m.ref.replace(/^oci:\/\//, '');
  switch (where) {
    case 'annotation':
      parts.annotation.push(m.ref);
      return;
    case 'volume':
      parts.volumes.push({ name: `v${parts.volumes.length}`, image: { reference: ref } });
      return;
    case 'initImage':
      parts.initContainers.push({ name: `model-${parts.initContainers.length}`, image: ref });
      return;
    case 'args':
      parts.containers.push({ name: 'a', image: 'busybox', args: ['--model', `--from=oci://${ref}`] });
      return;
    case 'env':
      parts.containers.push({ name: 'e', image: 'busybox', env: [{ name: 'MODEL', value: `oci://${ref}` }] });
      return;
    case 'command':
      parts.containers.push({
        name: 'c',
        image: 'busybox',
        command: ['sh', '-c', `oras pull oci://${ref}; run`],
      });
  }
}

const KINDS: Record<string, (pod: Record<string, unknown>) => Record<string, unknown>> = {
  Pod: (pod) => pod,
  Deployment: (pod) => ({ spec: { replicas: 2, template: pod } }),
  StatefulSet: (pod) => ({ spec: { template: pod } }),
  Job: (pod) => ({ spec: { template: pod } }),
  CronJob: (pod) => ({ spec: { schedule: '* * * * *', jobTemplate: { spec: { template: pod } } } }),
};
const GROUP: Record<string, string> = {
  Pod: '',
  Deployment: 'apps',
  StatefulSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

const placement = fc.constantFrom<Placement>('annotation', 'volume', 'initImage', 'args', 'env', 'command');
/** An image that a policy does not govern is no model: only governed models go into images. */
const placed = fc
  .tuple(placement, fc.constantFrom(...MODELS))
  .filter(([where, m]) => where !== 'initImage' || m.governed);

const review = fc
  .record({
    kind: fc.constantFrom(...Object.keys(KINDS)),
    placements: fc.array(placed, { maxLength: 6 }),
    noise: fc.dictionary(fc.string({ maxLength: 8 }), hostileValue, { maxKeys: 3 }),
    operation: fc.constantFrom('CREATE', 'CREATE', 'UPDATE'),
    uid: fc.uuid(),
  })
  .map(({ kind, placements, noise, operation, uid }) => {
    const parts: PodParts = { annotation: [], volumes: [], initContainers: [], containers: [] };
    for (const [where, m] of placements) place(parts, where, m);
    const pod = {
      metadata: {
        labels: noise,
        annotations:
          parts.annotation.length > 0 ? { 'modelgate.dev/models': parts.annotation.join(', ') } : {},
      },
      spec: {
        initContainers: parts.initContainers,
        containers: [{ name: 'main', image: 'busybox' }, ...parts.containers],
        volumes: parts.volumes,
        extra: noise,
      },
    };
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid,
        kind: { group: GROUP[kind], version: 'v1', kind },
        resource: { group: GROUP[kind], version: 'v1', resource: `${kind.toLowerCase()}s` },
        namespace: 'ml',
        name: 'fuzzed',
        operation,
        object: KINDS[kind]!(pod),
      },
    };
    return { body, models: placements.map(([, m]) => m) };
  });

async function decide(engine: Engine, body: unknown): Promise<Decision | 'unreadable'> {
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) return 'unreadable';
  return engine.review(parsed.request);
}

function isDecision(d: Decision): void {
  expect(typeof d.allowed).toBe('boolean');
  expect(Array.isArray(d.findings)).toBe(true);
  if (!d.allowed) expect(typeof d.message).toBe('string');
}

/** Allowed only if every Enforce-mode verdict the engine received was a pass. */
function neverAdmitsAFailure(d: Decision, seen: ReturnType<typeof newEngine>['seen']): void {
  if (!d.allowed) return;
  for (const s of seen) if (s.policy.mode === 'Enforce') expect(s.outcome.failures).toEqual([]);
  expect(d.findings.filter((f) => f.mode === 'Enforce')).toEqual([]);
}

describe('AdmissionReview bodies through the engine', () => {
  it('admits exactly the pods whose every named model verifies', async () => {
    const { engine, seen } = newEngine();
    await fc.assert(
      fc.asyncProperty(review, async ({ body, models }) => {
        seen.length = 0;
        const d = await decide(engine, body);
        expect(d).not.toBe('unreadable');
        const decision = d as Decision;
        isDecision(decision);
        neverAdmitsAFailure(decision, seen);
        expect(decision.allowed).toBe(models.every((m) => m.admits));
      }),
      RUNS,
    );
  });

  it('never throws, always answers and never admits a failure on damaged and arbitrary bodies', async () => {
    const { engine, seen } = newEngine();
    const sample = fc.sample(review, { numRuns: 20, seed: 7 }).map((r) => r.body);
    const bodies = fc.oneof(
      fc.constantFrom(...sample).chain((b) => mutatedJson(b)),
      fc.anything({ maxDepth: 5 }),
      fc.record({
        apiVersion: fc.constant('admission.k8s.io/v1'),
        kind: fc.constant('AdmissionReview'),
        request: fc.record(
          {
            uid: fc.string({ minLength: 1, maxLength: 10 }),
            kind: fc.record({
              group: fc.constantFrom('', 'apps', 'batch'),
              version: fc.constant('v1'),
              kind: fc.constantFrom('Pod', 'Deployment', 'CronJob', 'Thing'),
            }),
            operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'X'),
            subResource: fc.constantFrom(undefined, 'ephemeralcontainers', 'status'),
            object: fc.anything({ maxDepth: 6 }),
          },
          { requiredKeys: ['uid', 'kind', 'operation', 'object'] },
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        seen.length = 0;
        const d = await decide(engine, body);
        if (d === 'unreadable') return;
        isDecision(d);
        neverAdmitsAFailure(d, seen);
      }),
      RUNS,
    );
  });

  it('answers by the deadline, refusing, when the registry never answers', async () => {
    const hanging: ModelVerifier = { verify: () => new Promise<CheckOutcome>(() => {}) };
    const caching = new CachingVerifier({
      inner: hanging,
      resolveTag: () => new Promise<string>(() => {}),
      limits: { workTimeoutMs: 60_000 },
    });
    const snapshot = { policies: POLICIES, invalid: [] };
    const engine = new Engine({
      unmatched: 'deny',
      deadlineMs: 5,
      policies: () => snapshot,
      namespaceLabels: () => undefined,
      verifier: caching,
    });
    await fc.assert(
      fc.asyncProperty(
        review.filter(({ models }) =>
          models.some((m) => m.governed && m.ref.includes('@') && !m.ref.startsWith('warn.')),
        ),
        async ({ body }) => {
          const started = performance.now();
          const d = await decide(engine, body);
          expect(performance.now() - started).toBeLessThan(1_000);
          expect((d as Decision).allowed).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
