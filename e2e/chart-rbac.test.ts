// Cluster mode with the chart's own RBAC: `helm install` the chart into a real API server (RBAC
// authorization on), then run `modelgate serve` with the Deployment's arguments as the chart's service
// account (a TokenRequest token, no other rights) and registered by URL (a Service has no endpoints on the
// loopback control plane). Proves the ClusterRole and Roles are enough: lists and watches, the self-managed
// TLS Secret and caBundle, policy status, refusal Events. No registry is needed: the models here are
// refused before any registry call (DIGEST_REQUIRED, POLICY_INVALID, MODEL_UNGOVERNED).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_FIX } from '../src/verdict/reasons.ts';
import type { RunningProcess } from '../test/support/process.ts';
import { startCluster, type TestCluster } from './support/cluster.ts';
import { helmTemplate } from './support/helm.ts';
import { expectOk, type KubeObject, refusalMessage } from './support/kube-client.ts';
import {
  CHART,
  POLICIES as GROUP,
  installAndServe,
  modelPolicy as policy,
  until as untilDone,
} from './support/modelgate.ts';

let cluster: TestCluster;
let release: string;
let systemNs: string;
let prodNs: string;
let webhook: RunningProcess | undefined;
let webhookConfig: string;

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  untilDone(what, fn, timeoutMs, () => webhook?.logs() ?? '');

function pod(name: string, models: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: prodNs, annotations: { 'modelgate.dev/models': models } },
    spec: { containers: [{ name: 'main', image: 'registry.invalid/app@sha256:' + 'a'.repeat(64) }] },
  };
}

/** The Event of `reason` about the pod `name`, once the webhook has written it. */
function findingEvent(reason: string, name: string) {
  return until(`the ${reason} event of ${name}`, async () => {
    const list = expectOk(
      await cluster.client.get<{
        items: { reason: string; type: string; regarding: { name: string }; note: string }[];
      }>(`/apis/events.k8s.io/v1/namespaces/${prodNs}/events`),
    );
    return list.items.find((e) => e.reason === reason && e.regarding.name === name);
  });
}

async function readyCondition(name: string) {
  const res = await cluster.client.get<{
    status?: {
      conditions?: {
        type: string;
        status: string;
        reason: string;
        message: string;
        observedGeneration: number;
      }[];
    };
  }>(`${GROUP}/${name}`);
  return res.body.status?.conditions?.find((c) => c.type === 'Ready');
}

beforeAll(async () => {
  cluster = await startCluster();
  prodNs = await cluster.createNamespace('mg-prod', { env: 'prod' });
  const installed = await installAndServe(cluster);
  ({ release, webhookConfig, webhook } = installed);
  systemNs = installed.namespace;
}, 600_000);

afterAll(async () => {
  await webhook?.stop();
  await cluster?.stop();
});

