// A real Kubernetes control plane on loopback for the end-to-end tests: etcd and kube-apiserver, built from
// the Go module proxy by scripts/tools/build-tools.sh. RBAC authorization and the admission webhooks are on,
// as in a cluster. There is no kubelet, scheduler or controller manager: pods are admitted (or refused) and
// stored, never run; namespaces are never finalized after deletion; ServiceAccounts are not created for new
// namespaces (cluster.ts does that); webhooks must be registered by URL (a Service has no endpoints here).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type RunningProcess, startProcess, waitForHttp } from '../../test/support/process.ts';
import { ensureTools } from '../../test/support/tools.ts';
import { type CertFiles, createCa, createServiceAccountKeys, issueCert, writePrivateFile } from './certs.ts';
import { expectOk, KubeClient, kubeconfigYaml } from './kube-client.ts';

export interface ControlPlaneOptions {
  /** Working folder (certificates, etcd data, kubeconfigs); default a new temporary folder. */
  readonly dir?: string;
  /** Keep the working folder after stop() (to read its files). */
  readonly keepDir?: boolean;
  /** Extra kube-apiserver flags, appended (a later flag wins). */
  readonly apiServerArgs?: readonly string[];
  /** How long etcd and the API server together may take to become ready; default 3 minutes. */
  readonly startTimeoutMs?: number;
}

/** An identity the API server authenticates by client certificate: CN is the user, each O a group. */
export interface UserIdentity {
  readonly user: string;
  readonly groups?: readonly string[];
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** Kubeconfig of an administrator (group `system:masters`), credentials inline. */
  readonly kubeconfig: string;
  /** The CA that signed the API server's serving certificate and every client certificate. */
  readonly caPem: string;
  /** The API server's version (`/version` gitVersion). */
  readonly version: string;
  readonly dir: string;
  /** A client with the administrator's credentials. */
  readonly client: KubeClient;
  /** Milliseconds from spawn to ready: etcd, then the API server (`/readyz` and the `default` namespace). */
  readonly startupMs: { readonly etcd: number; readonly apiServer: number };
  /** A kubeconfig for `identity` (a client certificate): what it may do is up to the RBAC a test applies. */
  kubeconfigFor(identity: UserIdentity): Promise<string>;
  /** The last lines etcd and the API server printed. */
  logs(): string;
  stop(): Promise<void>;
}

const SERVICE_CIDR = '10.96.0.0/12';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const ADMIN_IDENTITY: UserIdentity = { user: 'modelgate-e2e-admin', groups: ['system:masters'] };

