import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/engine/decision.ts';
import { assembleCluster } from '../../../src/kube/cluster.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

function fakeInformer() {
  let resolve: () => void = () => {};
  let synced = false;
  const items: unknown[] = [];
  return {
    informer: {
      synced: () => synced,
      firstSync: new Promise<void>((r) => (resolve = r)),
      list: () => items,
      stop: async () => {},
    },
    sync() {
      synced = true;
      resolve();
    },
  };
}

const OPTS = {
  namespace: 'modelgate-system',
  podName: 'mg-0',
  secretNamespaces: [],
  podPullSecrets: false,
  events: true,
  logger: silentLogger,
};

describe('the cluster wiring', () => {
  it('is ready only after the first lists of policies and namespaces; feeds the snapshot and labels', async () => {
    const api = new FakeKubeApi();
    const policies = fakeInformer();
    const namespaces = fakeInformer();
    let handlers: Parameters<Parameters<typeof assembleCluster>[3]>[0] | undefined;
    const cluster = assembleCluster(OPTS, api, silentLogger, (h) => {
      handlers = h;
      return { policies: policies.informer, namespaces: namespaces.informer };
    });
    expect(cluster.ready()).toBe(false);
    handlers!.policies.upsert({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p', uid: 'u', generation: 1 },
      spec: { models: ['registry.example.com/**'], signatures: { required: false } },
    });
    handlers!.namespaces.upsert({ metadata: { name: 'prod', labels: { env: 'prod' } } });
    policies.sync();
    expect(cluster.ready()).toBe(false);
    namespaces.sync();
    await cluster.synced();
    expect(cluster.ready()).toBe(true);
    expect(cluster.snapshot().policies.map((p) => p.name)).toEqual(['p']);
    expect(cluster.namespaceLabels('prod')).toEqual({ env: 'prod', 'kubernetes.io/metadata.name': 'prod' });
    expect(cluster.namespaceLabels('unknown')).toBeUndefined();
    await cluster.close();
  });

  it('answers with the decision at once and records a refusal Event after', async () => {
    const api = new FakeKubeApi();
    const cluster = assembleCluster(OPTS, api, silentLogger, () => ({
      policies: fakeInformer().informer,
      namespaces: fakeInformer().informer,
    }));
    const denied: Decision = { allowed: false, message: 'no', warnings: [], findings: [] };
    const req = {
      uid: 'x',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'prod',
      name: 'p',
      operation: 'CREATE',
      object: {},
    };
    expect(await cluster.decide(req, async () => denied)).toBe(denied);
    await new Promise((r) => setTimeout(r, 20));
    expect(api.events).toHaveLength(1);
    await cluster.close();
  });
});
