// Issue 16 on the real control plane: a key rotated in the Secret a ModelPolicy names (same policy, same
// uid, same generation) stops admitting models signed with the old key, and a URL secret planted in a
// registry's bearer realm reaches neither the API server's refusal, nor the ModelRefused Event, nor the
// webhook's logs.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cosign } from '../test/integration/verify/signers.ts';
import { type FakeServer, startFakeServer } from '../test/support/fake-server.ts';
import { Oras } from '../test/support/oras.ts';
import type { RunningProcess } from '../test/support/process.ts';
import { startRegistry, type TestRegistry } from '../test/support/registries.ts';
import { weights } from '../test/support/signed-models.ts';
import { startCluster, type TestCluster } from './support/cluster.ts';
import { expectOk, type KubeObject, refusalMessage } from './support/kube-client.ts';
import { installAndServe, modelPolicy, until } from './support/modelgate.ts';

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
    [`${release}-realm`, { models: [`${fake.host}/**`] }],
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