/** Starts etcd and kube-apiserver on free loopback ports and waits until the API server is ready. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const tools = await ensureTools('etcd', 'kube-apiserver');
  const etcdBin = tools.etcd;
  const apiServerBin = tools['kube-apiserver'];
  if (etcdBin === undefined || apiServerBin === undefined)
    throw new Error('build-tools.sh built no etcd or kube-apiserver');
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'modelgate-e2e-')));
  const pki = join(dir, 'pki');
  await mkdir(pki, { recursive: true });
  const ca = await createCa(pki, 'ca');
  const serving = await issueCert(ca, pki, {
    commonName: 'kube-apiserver',
    usage: 'server',
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    ips: ['127.0.0.1', '10.96.0.1'],
  });
  const saKeys = await createServiceAccountKeys(pki);

  // A port chosen free can be taken before the process binds it: try again with new ports.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await tryStart({
      dir,
      attempt,
      etcdBin,
      apiServerBin,
      ca,
      serving,
      saKeys,
      opts,
    }).catch((e: Error) => e);
    if (!(started instanceof Error)) return started;
    lastError = started;
    if (!/address already in use/i.test(started.message)) break;
  }
  if (opts.keepDir !== true) await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('control plane did not start');
}

interface StartContext {
  readonly dir: string;
  readonly attempt: number;
  readonly etcdBin: string;
  readonly apiServerBin: string;
  readonly ca: CertFiles;
  readonly serving: CertFiles;
  readonly saKeys: { privateKeyFile: string; publicKeyFile: string };
  readonly opts: ControlPlaneOptions;
}

async function tryStart(ctx: StartContext): Promise<ControlPlane> {
  const { dir, ca, opts } = ctx;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 180_000);
  const [etcdClientPort, etcdPeerPort, apiPort] = await distinctFreePorts();
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  const etcdData = join(dir, `etcd-${ctx.attempt}`);

  const processes: RunningProcess[] = [];
  const stopAll = async () => {
    for (const p of processes.reverse()) await p.stop();
  };
  try {
    const etcdStart = Date.now();
    const etcd = startProcess(ctx.etcdBin, [
      '--name=e2e',
      `--data-dir=${etcdData}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=e2e=${peerUrl}`,
      // Test data is thrown away: no fsync makes etcd (and so every write) much faster on a busy disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    processes.push(etcd);
    await Promise.race([
      waitForHttp(`${etcdUrl}/health`, [200], deadline - Date.now()),
      exitOf(etcd, 'etcd'),
    ]);
    const etcdMs = Date.now() - etcdStart;

    const server = `https://127.0.0.1:${apiPort}`;
    const apiStart = Date.now();
    const apiServer = startProcess(ctx.apiServerBin, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${ctx.serving.certFile}`,
      `--tls-private-key-file=${ctx.serving.keyFile}`,
      `--client-ca-file=${ca.certFile}`,
      '--authorization-mode=Node,RBAC',
      // Both are on by default; named so that a change of defaults cannot silently turn them off.
      '--enable-admission-plugins=ValidatingAdmissionWebhook,ValidatingAdmissionPolicy',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${ctx.saKeys.publicKeyFile}`,
      `--service-account-signing-key-file=${ctx.saKeys.privateKeyFile}`,
      '--allow-privileged=true',
      // The `kubernetes` Service's endpoints may not be a loopback address; nothing here needs them.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      ...(opts.apiServerArgs ?? []),
    ]);
    processes.push(apiServer);
    const adminCert = await issueCert(ca, join(dir, 'pki'), {
      commonName: ADMIN_IDENTITY.user,
      organizations: ADMIN_IDENTITY.groups,
      usage: 'client',
    });
    const client = new KubeClient({
      server,
      caPem: ca.certPem,
      certPem: adminCert.certPem,
      keyPem: adminCert.keyPem,
    });
    try {
      await Promise.race([waitReady(client, deadline), exitOf(apiServer, 'kube-apiserver')]);
    } catch (e) {
      await client.close();
      throw e;
    }
    const apiServerMs = Date.now() - apiStart;
    const version = expectOk(await client.get<{ gitVersion: string }>('/version'), 'GET /version').gitVersion;
    const kubeconfig = await writePrivateFile(
      dir,
      'admin.kubeconfig',
      kubeconfigYaml('modelgate-e2e', {
        server,
        caPem: ca.certPem,
        certPem: adminCert.certPem,
        keyPem: adminCert.keyPem,
      }),
    );

    let stopped = false;
    return {
      server,
      kubeconfig,
      caPem: ca.certPem,
      version,
      dir,
      client,
      startupMs: { etcd: etcdMs, apiServer: apiServerMs },
      async kubeconfigFor(identity) {
        const cert = await issueCert(ca, join(dir, 'pki'), {
          commonName: identity.user,
          organizations: identity.groups,
          usage: 'client',
        });
        const name = identity.user.replace(/[^A-Za-z0-9.-]+/g, '_');
        return writePrivateFile(
          dir,
          `${name}-${randomBytes(3).toString('hex')}.kubeconfig`,
          kubeconfigYaml(name, { server, caPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem }),
        );
      },
      logs: () => `--- etcd ---\n${etcd.logs()}\n--- kube-apiserver ---\n${apiServer.logs()}`,
      async stop() {
        if (stopped) return;
        stopped = true;
        await client.close();
        await stopAll();
        if (opts.keepDir !== true) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    const logs = processes.map((p) => p.logs()).join('\n---\n');
    await stopAll();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
}

// Ready means: /readyz passes (storage, RBAC bootstrap roles, post-start hooks) and the `default` namespace
// exists, with the ServiceAccount that admission of a pod in it requires (no controller manager makes it).
async function waitReady(client: KubeClient, deadline: number): Promise<void> {
  await client.waitFor(
    'kube-apiserver /readyz',
    async () => ((await client.request('GET', '/readyz')).status === 200 ? true : undefined),
    deadline - Date.now(),
  );
  await client.waitFor(
    'namespace default',
    async () => ((await client.get('/api/v1/namespaces/default')).ok ? true : undefined),
    Math.max(1_000, deadline - Date.now()),
  );
  await ensureDefaultServiceAccount(client, 'default');
}

/** Creates the `default` ServiceAccount of a namespace unless it exists (a controller would, in a cluster). */
export async function ensureDefaultServiceAccount(client: KubeClient, namespace: string): Promise<void> {
  const res = await client.create({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'default', namespace },
  });
  if (!res.ok && res.status !== 409) expectOk(res, `create ServiceAccount ${namespace}/default`);
}

// Rejects when the process exits: raced against a readiness wait, so that a crash fails fast with its logs.
function exitOf(p: RunningProcess, name: string): Promise<never> {
  const exited = new Promise<never>((_, reject) => {
    const fail = () =>
      reject(new Error(`${name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.logs()}`));
    if (p.child.exitCode !== null || p.child.signalCode !== null) fail();
    else p.child.once('exit', fail);
  });
  // The normal stop at the end also ends up here, when nobody is waiting any more.
  exited.catch(() => {});
  return exited;
}

async function distinctFreePorts(): Promise<[number, number, number]> {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [a = 0, b = 0, c = 0] = ports;
  return [a, b, c];
}
