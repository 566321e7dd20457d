// The Helm chart, rendered by the real helm (built into the tool cache): lint, what each mode renders,
// least-privilege RBAC, values validation, that the Deployment's arguments are ones `modelgate serve`
// accepts, and that manifests/install.yaml is the chart rendered with its defaults (drift check).
// Applying it to a real API server is the e2e suite's part.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ALL_IMAGES, mayNameModelCondition } from '../../../src/kube/match-conditions.ts';
import { runCli } from '../../support/cli.ts';
import { toolPath } from '../../support/tools.ts';

const run = promisify(execFile);
const CHART = 'charts/modelgate';
const NS = 'modelgate-system';

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: any;
};

let helm: string;

async function template(set: Record<string, string> = {}, namespace = NS): Promise<Obj[]> {
  const args = ['template', 'modelgate', CHART, '--namespace', namespace];
  for (const [k, v] of Object.entries(set)) args.push('--set', `${k}=${v}`);
  const { stdout } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

async function templateError(set: Record<string, string>): Promise<string> {
  try {
    await template(set);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error('helm template succeeded');
}

const find = (objs: Obj[], kind: string, name?: string) => {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (o === undefined) throw new Error(`no ${kind} ${name ?? ''}`);
  return o;
};
const container = (objs: Obj[]) => find(objs, 'Deployment').spec.template.spec.containers[0];

beforeAll(async () => {
  helm = await toolPath('helm');
});

describe('charts/modelgate', () => {
  it('passes helm lint --strict in every certificate mode', async () => {
    for (const set of [
      [],
      ['--set', 'certificates.mode=certManager'],
      ['--set', 'certificates.mode=secret,certificates.secret.name=tls,certificates.secret.caBundle=PEM'],
      [
        '--set',
        'secretAccess.clusterWide=true,podPullSecrets=true,networkPolicy.enabled=true,serviceMonitor.enabled=true',
      ],
    ]) {
      const { stdout } = await run(helm, ['lint', CHART, '--strict', ...set]);
      expect(stdout).toContain('0 chart(s) failed');
    }
  });

  it('renders the webhook as the issue asks: fail closed, equivalent, timeout above the engine deadline', async () => {
    const objs = await template();
    const vwc = find(objs, 'ValidatingWebhookConfiguration', 'modelgate');
    const w = vwc.webhooks[0];
    expect(w).toMatchObject({
      name: 'validate.modelgate.dev',
      admissionReviewVersions: ['v1'],
      failurePolicy: 'Fail',
      sideEffects: 'NoneOnDryRun',
      timeoutSeconds: 10,
      matchPolicy: 'Equivalent',
      clientConfig: { service: { name: 'modelgate', namespace: NS, path: '/validate', port: 443 } },
    });
    // Self-managed: the caBundle is set at run time, never rendered.
    expect(w.clientConfig.caBundle).toBeUndefined();
    expect(w.namespaceSelector.matchExpressions[0]).toEqual({
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['kube-system', NS],
    });
    const resources = w.rules.flatMap((r: { apiGroups: string[]; resources: string[] }) =>
      r.resources.map((res) => `${r.apiGroups[0]}/${res}`),
    );
    expect(resources.sort()).toEqual(
      [
        '/pods',
        '/pods/ephemeralcontainers',
        '/replicationcontrollers',
        'apps/daemonsets',
        'apps/deployments',
        'apps/replicasets',
        'apps/statefulsets',
        'batch/cronjobs',
        'batch/jobs',
      ].sort(),
    );
    expect(container(objs).args).toContain('--deadline-ms=8000');
    const longer = await template({ 'webhook.timeoutSeconds': '25' });
    expect(container(longer).args).toContain('--deadline-ms=23000');
    expect(find(longer, 'ValidatingWebhookConfiguration').webhooks[0].timeoutSeconds).toBe(25);
  });

  it('registers the conservative matchCondition modelgate narrows later, and the webhook by URL when asked', async () => {
    const w = find(await template(), 'ValidatingWebhookConfiguration', 'modelgate').webhooks[0];
    // Every image until modelgate has listed the policies: exactly what modelgate itself writes then.
    expect(w.matchConditions).toEqual([mayNameModelCondition(ALL_IMAGES)]);
    const byUrl = find(
      await template({ 'webhook.url': 'https://192.0.2.10:8443/validate' }),
      'ValidatingWebhookConfiguration',
      'modelgate',
    ).webhooks[0];
    expect(byUrl.clientConfig).toEqual({ url: 'https://192.0.2.10:8443/validate' });
    expect(byUrl.matchConditions).toEqual(w.matchConditions);
    expect(await templateError({ 'webhook.url': 'http://192.0.2.10/validate' })).toContain('/webhook/url');
  });

  it('runs 2 non-root replicas with a read-only root, probes over HTTPS, a PDB and topology spread', async () => {
    const objs = await template();
    const d = find(objs, 'Deployment');
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    const c = container(objs);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits).toBeDefined();
    expect(pod.topologySpreadConstraints.map((t: { topologyKey: string }) => t.topologyKey)).toEqual([
      'topology.kubernetes.io/zone',
      'kubernetes.io/hostname',
    ]);
    expect(find(objs, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
    expect(find(objs, 'Service').spec.ports[0]).toMatchObject({ port: 443, targetPort: 'https' });
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--kubernetes',
        // serve's default is loopback; in the pod the API server connects to the pod's address.
        '--host=0.0.0.0',
        '--tls-self-manage',
        '--webhook-config=modelgate',
        '--service=modelgate',
      ]),
    );
  });

  it('grants least privilege by default: no cluster-wide Secret access, the webhook configuration by name', async () => {
    const objs = await template();
    const rules = find(objs, 'ClusterRole').rules as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
      resourceNames?: string[];
    }[];
    const flat = rules.flatMap((r) =>
      r.resources.map((res) => ({ res, verbs: r.verbs, names: r.resourceNames })),
    );
    expect(flat.find((r) => r.res === 'secrets')).toBeUndefined();
    expect(flat.find((r) => r.res === 'serviceaccounts')).toBeUndefined();
    expect(flat.find((r) => r.res === 'modelpolicies')?.verbs).toEqual(['get', 'list', 'watch']);
    expect(flat.find((r) => r.res === 'modelpolicies/status')?.verbs).toEqual(['update', 'patch']);
    expect(flat.find((r) => r.res === 'namespaces')?.verbs).toEqual(['list', 'watch']);
    expect(flat.find((r) => r.res === 'events')?.verbs).toEqual(['create', 'patch']);
    expect(flat.find((r) => r.res === 'validatingwebhookconfigurations')).toEqual({
      res: 'validatingwebhookconfigurations',
      verbs: ['get', 'patch'],
      names: ['modelgate'],
    });
    for (const r of rules) expect(r.verbs).not.toContain('*');
    const read = find(objs, 'Role', 'modelgate-read');
    expect(read.metadata.namespace).toBe(NS);
    expect(read.rules).toEqual([{ apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get'] }]);
    const tls = find(objs, 'Role', 'modelgate-tls');
    expect(tls.rules).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['modelgate-tls'],
      verbs: ['get', 'update'],
    });
    expect(container(objs).args).toContain(`--secret-namespace=${NS}`);
  });

  it('widens Secret access only as asked: listed namespaces, or cluster-wide for pod pull secrets', async () => {
    const listed = await template({ 'secretAccess.namespaces': '{team-a,team-b}' });
    expect(
      listed
        .filter((o) => o.kind === 'Role' && o.metadata.name === 'modelgate-read')
        .map((o) => o.metadata.namespace),
    ).toEqual([NS, 'team-a', 'team-b']);
    const wide = await template({ 'secretAccess.clusterWide': 'true', podPullSecrets: 'true' });
    const rules = find(wide, 'ClusterRole').rules as { resources: string[]; verbs: string[] }[];
    expect(rules).toContainEqual({ apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get'] });
    expect(rules).toContainEqual({ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] });
    expect(container(wide).args).toContain('--pod-pull-secrets');
    expect(container(wide).args.some((a: string) => a.startsWith('--secret-namespace'))).toBe(false);
    expect(await templateError({ podPullSecrets: 'true' })).toContain(
      'podPullSecrets needs secretAccess.clusterWide',
    );
  });

  it('with cert-manager: a CA, a serving Certificate, the cainjector annotation, no TLS Secret RBAC', async () => {
    const objs = await template({ 'certificates.mode': 'certManager' });
    const cert = find(objs, 'Certificate', 'modelgate-serving');
    expect(cert.spec.dnsNames).toContain(`modelgate.${NS}.svc`);
    expect(cert.spec.issuerRef.name).toBe('modelgate-ca');
    expect(find(objs, 'Certificate', 'modelgate-ca').spec.isCA).toBe(true);
    expect(find(objs, 'ValidatingWebhookConfiguration').metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': `${NS}/modelgate-serving`,
    });
    const args = container(objs).args as string[];
    expect(args).toContain('--tls-cert=/etc/modelgate/tls/tls.crt');
    expect(args).not.toContain('--tls-self-manage');
    // The webhook configuration by name still: modelgate keeps its matchConditions in step in every mode.
    expect(args).toContain('--webhook-config=modelgate');
    expect(find(objs, 'ClusterRole').rules).toContainEqual({
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['validatingwebhookconfigurations'],
      resourceNames: ['modelgate'],
      verbs: ['get', 'patch'],
    });
    expect(objs.some((o) => o.kind === 'Role' && o.metadata.name === 'modelgate-tls')).toBe(false);
    const external = await template({
      'certificates.mode': 'certManager',
      'certificates.certManager.issuerRef.name': 'corp',
      'certificates.certManager.issuerRef.kind': 'ClusterIssuer',
    });
    expect(external.some((o) => o.kind === 'Issuer')).toBe(false);
    expect(find(external, 'Certificate').spec.issuerRef).toEqual({ name: 'corp', kind: 'ClusterIssuer' });
  });

  it('renders the options: insecure registries, unmatched, log level, events, NetworkPolicy, ServiceMonitor', async () => {
    const objs = await template({
      insecureRegistries: '{localhost:5000}',
      unmatched: 'warn',
      logLevel: 'debug',
      events: 'false',
      'networkPolicy.enabled': 'true',
      'serviceMonitor.enabled': 'true',
    });
    expect(container(objs).args).toEqual(
      expect.arrayContaining([
        '--insecure-registry=localhost:5000',
        '--unmatched=warn',
        '--log-level=debug',
        '--no-events',
      ]),
    );
    expect(find(objs, 'NetworkPolicy').spec.ingress[0].ports).toEqual([{ port: 'https', protocol: 'TCP' }]);
    expect(find(objs, 'ServiceMonitor').spec.endpoints[0]).toMatchObject({
      scheme: 'https',
      path: '/metrics',
      tlsConfig: { ca: { secret: { name: 'modelgate-tls', key: 'ca-bundle.crt' } } },
    });
  });

  it('refuses invalid values through values.schema.json', async () => {
    expect(await templateError({ unmatched: 'maybe' })).toContain('/unmatched');
    expect(await templateError({ 'webhook.timeoutSeconds': '2' })).toContain('/webhook/timeoutSeconds');
    expect(await templateError({ 'certificates.mode': 'manual' })).toContain('/certificates/mode');
    expect(await templateError({ typo: 'x' })).toContain('typo');
  });

  it('gives the container arguments that `modelgate serve` accepts', async () => {
    const sets: Record<string, string>[] = [
      {},
      { 'certificates.mode': 'certManager', insecureRegistries: '{localhost:5000}', events: 'false' },
    ];
    for (const set of sets) {
      const args = container(await template(set)).args as string[];
      // Outside a pod the configuration stops at the missing kubeconfig, after every flag was parsed.
      const r = await runCli(['serve', ...args], undefined, 30_000);
      expect(r.stderr).toContain('--kubernetes outside a cluster needs --kubeconfig');
      expect(r.code).toBe(2);
    }
  });

  it('manifests/install.yaml is the chart rendered with its defaults (scripts/render-manifests.sh)', async () => {
    const r = await run('bash', ['scripts/render-manifests.sh', '--check'], {
      env: { ...process.env, HELM: helm },
    }).then(
      () => ({ ok: true, stderr: '' }),
      (e: { stderr?: string }) => ({ ok: false, stderr: e.stderr ?? '' }),
    );
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
  });
});
