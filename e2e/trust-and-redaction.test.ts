// Issue 16 on the real control plane: a key rotated in the Secret a ModelPolicy names (same policy, same
// uid, same generation) stops admitting models signed with the old key, and a URL secret planted in a
// registry's bearer realm reaches neither the API server's refusal, nor the ModelRefused Event, nor the
// webhook's logs. Issue 15: a policy whose key Secret is missing, or in a namespace modelgate may not read,
// shows Ready=False with reason TRUST_UNAVAILABLE, and Ready=True once the Secret is created.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORITIES_REQUIRED_MESSAGE, SIGNATURES_ABSENT_MESSAGE } from '../src/policy/schema.ts';
import { Cosign } from '../test/integration/verify/signers.ts';
import { type FakeServer, startFakeServer } from '../test/support/fake-server.ts';
import { Oras } from '../test/support/oras.ts';
import type { RunningProcess } from '../test/support/process.ts';
import { startRegistry, type TestRegistry } from '../test/support/registries.ts';
import { weights } from '../test/support/signed-models.ts';
import { startCluster, type TestCluster } from './support/cluster.ts';
import { expectOk, type KubeObject, refusalMessage } from './support/kube-client.ts';
import { installAndServe, modelPolicy, POLICIES, until } from './support/modelgate.ts';

let cluster: TestCluster;
let registry: TestRegistry;
let fake: FakeServer;
let webhook: RunningProcess;
let ns: string;
let systemNs: string;
let release: string;
let signed: string;
let releasePem: string;
const realmSecret = `realm-sig-${randomUUID()}`;

const APP_IMAGE = `registry.invalid/app@sha256:${'a'.repeat(64)}`;
const uniq = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function pod(name: string, model: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations: { 'modelgate.dev/models': model } },
    spec: { containers: [{ name: 'main', image: APP_IMAGE }] },
  };
}

function keySecret(pem: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'release-key', namespace: systemNs },
    data: { 'cosign.pub': b64(pem) },
  } as KubeObject;
}

