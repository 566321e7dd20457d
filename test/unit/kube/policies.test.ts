import { describe, expect, it } from 'vitest';
import { type ModelPolicyObject, PolicyStore, StatusWriter } from '../../../src/kube/policies.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

function policy(name: string, spec: unknown, generation = 1, uid = `uid-${name}`): ModelPolicyObject {
  return {
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name, uid, generation, resourceVersion: `${generation}` },
    spec,
  };
}

const GOOD = { models: ['registry.example.com/models/**'], signatures: { required: false } };

describe('PolicyStore', () => {
  it('refuses both policies that carry the same uid: they govern what they would, as POLICY_INVALID', () => {
    const store = new PolicyStore();
    store.upsert(policy('a', GOOD, 1, 'same'));
    store.upsert(policy('b', { ...GOOD, models: ['registry.example.com/other/**'] }, 1, 'same'));
    store.upsert(policy('c', GOOD, 1, 'own'));
    const snap = store.snapshot();
    expect(snap.policies.map((p) => p.name)).toEqual(['c']);
    expect(snap.invalid.map((p) => [p.name, p.errors[0]?.path])).toEqual([
      ['a', 'metadata.uid'],
      ['b', 'metadata.uid'],
    ]);
    expect(snap.invalid[0]!.governs?.('registry.example.com/models/m')).toBe(true);
    expect(snap.invalid[1]!.governs?.('registry.example.com/other/m')).toBe(true);
  });

  it('compiles again when the spec changed, even under the same uid and generation', () => {
    const store = new PolicyStore();
    store.upsert(policy('p', GOOD, 2));
    const before = store.snapshot().policies[0]!;
    store.upsert(policy('p', { ...GOOD, formats: { deny: ['pickle', 'unknown'] } }, 2));
    const after = store.snapshot().policies[0]!;
    expect(store.compilations).toBe(2);
    expect(after.contentKey).not.toBe(before.contentKey);
    // A status write (same spec) compiles nothing.
    store.upsert({ ...policy('p', { ...GOOD, formats: { deny: ['pickle', 'unknown'] } }, 2), status: {} });
    expect(store.compilations).toBe(2);
  });

  it('compiles a valid policy into the snapshot, with uid and generation for the caches', () => {
    const store = new PolicyStore();
    const status = store.upsert(policy('good', GOOD, 4));
    const snap = store.snapshot();
    expect(snap.invalid).toEqual([]);
    expect(snap.policies).toHaveLength(1);
    expect(snap.policies[0]).toMatchObject({
      name: 'good',
      uid: 'uid-good',
      generation: 4,
      requireDigest: true,
    });
    expect(snap.policies[0]!.governs('registry.example.com/models/a')).toBe(true);
    expect(status?.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Valid' });
  });

  it('never half-applies an invalid policy: it is refused with the globs that compile', () => {
    const store = new PolicyStore();
    const status = store.upsert(
      policy('bad', {
        models: ['Registry.example.com/Models/**', 'registry.example.com/other/**'],
        mode: 'Sometimes',
      }),
    );
    const snap = store.snapshot();
    expect(snap.policies).toEqual([]);
    expect(snap.invalid).toHaveLength(1);
    const bad = snap.invalid[0]!;
    expect(bad.name).toBe('bad');
    expect(bad.errors.map((e) => e.path)).toContain('spec.mode');
    // The valid glob still governs (so its models are refused with POLICY_INVALID); the bad one cannot.
    expect(bad.governs?.('registry.example.com/other/x')).toBe(true);
    expect(bad.governs?.('registry.example.com/elsewhere/x')).toBe(false);
    expect(status?.conditions[0]).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect((status!.conditions[0] as { message: string }).message).toContain('spec.mode');
  });

  it('an invalid policy without a usable glob governs nothing but is still listed', () => {
    const store = new PolicyStore();
    store.upsert(policy('worse', { models: 'nope' }));
    expect(store.snapshot().invalid[0]?.governs).toBeUndefined();
  });

  it('compiles once per generation: a status write or label change reuses the compiled policy', () => {
    const store = new PolicyStore();
    const first = policy('good', GOOD, 1);
    const status = store.upsert(first);
    const before = store.snapshot();
    expect(store.compilations).toBe(1);
    // The API server sends the object back with the status written and a new resourceVersion.
    const written = {
      ...first,
      metadata: { ...first.metadata, resourceVersion: '9', labels: { a: 'b' } },
      status,
    };
    expect(store.upsert(written)).toBeUndefined();
    expect(store.compilations).toBe(1);
    expect(store.snapshot()).toBe(before);
    store.upsert(policy('good', { ...GOOD, mode: 'Warn' }, 2));
    expect(store.compilations).toBe(2);
    expect(store.snapshot().policies[0]).toMatchObject({ generation: 2, mode: 'Warn' });
  });

  it('a policy deleted and created again under the same name is compiled again (new uid)', () => {
    const store = new PolicyStore();
    store.upsert(policy('p', GOOD, 1, 'uid-1'));
    store.upsert(policy('p', GOOD, 1, 'uid-2'));
    expect(store.compilations).toBe(2);
    expect(store.snapshot().policies[0]?.uid).toBe('uid-2');
  });

  it('removes deleted policies, valid or not, and orders the snapshot by name', () => {
    const store = new PolicyStore();
    store.upsert(policy('zeta', GOOD));
    store.upsert(policy('alpha', GOOD));
    store.upsert(policy('bad', { models: [] }));
    expect(store.snapshot().policies.map((p) => p.name)).toEqual(['alpha', 'zeta']);
    store.remove(policy('zeta', GOOD));
    store.remove(policy('bad', {}));
    expect(store.snapshot().policies.map((p) => p.name)).toEqual(['alpha']);
    expect(store.snapshot().invalid).toEqual([]);
  });

  it('ignores objects without a name', () => {
    const store = new PolicyStore();
    expect(store.upsert({ spec: GOOD })).toBeUndefined();
    expect(store.snapshot().policies).toEqual([]);
  });
});

describe('StatusWriter', () => {
  it('writes the latest status of a policy once when several were queued', async () => {
    const api = new FakeKubeApi();
    const w = new StatusWriter({ api, logger: silentLogger });
    w.enqueue('p', { observedGeneration: 1, conditions: [] });
    w.enqueue('p', { observedGeneration: 2, conditions: [] });
    w.enqueue('q', { observedGeneration: 1, conditions: [] });
    await w.idle();
    const forP = api.statuses.filter((s) => s.name === 'p');
    expect(forP.at(-1)?.status).toMatchObject({ observedGeneration: 2 });
    expect(api.statuses.length).toBeLessThanOrEqual(3);
    expect(api.statuses.some((s) => s.name === 'q')).toBe(true);
    w.close();
  });

  it('retries a failed write with backoff, then gives up until the next change', async () => {
    const api = new FakeKubeApi();
    api.failures.set('patchPolicyStatus', 2);
    const w = new StatusWriter({ api, logger: silentLogger, retryBaseMs: 1, maxAttempts: 5 });
    w.enqueue('p', { observedGeneration: 1, conditions: [] });
    await w.idle();
    expect(api.count('patchPolicyStatus')).toBe(3);
    expect(w.written).toBe(1);

    api.failures.set('patchPolicyStatus', 10);
    w.enqueue('p', { observedGeneration: 2, conditions: [] });
    await w.idle();
    expect(api.count('patchPolicyStatus')).toBe(3 + 5);
    expect(w.written).toBe(1);
    w.close();
  });
});
