// The cluster an end-to-end test runs against: the loopback control plane of control-plane.ts, or, when
// KUBECONFIG is set, that cluster (kind, or any cluster where the kubeconfig is an administrator's). Tests
// written against TestCluster run unchanged on both.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePrivateFile } from './certs.ts';
import {
  type ControlPlane,
  type ControlPlaneOptions,
  ensureDefaultServiceAccount,
  startControlPlane,
  type UserIdentity,
} from './control-plane.ts';
import {
  expectOk,
  KubeClient,
  type KubeCredentials,
  type KubeObject,
  kubeconfigYaml,
  loadKubeconfig,
} from './kube-client.ts';

export interface TestCluster {
  readonly kind: 'control-plane' | 'external';
  /** An administrator's kubeconfig. */
  readonly kubeconfig: string;
  readonly server: string;
  readonly version: string;
  /** A client with the administrator's credentials. */
  readonly client: KubeClient;
  /**
   * The address the API server reaches this test process at: the host of webhook URLs and a SAN of their
   * certificates. 127.0.0.1 for the loopback control plane; for a cluster in containers (kind) the host's
   * address on their network, from MODELGATE_E2E_WEBHOOK_HOST.
   */
  readonly webhookHost: string;
  /** The address servers the API server calls should listen on. */
  readonly webhookBindAddress: string;
  /** The loopback control plane, when the tests started one. */
  readonly controlPlane: ControlPlane | undefined;
  /**
   * Creates a namespace named `<prefix>-<random>` with its `default` ServiceAccount; stop() deletes it.
   * Returns its name.
   */
  createNamespace(prefix: string, labels?: Readonly<Record<string, string>>): Promise<string>;
  /** Deletes `obj` at stop() (cluster-scoped objects a test made: webhook configurations, CRDs, policies). */
  deleteOnStop(obj: KubeObject): void;
  /**
   * A kubeconfig that acts as `identity`: a client certificate on the loopback control plane; on another
   * cluster, the administrator impersonating it (RBAC decides the same way for both).
   */
  kubeconfigFor(identity: UserIdentity): Promise<string>;
  /** A kubeconfig with a token of ServiceAccount `namespace/name` (TokenRequest API), created if missing. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ClusterSettings {
  /** KUBECONFIG: run against that cluster instead of starting a control plane. */
  readonly kubeconfig: string | undefined;
  /** MODELGATE_E2E_WEBHOOK_HOST: see TestCluster.webhookHost. */
  readonly webhookHost: string | undefined;
}

/** The harness's settings, read from the environment once. */
export function clusterSettings(env: NodeJS.ProcessEnv = process.env): ClusterSettings {
  const kubeconfig = env.KUBECONFIG?.trim();
  const webhookHost = env.MODELGATE_E2E_WEBHOOK_HOST?.trim();
  return Object.freeze({
    kubeconfig: kubeconfig === '' ? undefined : kubeconfig,
    webhookHost: webhookHost === '' ? undefined : webhookHost,
  });
}

/** The cluster for this test file: KUBECONFIG's, or a new loopback control plane. */
export async function startCluster(
  opts: ControlPlaneOptions & { settings?: ClusterSettings } = {},
): Promise<TestCluster> {
  const settings = opts.settings ?? clusterSettings();
  if (settings.kubeconfig !== undefined) return externalCluster(settings.kubeconfig, settings.webhookHost);
  const cp = await startControlPlane(opts);
  const creds = await loadKubeconfig(cp.kubeconfig);
  return makeCluster({
    kind: 'control-plane',
    kubeconfig: cp.kubeconfig,
    creds,
    client: cp.client,
    version: cp.version,
    dir: cp.dir,
    webhookHost: '127.0.0.1',
    webhookBindAddress: '127.0.0.1',
    controlPlane: cp,
    kubeconfigFor: (identity) => cp.kubeconfigFor(identity),
    stop: () => cp.stop(),
  });
}

async function externalCluster(kubeconfig: string, webhookHost: string | undefined): Promise<TestCluster> {
  const creds = await loadKubeconfig(kubeconfig);
  const client = new KubeClient(creds);
  const version = expectOk(await client.get<{ gitVersion: string }>('/version'), 'GET /version').gitVersion;
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-e2e-'));
  return makeCluster({
    kind: 'external',
    kubeconfig,
    creds,
    client,
    version,
    dir,
    webhookHost: webhookHost ?? '127.0.0.1',
    webhookBindAddress: webhookHost === undefined ? '127.0.0.1' : '0.0.0.0',
    controlPlane: undefined,
    kubeconfigFor: (identity) =>
      writePrivateFile(
        dir,
        `${identity.user.replace(/[^A-Za-z0-9.-]+/g, '_')}-${randomBytes(3).toString('hex')}.kubeconfig`,
        kubeconfigYaml('modelgate-e2e', { ...creds, impersonate: identity }),
      ),
    async stop() {
      await client.close();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

interface ClusterParts {
  kind: TestCluster['kind'];
  kubeconfig: string;
  creds: KubeCredentials;
  client: KubeClient;
  version: string;
  dir: string;
  webhookHost: string;
  webhookBindAddress: string;
  controlPlane: ControlPlane | undefined;
  kubeconfigFor(identity: UserIdentity): Promise<string>;
  stop(): Promise<void>;
}

function makeCluster(parts: ClusterParts): TestCluster {
  const { client, creds } = parts;
  const toDelete: KubeObject[] = [];
  let stopped = false;
  return {
    kind: parts.kind,
    kubeconfig: parts.kubeconfig,
    server: client.server,
    version: parts.version,
    client,
    webhookHost: parts.webhookHost,
    webhookBindAddress: parts.webhookBindAddress,
    controlPlane: parts.controlPlane,
    async createNamespace(prefix, labels = {}) {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      const ns: KubeObject = {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, labels: { ...labels } },
      };
      expectOk(await client.create(ns), `create namespace ${name}`);
      toDelete.push(ns);
      await ensureDefaultServiceAccount(client, name);
      return name;
    },
    deleteOnStop(obj) {
      toDelete.push(obj);
    },
    kubeconfigFor: parts.kubeconfigFor,
    async serviceAccountKubeconfig(namespace, name) {
      const sa = await client.create({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name, namespace },
      });
      if (!sa.ok && sa.status !== 409) expectOk(sa, `create ServiceAccount ${namespace}/${name}`);
      const res = await client.request<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
        {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { expirationSeconds: 3600 },
          },
        },
      );
      const token = expectOk(res, `TokenRequest for ${namespace}/${name}`).status.token;
      const contextName = `${namespace}-${name}`;
      return writePrivateFile(
        parts.dir,
        `sa-${contextName}-${randomBytes(3).toString('hex')}.kubeconfig`,
        kubeconfigYaml(contextName, {
          server: creds.server,
          caPem: creds.caPem,
          insecureSkipTlsVerify: creds.insecureSkipTlsVerify,
          tlsServerName: creds.tlsServerName,
          token,
        }),
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Only a shared cluster needs tidying; the loopback control plane goes away whole.
      if (parts.kind === 'external') {
        for (const obj of toDelete.reverse()) {
          const res = await client.delete(obj).catch(() => undefined);
          if (res !== undefined && !res.ok && res.status !== 404) {
            console.warn(`could not delete ${obj.kind} ${obj.metadata.name ?? ''}: HTTP ${res.status}`);
          }
        }
      }
      await parts.stop();
    },
  };
}