describe('serve --kubernetes with the chart RBAC', () => {
  it('sets up its own certificate: a Secret owned by the webhook configuration, and the caBundle', async () => {
    const secret = expectOk(
      await cluster.client.get<KubeObject & { data: Record<string, string> }>(
        `/api/v1/namespaces/${systemNs}/secrets/${webhookConfig}-tls`,
      ),
    );
    expect(Object.keys(secret.data).sort()).toEqual([
      'ca-bundle.crt',
      'ca.crt',
      'ca.key',
      'tls.crt',
      'tls.key',
    ]);
    expect(
      (secret.metadata as { ownerReferences?: { kind: string; name: string }[] }).ownerReferences?.[0],
    ).toMatchObject({
      kind: 'ValidatingWebhookConfiguration',
      name: webhookConfig,
    });
    const vwc = expectOk(
      await cluster.client.get<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(
        `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${webhookConfig}`,
      ),
    );
    expect(vwc.webhooks[0]!.clientConfig.caBundle).toBe(secret.data['ca-bundle.crt']);
  });

  it('reports a valid and an invalid policy in status, and refuses what the invalid one governs', async () => {
    expectOk(
      await cluster.client.apply(
        policy(`${release}-good`, {
          models: ['registry.invalid/models/**'],
          signatures: { required: false },
          match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
        }),
      ),
    );
    // Passes the CRD schema, fails modelgate's validation (a glob cannot be upper-case after the host).
    expectOk(
      await cluster.client.apply(
        policy(`${release}-bad`, {
          models: ['registry.invalid/Other/**', 'registry.invalid/other/**'],
          signatures: { required: false },
        }),
      ),
    );
    for (const n of ['good', 'bad']) cluster.deleteOnStop(policy(`${release}-${n}`, {}));
    const good = await until(
      'good status',
      async () => (await readyCondition(`${release}-good`)) ?? undefined,
    );
    expect(good).toMatchObject({ status: 'True', reason: 'Valid', observedGeneration: 1 });
    const bad = await until('bad status', async () => (await readyCondition(`${release}-bad`)) ?? undefined);
    expect(bad).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(bad.message).toContain('spec.models[0]');

    const refused = await cluster.client.create(
      pod('uses-invalid', 'registry.invalid/other/m@sha256:' + 'b'.repeat(64)),
    );
    expect(refused.status).toBe(403);
    expect(refusalMessage(refused)).toContain('POLICY_INVALID');
  });

  it('refuses a tag-only model and records a ModelRefused Event in the namespace; none for a dry run', async () => {
    const dry = await cluster.client.create(pod('dry', 'registry.invalid/models/m:v1'), { dryRun: true });
    expect(dry.status).toBe(403);
    const res = await cluster.client.create(pod('tagged', 'registry.invalid/models/m:v1'));
    expect(res.status).toBe(403);
    expect(refusalMessage(res)).toContain('DIGEST_REQUIRED');
    const events = await until('the refusal event', async () => {
      const list = expectOk(
        await cluster.client.get<{ items: { reason: string; regarding: { name: string }; note: string }[] }>(
          `/apis/events.k8s.io/v1/namespaces/${prodNs}/events`,
        ),
      );
      const mine = list.items.filter((e) => e.reason === 'ModelRefused' && e.regarding.name === 'tagged');
      return mine.length > 0 ? list.items : undefined;
    });
    expect(events.filter((e) => e.regarding.name === 'dry')).toEqual([]);
    // The note leads with the code and the reference, with no doubled "modelgate refused" prefix.
    const note = events.find((e) => e.reason === 'ModelRefused' && e.regarding.name === 'tagged')!.note;
    expect(note.startsWith('DIGEST_REQUIRED registry.invalid/models/m:v1 (modelgate policy ')).toBe(true);
    expect(note).not.toContain('modelgate refused');
    expect(note).toContain(`Fix: ${REASON_FIX.DIGEST_REQUIRED}`);
  });

  it('takes a policy update without a restart: Warn admits with a warning to the client', async () => {
    expectOk(
      await cluster.client.apply(
        policy(`${release}-good`, {
          mode: 'Warn',
          models: ['registry.invalid/models/**'],
          signatures: { required: false },
          match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
        }),
      ),
    );
    await until('generation 2 in force', async () => {
      const c = await readyCondition(`${release}-good`);
      return c?.observedGeneration === 2 ? c : undefined;
    });
    const res = await until('the Warn policy to apply', async () => {
      const r = await cluster.client.create(
        pod(`warned-${randomBytes(2).toString('hex')}`, 'registry.invalid/models/m:v1'),
      );
      return r.ok ? r : undefined;
    });
    // The warning leads with the code and the reference and keeps the whole fix.
    const warning = res.warnings.find((w) => w.startsWith('DIGEST_REQUIRED registry.invalid/models/m:v1 '));
    expect(warning).toContain(`(modelgate policy ${release}-good`);
    expect(warning!.endsWith(`Fix: ${REASON_FIX.DIGEST_REQUIRED}`)).toBe(true);
    const name = (res.body as KubeObject).metadata.name ?? '';
    const event = await findingEvent('ModelWarned', name);
    expect(event.type).toBe('Warning');
    expect(event.note.startsWith('DIGEST_REQUIRED registry.invalid/models/m:v1 (modelgate policy ')).toBe(
      true,
    );
  });

  it('Audit admits without a warning and records a ModelAudited Event with the code and reference', async () => {
    expectOk(
      await cluster.client.apply(
        policy(`${release}-good`, {
          mode: 'Audit',
          models: ['registry.invalid/models/**'],
          signatures: { required: false },
          match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
        }),
      ),
    );
    const res = await until('the Audit policy to apply', async () => {
      const r = await cluster.client.create(
        pod(`audited-${randomBytes(2).toString('hex')}`, 'registry.invalid/models/m:v1'),
      );
      return r.ok && r.warnings.length === 0 ? r : undefined;
    });
    const event = await findingEvent('ModelAudited', (res.body as KubeObject).metadata.name ?? '');
    expect(event.type).toBe('Normal');
    expect(event.note.startsWith('DIGEST_REQUIRED registry.invalid/models/m:v1 (modelgate policy ')).toBe(
      true,
    );
    expect(event.note).toContain(`Fix: ${REASON_FIX.DIGEST_REQUIRED}`);
  });

  it('accepts the rendered chart (helm template) by server-side apply, every object', async () => {
    const ns = await cluster.createNamespace('mg-template');
    const rendered = await helmTemplate(CHART, { release: `${release}t`, namespace: ns, includeCrds: false });
    const results = await cluster.client.applyYaml(rendered, { namespace: ns, dryRun: true });
    expect(results.length).toBeGreaterThan(5);
    for (const r of results) expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBeLessThan(300);
  });

  it('never met an RBAC refusal', () => {
    expect(webhook!.logs()).not.toMatch(/forbidden|answered 403/i);
  });
});
