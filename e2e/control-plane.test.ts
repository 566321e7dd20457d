// Smoke test of the end-to-end harness: a real API server admits a pod, then calls a webhook this test
// serves and refuses the pod with the webhook's message; RBAC decides for a least-privileged user; Helm
// installs into it. Runs against the loopback control plane, or against KUBECONFIG's cluster.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert } from './support/certs.ts';
import { startCluster, type TestCluster } from './support/cluster.ts';
import { helm, helmInstall, helmLint, helmTemplate, helmUninstall } from './support/helm.ts';
import {
  expectOk,
  KubeClient,
  type KubeObject,
  parseManifests,
  refusalMessage,
} from './support/kube-client.ts';

const DENIAL = 'modelgate-e2e: the test webhook refuses every pod';

function pod(namespace: string, name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'main', image: 'registry.example/app:1.0' }] },
  };
}

interface DenyingWebhook {
  readonly url: string;
  readonly caPem: string;
  readonly reviews: { uid: string; kind: string; namespace: string; dryRun: boolean }[];
  close(): Promise<void>;
}

// An HTTPS server that answers every AdmissionReview with a refusal.
async function startDenyingWebhook(cluster: TestCluster, dir: string): Promise<DenyingWebhook> {
  const ca = await createCa(dir, 'webhook-ca');
  const host = cluster.webhookHost;
  const cert = await issueCert(ca, dir, {
    commonName: 'e2e-webhook',
    usage: 'server',
    ...(isIP(host) === 0 ? { dnsNames: [host] } : { ips: [host] }),
  });
  const reviews: DenyingWebhook['reviews'] = [];
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: { uid: string; kind: { kind: string }; namespace: string; dryRun?: boolean };
      };
      reviews.push({
        uid: review.request.uid,
        kind: review.request.kind.kind,
        namespace: review.request.namespace,
        dryRun: review.request.dryRun === true,
      });
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: false, status: { code: 403, message: DENIAL } },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, cluster.webhookBindAddress, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const urlHost = isIP(host) === 6 ? `[${host}]` : host;
  return {
    url: `https://${urlHost}:${port}/validate`,
    caPem: ca.certPem,
    reviews,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('end-to-end harness', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelgate-e2e-test-'));
    const started = Date.now();
    cluster = await startCluster();
    const cp = cluster.controlPlane;
    console.info(
      cp === undefined
        ? `e2e: using KUBECONFIG's cluster ${cluster.server} (${cluster.version})`
        : `e2e: control plane ${cp.version} ready in ${Date.now() - started} ms ` +
            `(etcd ${cp.startupMs.etcd} ms, kube-apiserver ${cp.startupMs.apiServer} ms)`,
    );
  });

  afterAll(async () => {
    await cluster?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('serves the API with the image volume field and the admission APIs', async () => {
    expect(cluster.version).toMatch(/^v1\.\d+\.\d+/);
    const { client } = cluster;
    expect(expectOk(await client.get('/api/v1/namespaces/default')).metadata.name).toBe('default');
    const admission = expectOk(
      await client.get<{ resources: { name: string }[] }>('/apis/admissionregistration.k8s.io/v1'),
    ).resources.map((r) => r.name);
    expect(admission).toEqual(
      expect.arrayContaining(['validatingwebhookconfigurations', 'validatingadmissionpolicies']),
    );
    // The API server keeps an image volume only when the ImageVolume feature is on.
    const ns = await cluster.createNamespace('e2e-imagevolume');
    const withVolume: KubeObject = {
      ...pod(ns, 'with-image-volume'),
      spec: {
        containers: [
          {
            name: 'main',
            image: 'registry.example/app:1.0',
            volumeMounts: [{ name: 'model', mountPath: '/model' }],
          },
        ],
        volumes: [
          { name: 'model', image: { reference: 'registry.example/models/m@sha256:' + '0'.repeat(64) } },
        ],
      },
    };
    const created = expectOk(await client.create<KubeObject>(withVolume, { dryRun: true }));
    const volumes = (created.spec as { volumes: { image?: { reference: string } }[] }).volumes;
    expect(volumes[0]?.image?.reference).toContain('registry.example/models/m@sha256:');
  });

  it('admits a pod, then refuses one through a registered webhook with its message', async () => {
    const { client } = cluster;
    const ns = await cluster.createNamespace('e2e-webhook');
    const admitted = await client.create<KubeObject>(pod(ns, 'before-webhook'));
    expect(admitted.status).toBe(201);

    const webhook = await startDenyingWebhook(cluster, dir);
    try {
      const config: KubeObject = {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: ns },
        webhooks: [
          {
            name: 'deny.e2e.modelgate.dev',
            clientConfig: { url: webhook.url, caBundle: Buffer.from(webhook.caPem).toString('base64') },
            rules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['CREATE'],
                resources: ['pods'],
                scope: 'Namespaced',
              },
            ],
            // Only this test's namespace: on a shared cluster nothing else is affected.
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            failurePolicy: 'Fail',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 5,
          },
        ],
      };
      expectOk(await client.create(config), 'create ValidatingWebhookConfiguration');
      cluster.deleteOnStop(config);

      // The API server picks the configuration up from its informer: wait with dry runs (sideEffects: None).
      await client.waitFor('the webhook to be called', async () => {
        const res = await client.create(pod(ns, 'probe'), { dryRun: true });
        return refusalMessage(res).includes(DENIAL) ? true : undefined;
      });

      const refused = await client.create(pod(ns, 'after-webhook'));
      expect(refused.status).toBe(403);
      expect(refusalMessage(refused)).toBe(
        `admission webhook "deny.e2e.modelgate.dev" denied the request: ${DENIAL}`,
      );
      expect(webhook.reviews.some((r) => r.kind === 'Pod' && r.namespace === ns && !r.dryRun)).toBe(true);
      expect((await client.get(`/api/v1/namespaces/${ns}/pods/after-webhook`)).status).toBe(404);
      expect((await client.get(`/api/v1/namespaces/${ns}/pods/before-webhook`)).status).toBe(200);

      expectOk(await client.delete(config), 'delete ValidatingWebhookConfiguration');
    } finally {
      await webhook.close();
    }
  });

  it('refuses a pod through a ValidatingAdmissionPolicy', async () => {
    const { client } = cluster;
    const ns = await cluster.createNamespace('e2e-vap');
    const message = 'modelgate-e2e: pods named forbidden are refused';
    const policy: KubeObject = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: ns },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] },
          ],
        },
        validations: [{ expression: "object.metadata.name != 'forbidden'", message }],
      },
    };
    const binding: KubeObject = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: ns },
      spec: {
        policyName: ns,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
      },
    };
    for (const obj of [policy, binding]) {
      expectOk(await client.create(obj), `create ${obj.kind}`);
      cluster.deleteOnStop(obj);
    }
    const refused = await client.waitFor('the policy to apply', async () => {
      const res = await client.create(pod(ns, 'forbidden'), { dryRun: true });
      return res.ok ? undefined : res;
    });
    expect(refused.status).toBe(422);
    expect(refusalMessage(refused)).toContain(message);
    expect((await client.create(pod(ns, 'allowed'))).status).toBe(201);
  });

  it('lets RBAC decide for a least-privileged user and a ServiceAccount', async () => {
    const { client } = cluster;
    const ns = await cluster.createNamespace('e2e-rbac');
    const user = await KubeClient.fromKubeconfig(
      await cluster.kubeconfigFor({ user: 'e2e-reader', groups: ['e2e-readers'] }),
    );
    const sa = await KubeClient.fromKubeconfig(await cluster.serviceAccountKubeconfig(ns, 'e2e-sa'));
    try {
      expect((await user.get(`/api/v1/namespaces/${ns}/pods`)).status).toBe(403);
      expect((await sa.get(`/api/v1/namespaces/${ns}/pods`)).status).toBe(403);
      const results = await client.applyYaml(
        `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
  - {kind: Group, name: e2e-readers, apiGroup: rbac.authorization.k8s.io}
  - {kind: ServiceAccount, name: e2e-sa, namespace: ${ns}}
`,
        { namespace: ns },
      );
      for (const r of results) expectOk(r, 'server-side apply');
      await client.waitFor('RBAC to allow the reader', async () =>
        (await user.get(`/api/v1/namespaces/${ns}/pods`)).ok ? true : undefined,
      );
      expect((await sa.get(`/api/v1/namespaces/${ns}/pods`)).status).toBe(200);
      expect((await user.create(pod(ns, 'not-allowed'))).status).toBe(403);
      expect((await user.get('/api/v1/namespaces/default/pods')).status).toBe(403);
    } finally {
      await user.close();
      await sa.close();
    }
  });

  it('lints, renders and installs a chart with helm', async () => {
    await helm(['create', join(dir, 'demo')]);
    const chart = join(dir, 'demo');
    await helmLint(chart);
    const ns = await cluster.createNamespace('e2e-helm');
    const rendered = parseManifests(
      await helmTemplate(chart, { release: 'demo', namespace: ns, values: { replicaCount: 3 } }),
    );
    expect(rendered.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'Service']));
    const deploymentSpec = rendered.find((o) => o.kind === 'Deployment')?.spec as { replicas?: number };
    expect(deploymentSpec.replicas).toBe(3);
    // What `helm template` renders, the API server accepts (a server-side dry run).
    for (const r of await cluster.client.applyYaml(
      await helmTemplate(chart, { release: 'demo-dry', namespace: ns }),
      { namespace: ns, dryRun: true },
    )) {
      expectOk(r, 'server-side apply (dry run)');
    }
    await helmInstall(chart, {
      kubeconfig: cluster.kubeconfig,
      release: 'demo',
      namespace: ns,
      createNamespace: false,
    });
    const deployment = await cluster.client.get(`/apis/apps/v1/namespaces/${ns}/deployments/demo`);
    expect(deployment.status).toBe(200);
    await helmUninstall('demo', { kubeconfig: cluster.kubeconfig, namespace: ns });
    expect((await cluster.client.get(`/apis/apps/v1/namespaces/${ns}/deployments/demo`)).status).toBe(404);
  });
});