beforeAll(async () => {
  cluster = await startCluster();
  registry = await startRegistry('ggcr');
  fake = await startFakeServer((req, res) => {
    if ((req.url ?? '').startsWith('/token')) {
      req.socket.destroy();
      return;
    }
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="http://${req.headers.host}/token?X-Amz-Signature=${realmSecret}",service="fake"`,
      'content-length': '0',
    });
    res.end();
  });
  const oras = new Oras({ host: registry.host });
  const cosign = await Cosign.create();
  try {
    const pushed = await oras.push('models/good:v1', [{ name: 'model.safetensors', content: weights(7) }]);
    const key = await cosign.generateKeyPair('release');
    releasePem = key.pem;
    signed = `${registry.host}/models/good@${pushed.digest}`;
    await cosign.sign(signed, key.key);
  } finally {
    await oras.close();
    await cosign.close();
  }
  const installed = await installAndServe(cluster, {
    values: { insecureRegistries: [registry.host, fake.host] },
  });
  webhook = installed.webhook;
  systemNs = installed.namespace;
  release = installed.release;
  ns = await cluster.createNamespace('mg-trust');
  expectOk(await cluster.client.apply(keySecret(releasePem)), 'the key Secret');
  for (const [name, spec] of [
    [
      `${release}-keyed`,
      {
        models: [`${registry.host}/models/**`],
        signatures: {
          authorities: [
            {
              name: 'release',
              key: { secretRef: { namespace: systemNs, name: 'release-key', key: 'cosign.pub' } },
            },
          ],
        },
      },
    ],
    [`${release}-realm`, { models: [`${fake.host}/**`], signatures: { required: false } }],
  ] as const) {
    expectOk(await cluster.client.apply(modelPolicy(name, spec)));
    cluster.deleteOnStop(modelPolicy(name, {}));
  }
  await until(
    'the keyed policy to admit the signed model',
    async () =>
      (await cluster.client.create(pod(uniq('warm'), signed), { dryRun: true })).status === 201
        ? true
        : undefined,
    60_000,
    () => webhook.logs(),
  );
}, 900_000);

afterAll(async () => {
  await webhook?.stop();
  await cluster?.stop();
  await registry?.stop();
  await fake?.close();
});

describe('trust keyed by the material it was read from (real API server)', () => {
  it('a key rotated in the Secret (policy unchanged): the model signed with the old key is refused once noticed', async () => {
    expect((await cluster.client.create(pod(uniq('before'), signed))).status).toBe(201);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expectOk(await cluster.client.apply(keySecret(other)), 'rotate the key Secret');
    // The webhook reads referenced Secrets again every minute; the verdict cache holds a pass 5 minutes.
    const refused = await until(
      'a refusal after the rotation',
      async () => {
        const r = await cluster.client.create(pod(uniq('after'), signed), { dryRun: true });
        return r.status === 403 ? r : undefined;
      },
      150_000,
      () => webhook.logs(),
    );
    expect(refusalMessage(refused)).toMatch(/\bSIGNATURE_INVALID\b/);
    expect(webhook.logs()).toMatch(/trust material changed/);
  }, 200_000);

  it("a secret in a bearer realm's query reaches neither the refusal, nor the Event, nor the logs", async () => {
    const name = uniq('realm');
    const res = await cluster.client.create(pod(name, `${fake.host}/models/m@sha256:${'c'.repeat(64)}`));
    expect(res.status).toBe(403);
    const message = refusalMessage(res);
    expect(message).toMatch(/\bREGISTRY_ERROR\b/);
    expect(fake.requests.some((r) => r.path.startsWith('/token?'))).toBe(true);
    const event = await until('the refusal event', async () => {
      const list = expectOk(
        await cluster.client.get<{ items: { reason: string; regarding: { name: string }; note: string }[] }>(
          `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
        ),
      );
      return list.items.find((e) => e.reason === 'ModelRefused' && e.regarding.name === name);
    });
    for (const text of [message, JSON.stringify(res.body), JSON.stringify(event), webhook.logs()]) {
      expect(text).not.toContain(realmSecret);
      expect(text).not.toContain('X-Amz-Signature');
    }
  }, 120_000);
});

describe('trust problems on the policy status (real API server)', () => {
  interface Ready {
    status: string;
    reason: string;
    message: string;
  }
  const ready = async (name: string): Promise<Ready | undefined> => {
    const res = await cluster.client.get<{ status?: { conditions?: (Ready & { type: string })[] } }>(
      `${POLICIES}/${name}`,
    );
    return res.ok ? res.body.status?.conditions?.find((c) => c.type === 'Ready') : undefined;
  };
  const keyedBy = (secretRef: { namespace: string; name: string; key: string }) => ({
    models: [`${registry.host}/late/**`],
    signatures: { authorities: [{ name: 'late', key: { secretRef } }] },
  });

  it('the CRD refuses a policy that does not say what signatures it requires, in the words of policy lint', async () => {
    const silent = await cluster.client.create(
      modelPolicy(uniq(`${release}-silent`), { models: ['r.example/**'] }),
      {
        dryRun: true,
      },
    );
    expect(silent.status).toBe(422);
    expect(JSON.stringify(silent.body)).toContain(JSON.stringify(SIGNATURES_ABSENT_MESSAGE).slice(1, -1));
    expect(JSON.stringify(silent.body)).toContain('spec.signatures');
    const bare = await cluster.client.create(
      modelPolicy(uniq(`${release}-bare`), { models: ['r.example/**'], signatures: {} }),
      { dryRun: true },
    );
    expect(bare.status).toBe(422);
    expect(JSON.stringify(bare.body)).toContain(JSON.stringify(AUTHORITIES_REQUIRED_MESSAGE).slice(1, -1));
    const explicit = await cluster.client.create(
      modelPolicy(uniq(`${release}-explicit`), { models: ['r.example/**'], signatures: { required: false } }),
      { dryRun: true },
    );
    expect(explicit.status).toBe(201);
  });

  it('a missing key Secret: Ready=False TRUST_UNAVAILABLE at once, Ready=True once it is created', async () => {
    const name = `${release}-missing-key`;
    const secretRef = { namespace: systemNs, name: uniq('late-key'), key: 'cosign.pub' };
    expectOk(await cluster.client.apply(modelPolicy(name, keyedBy(secretRef))));
    cluster.deleteOnStop(modelPolicy(name, {}));
    const down = await until(
      'Ready=False TRUST_UNAVAILABLE',
      async () => {
        const c = await ready(name);
        return c?.reason === 'TRUST_UNAVAILABLE' ? c : undefined;
      },
      20_000,
      () => webhook.logs(),
    );
    expect(down.status).toBe('False');
    expect(down.message).toContain(`secret ${secretRef.namespace}/${secretRef.name} not found`);
    expect(down.message).toContain(`create Secret ${secretRef.namespace}/${secretRef.name}`);

    expectOk(
      await cluster.client.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secretRef.name, namespace: secretRef.namespace },
        data: { 'cosign.pub': b64(releasePem) },
      } as KubeObject),
      'create the key Secret',
    );
    const up = await until(
      'Ready=True after the Secret is created',
      async () => {
        const c = await ready(name);
        return c?.status === 'True' ? c : undefined;
      },
      30_000,
      () => webhook.logs(),
    );
    expect(up.reason).toBe('Valid');
  }, 60_000);

  it('a key Secret in a namespace the chart grants no access to: Ready=False, the fix names secretAccess', async () => {
    const name = `${release}-unreadable-key`;
    expectOk(
      await cluster.client.apply(modelPolicy(name, keyedBy({ namespace: ns, name: 'k', key: 'cosign.pub' }))),
    );
    cluster.deleteOnStop(modelPolicy(name, {}));
    const down = await until(
      'Ready=False TRUST_UNAVAILABLE',
      async () => {
        const c = await ready(name);
        return c?.reason === 'TRUST_UNAVAILABLE' ? c : undefined;
      },
      20_000,
      () => webhook.logs(),
    );
    expect(down.status).toBe('False');
    expect(down.message).toContain(`secretAccess.namespaces`);
  }, 30_000);
});
