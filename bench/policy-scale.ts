/**
 * Policy scale: decision time of the engine, warm cache, for a Pod naming 10 models, with 1,000
 * ModelPolicies in force, against the same Pod with a single policy (the baseline, same run). Every model
 * is governed (each by one team's policy, a third of them through a namespace selector), so the engine
 * matches every reference against every policy and answers from the decision cache. In-process: the
 * time measured is `Engine.review` alone, the request already parsed.
 *
 * Usage: npm run bench -- policies [--policies 1000] [--refs 10] [--iterations 20000]
 */
import { CachingVerifier } from '../src/engine/caching-verifier.ts';
import { Engine } from '../src/engine/engine.ts';
import type { CompiledPolicy } from '../src/policy/compile.ts';
import type { PolicySnapshot } from '../src/policy/snapshot.ts';
import { podReview } from '../test/unit/engine/builders.ts';
import { compile, intFlag, machineLine, median, printTable, quantile } from './support.ts';

const policyCount = intFlag('policies', 1000);
const refCount = intFlag('refs', 10);
const iterations = intFlag('iterations', 20_000);
const HOST = 'registry.example.com';

function teamPolicy(i: number): CompiledPolicy {
  return compile({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: `team-${i}`, uid: `uid-${i}`, generation: 3 },
    spec: {
      models: [`${HOST}/team-${i}/**`, `mirror-${i % 7}.example.com/team-${i}/*`],
      ...(i % 3 === 0
        ? { match: { namespaceSelector: { matchLabels: { tier: 'prod' } } } }
        : { match: { namespaces: ['ml-*', 'serving'] } }),
      signatures: { required: false },
      formats: { deny: ['pickle'] },
    },
  });
}

async function measure(
  policies: CompiledPolicy[],
  refs: string[],
  opts: { fresh?: boolean; count?: number } = {},
): Promise<number[]> {
  const snapshot: PolicySnapshot = { policies, invalid: [] };
  const verifier = new CachingVerifier({
    inner: { verify: async () => ({ failures: [] }) },
    resolveTag: async () => {
      throw new Error('the bench names digests only');
    },
  });
  const engine = new Engine({
    unmatched: 'deny',
    deadlineMs: 8_000,
    policies: () => snapshot,
    namespaceLabels: () => ({ tier: 'prod' }),
    verifier,
  });
  const review = podReview(refs, {}, 'ml-serving');
  const first = await engine.review(review);
  if (!first.allowed) throw new Error(`not admitted: ${first.message}`);
  const times: number[] = [];
  for (let i = 0; i < (opts.count ?? iterations); i++) {
    // fresh: repositories never seen before, so neither the policy index nor the decision cache helps.
    const r = opts.fresh
      ? podReview(
          refs.map((x) => x.replace('/model-', `/m${i}-model-`)),
          {},
          'ml-serving',
        )
      : review;
    const t = performance.now();
    const d = await engine.review(r);
    times.push((performance.now() - t) * 1000);
    if (!d.allowed) throw new Error(`not admitted: ${d.message}`);
  }
  return times;
}

async function main(): Promise<void> {
  console.log(machineLine());
  const policies = Array.from({ length: policyCount }, (_, i) => teamPolicy(i));
  const teams = Array.from({ length: refCount }, (_, i) => Math.floor(((i + 0.5) * policyCount) / refCount));
  const refs = teams.map((t, i) => `${HOST}/team-${t}/model-${i}@sha256:${i.toString(16).padStart(64, '0')}`);
  const baselinePolicy = compile({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: 'all', uid: 'uid-all', generation: 1 },
    spec: { models: [`${HOST}/**`], signatures: { required: false }, formats: { deny: ['pickle'] } },
  });
  // Alternate, so that a slow spell of the machine does not land on one side only.
  const one: number[] = [];
  const many: number[] = [];
  const fresh: number[] = [];
  for (let round = 0; round < 3; round++) {
    one.push(...(await measure([baselinePolicy], refs)));
    many.push(...(await measure(policies, refs)));
    fresh.push(...(await measure(policies, refs, { fresh: true, count: Math.ceil(iterations / 20) })));
  }
  console.log(
    `\nEngine.review, warm cache, a Pod naming ${refCount} models, ${3 * iterations} decisions each\n`,
  );
  const row = (name: string, xs: number[]) => [
    name,
    median(xs).toFixed(1),
    quantile(xs, 0.99).toFixed(1),
    (1e6 / (xs.reduce((a, b) => a + b, 0) / xs.length)).toFixed(0),
  ];
  printTable([
    ['policies in force', 'p50 us', 'p99 us', 'decisions/s'],
    row('1 (baseline)', one),
    row(String(policyCount), many),
    row(`${policyCount}, repositories never seen (cold index and cache)`, fresh),
    [
      `${policyCount} / 1`,
      `${(median(many) / median(one)).toFixed(2)}x`,
      `${(quantile(many, 0.99) / quantile(one, 0.99)).toFixed(2)}x`,
      '',
    ],
  ]);
}

await main();
