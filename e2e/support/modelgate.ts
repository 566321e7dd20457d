// Installs the chart into the test cluster with `helm install`, then runs the webhook locally with the
// Deployment's own arguments, as the chart's service account, registered by URL (the loopback control
// plane has no Service endpoints). Shared by the e2e suites.
import { randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { freePort, type RunningProcess, startProcess } from '../../test/support/process.ts';
import type { TestCluster } from './cluster.ts';
import { helmInstall, helmTemplate } from './helm.ts';
import { expectOk, type KubeObject } from './kube-client.ts';

export const CHART = 'charts/modelgate';
export const POLICIES = '/apis/modelgate.dev/v1alpha1/modelpolicies';

export interface InstalledModelgate {
  readonly release: string;
  readonly namespace: string;
  readonly webhookConfig: string;
  readonly webhook: RunningProcess;
}

/** Polls `fn` until it yields a value; the webhook's logs are shown on a time-out. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  logs?: () => string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function modelPolicy(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'modelgate.dev/v1alpha1', kind: 'ModelPolicy', metadata: { name }, spec };
}

export async function installAndServe(
  cluster: TestCluster,
  opts: { values?: Record<string, unknown> } = {},
): Promise<InstalledModelgate> {
  const release = `mg${randomBytes(3).toString('hex')}`;
  const namespace = await cluster.createNamespace('mg-system');
  const fullname = `${release}-modelgate`;
  const values = opts.values ? { values: opts.values } : {};

  // The real install, as a platform team runs it.
  await helmInstall(CHART, {
    kubeconfig: cluster.kubeconfig,
    release,
    namespace,
    createNamespace: false,
    ...values,
  });
  for (const [apiVersion, kind] of [
    ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
  ] as const) {
    cluster.deleteOnStop({ apiVersion, kind, metadata: { name: fullname } });
  }
  await until('the ModelPolicy CRD', async () =>
    (await cluster.client.get(POLICIES)).ok ? true : undefined,
  );

  const port = await freePort();
  const host = cluster.webhookHost;
  expectOk(
    await cluster.client.request(
      'PATCH',
      `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${fullname}`,
      {
        body: [
          {
            op: 'replace',
            path: '/webhooks/0/clientConfig',
            value: { url: `https://${host.includes(':') ? `[${host}]` : host}:${port}/validate` },
          },
        ],
        contentType: 'application/json-patch+json',
      },
    ),
    'point the webhook at the local process',
  );

  // The Deployment's arguments, exactly, plus what differs outside a pod.
  const rendered = await helmTemplate(CHART, { release, namespace, includeCrds: false, ...values });
  const deployment = parseAllDocuments(rendered)
    .map((d) => d.toJS() as KubeObject & { spec?: any })
    .find((o) => o?.kind === 'Deployment');
  const args = (deployment!.spec.template.spec.containers[0].args as string[]).filter(
    (a) => !a.startsWith('--port='),
  );
  const kubeconfig = await cluster.serviceAccountKubeconfig(namespace, fullname);
  const webhook = startProcess(
    process.execPath,
    [
      'src/cli/main.ts',
      'serve',
      ...args,
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      namespace,
      '--tls-san',
      host,
      '--host',
      cluster.webhookBindAddress,
      '--port',
      String(port),
    ],
    { env: { ...process.env, POD_NAME: `${fullname}-e2e`, KUBECONFIG: '' } },
  );
  await webhook.waitForOutput(/"msg":"ready"/, 60_000);
  return { release, namespace, webhookConfig: fullname, webhook };
}
