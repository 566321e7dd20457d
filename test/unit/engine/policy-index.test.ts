import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.ts';
import { PolicyIndex } from '../../../src/engine/policy-index.ts';
import type { PolicySnapshot } from '../../../src/policy/snapshot.ts';
import { DIGEST, podReview, policy } from './builders.ts';

const segment = fc.constantFrom('a', 'b', 'team-1', 'team-2', 'models');
const host = fc.constantFrom('r.example', 'mirror.example', 'r.example:5000');
const glob = fc
  .tuple(
    host,
    fc.array(fc.oneof(segment, fc.constantFrom('*', '**', 'team-*')), { minLength: 1, maxLength: 3 }),
  )
  .map(([h, segs]) => [h, ...segs].join('/'))
  .filter((g) => !/\*\*\/\*\*/.test(g));
const repository = fc
  .tuple(host, fc.array(segment, { minLength: 1, maxLength: 4 }))
  .map(([h, segs]) => [h, ...segs].join('/'));

describe('PolicyIndex', () => {
  it('answers exactly what matching every policy would, in snapshot order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(glob, { minLength: 1, maxLength: 2 }), { maxLength: 12 }),
        fc.array(repository, { maxLength: 20 }),
        (globs, repos) => {
          let policies: ReturnType<typeof policy>[];
          try {
            policies = globs.map((models, i) => policy(`p${i}`, { models }));
          } catch {
            return; // a glob the schema refuses
          }
          const snapshot: PolicySnapshot = { policies, invalid: [] };
          const index = PolicyIndex.of(snapshot);
          // Twice: the second answer comes from the memo.
          for (const round of [0, 1]) {
            for (const r of repos) {
              expect(index.governing(r).policies, `round ${round}`).toEqual(
                policies.filter((p) => p.governs(r)),
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is one per snapshot: a reload is seen by the very next admission', async () => {
    let snapshot: PolicySnapshot = { policies: [policy('a', { models: ['r.example/a/**'] })], invalid: [] };
    const live = new Engine({
      unmatched: 'deny',
      deadlineMs: 1_000,
      policies: () => snapshot,
      namespaceLabels: () => undefined,
      verifier: { verify: async () => ({ failures: [] }) },
    });
    const ref = `r.example/b/m@${DIGEST}`;
    expect((await live.review(podReview([ref]))).findings.map((f) => f.code)).toEqual(['MODEL_UNGOVERNED']);
    snapshot = { policies: [policy('b', { models: ['r.example/b/**'] })], invalid: [] };
    expect((await live.review(podReview([ref]))).allowed).toBe(true);
    expect(PolicyIndex.of(snapshot)).toBe(PolicyIndex.of(snapshot));
  });
});
