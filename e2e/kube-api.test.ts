// src/kube/client.ts (the KubeApi adapter over @kubernetes/client-node) against a real API server: what
// each call sends is accepted, and each answer maps to done / gone / conflict as the controllers expect.
// The controllers themselves are unit-tested against an in-memory KubeApi (test/unit/kube).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApi } from '../src/kube/api.ts';
import { ClientKubeApi, loadKubeConfig } from '../src/kube/client.ts';
import { startCluster, type TestCluster } from './support/cluster.ts';
import { expectOk } from './support/kube-client.ts';

let cluster: TestCluster;
let api: KubeApi;
let ns: string;

beforeAll(async () => {
  cluster = await startCluster();
  api = new ClientKubeApi(loadKubeConfig({ kubeconfig: cluster.kubeconfig }));
  ns = await cluster.createNamespace('mg-api');
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('ClientKubeApi on a real API server', () => {
  it('creates an events.k8s.io/v1 Event (MicroTime) and patches its series', async () => {
    const name = `obj.${randomBytes(4).toString('hex')}`;
    const now = new Date();
    const created = await api.createEvent({
      metadata: { name, namespace: ns },
      eventTime: now,
      reportingController: 'modelgate.dev/admission-webhook',
      reportingInstance: 'e2e',
      action: 'Admit',
      reason: 'ModelRefused',
      type: 'Warning',
      note: 'refused',
      regarding: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: 'obj' },
    });
    expect(created).toBe('done');
    expect(await api.patchEventSeries(ns, name, { count: 3, lastObservedTime: new Date() })).toBe('done');
    const ev = expectOk(
      await cluster.client.get<{ series: { count: number } }>(
        `/apis/events.k8s.io/v1/namespaces/${ns}/events/${name}`,
      ),
    );
    expect(ev.series.count).toBe(3);
    expect(await api.patchEventSeries(ns, 'absent', { count: 2, lastObservedTime: new Date() })).toBe('gone');
  });

  it('creates a Secret once (conflict the second time), replaces it only at the current resourceVersion', async () => {
    const s = { namespace: ns, name: 'tls', data: { 'tls.crt': 'a' } };
    expect(await api.readSecret(ns, 'tls')).toBeUndefined();
    expect(await api.createSecret(s)).toBe('done');
    expect(await api.createSecret(s)).toBe('conflict');
    const read = await api.readSecret(ns, 'tls');
    expect(read?.data['tls.crt']?.toString()).toBe('a');
    expect(await api.replaceSecret({ ...s, data: { 'tls.crt': 'b' } }, '1')).toBe('conflict');
    expect(await api.replaceSecret({ ...s, data: { 'tls.crt': 'b' } }, read!.resourceVersion)).toBe('done');
    expect((await api.readSecret(ns, 'tls'))?.data['tls.crt']?.toString()).toBe('b');
    expect(await api.replaceSecret({ ...s, name: 'absent' }, '1')).toBe('gone');
  });

  it("sets a webhook's caBundle only when the entry at that index still has that name", async () => {
    const name = `mg-api-${randomBytes(3).toString('hex')}`;
    const vwc = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          name: 'validate.modelgate.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          clientConfig: { url: 'https://127.0.0.1:1/validate' },
          namespaceSelector: { matchLabels: { 'modelgate-e2e-never': 'true' } },
        },
      ],
    };
    expectOk(await cluster.client.apply(vwc));
    cluster.deleteOnStop(vwc);
    const bundle = Buffer.from('pem').toString('base64');
    expect(await api.setWebhookCaBundle(name, [{ index: 0, name: 'other.modelgate.dev' }], bundle)).toBe(
      'conflict',
    );
    expect(await api.setWebhookCaBundle(name, [{ index: 0, name: 'validate.modelgate.dev' }], bundle)).toBe(
      'done',
    );
    const view = await api.readWebhookConfiguration(name);
    expect(view?.webhooks).toEqual([{ name: 'validate.modelgate.dev', caBundle: bundle }]);
    expect(view?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await api.readWebhookConfiguration('absent')).toBeUndefined();
  });

  it('reads service account pull secrets and ConfigMaps; a missing one is undefined', async () => {
    expect(await api.readServiceAccountPullSecrets(ns, 'default')).toEqual([]);
    expect(await api.readServiceAccountPullSecrets(ns, 'absent')).toBeUndefined();
    expectOk(
      await cluster.client.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'root', namespace: ns },
        data: { 'trusted_root.json': '{}' },
        binaryData: { b: Buffer.from('x').toString('base64') },
      }),
    );
    const cm = await api.readConfigMap(ns, 'root');
    expect(cm?.data).toEqual({ 'trusted_root.json': '{}' });
    expect(cm?.binaryData.b?.toString()).toBe('x');
    expect(await api.patchPolicyStatus('absent', { observedGeneration: 1 })).toBe('gone');
  });
});
