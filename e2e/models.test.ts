// The API server admits or refuses workloads by what their models' registry holds: models pushed with
// the real oras to a loopback registry, signed (or not) with the real cosign, a ModelPolicy trusting the
// signing key, and the chart's webhook in front of Pods, Deployments, CronJobs and image volumes.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cosign } from '../test/integration/verify/signers.ts';
import { Oras, type Pushed } from '../test/support/oras.ts';
import type { RunningProcess } from '../test/support/process.ts';
import { startRegistry, type TestRegistry } from '../test/support/registries.ts';
import { weights } from '../test/support/signed-models.ts';
import { startCluster, type TestCluster } from './support/cluster.ts';
import { expectOk, type KubeObject, refusalCauses, refusalMessage } from './support/kube-client.ts';
import { installAndServe, modelPolicy, POLICIES, until } from './support/modelgate.ts';

let cluster: TestCluster;
let registry: TestRegistry;
let webhook: RunningProcess;
let ns: string;
let policyName: string;
let signed: string;
let unsigned: string;
let signedPickle: string;

const APP_IMAGE = `registry.invalid/app@sha256:${'a'.repeat(64)}`;
const uniq = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;

function pod(
  name: string,
  spec: Record<string, unknown>,
  annotations: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations },
    spec: { containers: [{ name: 'main', image: APP_IMAGE }], ...spec },
  };
}

function imageVolumeSpec(reference: string) {
  return {
    volumes: [{ name: 'model', image: { reference, pullPolicy: 'IfNotPresent' } }],
    containers: [{ name: 'main', image: APP_IMAGE, volumeMounts: [{ name: 'model', mountPath: '/models' }] }],
  };
}

function deployment(name: string, reference: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: imageVolumeSpec(reference) },
    },
  };
}

function cronJob(name: string, reference: string): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: ns },
    spec: {
      schedule: '0 * * * *',
      jobTemplate: {
        spec: {
          template: {
            spec: {
              restartPolicy: 'OnFailure',
              containers: [{ name: 'pull', image: APP_IMAGE, args: ['pull', `oci://${reference}`] }],
            },
          },
        },
      },
    },
  };
}

beforeAll(async () => {
  cluster = await startCluster();
  registry = await startRegistry('ggcr');
  const oras = new Oras({ host: registry.host });
  const cosign = await Cosign.create();
  try {
    const a = await oras.push('models/good:v1', [{ name: 'model.safetensors', content: weights(1) }]);
    const b = await oras.push('models/unsigned:v1', [{ name: 'model.safetensors', content: weights(2) }]);
    const pickle = Uint8Array.from([
      0x80, 0x04, 0x95, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x01, 0x78, 0x94, 0x2e,
    ]);
    const c = await oras.push('models/pickled:v1', [{ name: 'model.bin', content: pickle }]);
    const release = await cosign.generateKeyPair('release');
    const ref = (p: Pushed, repo: string) => `${registry.host}/models/${repo}@${p.digest}`;
    signed = ref(a, 'good');
    unsigned = ref(b, 'unsigned');
    signedPickle = ref(c, 'pickled');
    await cosign.sign(signed, release.key);
    await cosign.sign(signedPickle, release.key);

    const installed = await installAndServe(cluster, { values: { insecureRegistries: [registry.host] } });
    webhook = installed.webhook;
    ns = await cluster.createNamespace('mg-models', { env: 'prod' });
    policyName = `${installed.release}-models`;
    expectOk(
      await cluster.client.apply(
        modelPolicy(policyName, {
          match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
          models: [`${registry.host}/models/**`],
          signatures: { authorities: [{ name: 'release', key: { pem: release.pem } }] },
        }),
      ),
    );
    cluster.deleteOnStop(modelPolicy(policyName, {}));
    await until(
      'the policy in force',
      async () => {
        const r = await cluster.client.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
          `${POLICIES}/${policyName}`,
        );
        return r.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          ? true
          : undefined;
      },
      30_000,
      () => webhook.logs(),
    );
  } finally {
    await oras.close();
    await cosign.close();
  }
}, 900_000);

afterAll(async () => {
  await webhook?.stop();
  await cluster?.stop();
  await registry?.stop();
});

describe('models verified at admission by the real API server', () => {
  it('admits a Pod whose annotation names a signed model', async () => {
    const res = await cluster.client.create(pod(uniq('signed'), {}, { 'modelgate.dev/models': signed }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  it('refuses a Pod naming an unsigned model: SIGNATURE_MISSING, the field path and the policy', async () => {
    const res = await cluster.client.create(pod(uniq('unsigned'), {}, { 'modelgate.dev/models': unsigned }));
    expect(res.status).toBe(403);
    const msg = refusalMessage(res);
    expect(msg).toContain('SIGNATURE_MISSING');
    expect(msg).toContain("metadata.annotations['modelgate.dev/models']");
    expect(msg).toContain(`policy ${policyName}`);
    expect(msg).toContain(unsigned);
    // The codes on the wire: the API server passes modelgate's StatusCauses on to the client.
    expect(refusalCauses(res)).toEqual([
      {
        reason: 'SIGNATURE_MISSING',
        field: "metadata.annotations['modelgate.dev/models']",
        message: expect.stringContaining(`${unsigned} (modelgate policy ${policyName}): `),
      },
    ]);
    expect(refusalCauses(res)[0]?.message).toContain('. Fix: ');
  });

  it('admits a Pod mounting a signed model as an image volume, refuses an unsigned one', async () => {
    expect((await cluster.client.create(pod(uniq('vol-ok'), imageVolumeSpec(signed)))).status).toBe(201);
    const res = await cluster.client.create(pod(uniq('vol-bad'), imageVolumeSpec(unsigned)));
    expect(res.status).toBe(403);
    expect(refusalMessage(res)).toContain('spec.volumes[0].image.reference');
  });

  it('admits a Deployment with a signed image-volume model; refuses one with an unsigned model', async () => {
    expect((await cluster.client.create(deployment(uniq('dep-ok'), signed))).status).toBe(201);
    const res = await cluster.client.create(deployment(uniq('dep-bad'), unsigned));
    expect(res.status).toBe(403);
    const msg = refusalMessage(res);
    expect(msg).toContain('Deployment');
    expect(msg).toContain('spec.template.spec.volumes[0].image.reference');
    expect(msg).toContain('SIGNATURE_MISSING');
    expect(refusalCauses(res).map((c) => [c.reason, c.field])).toEqual([
      ['SIGNATURE_MISSING', 'spec.template.spec.volumes[0].image.reference'],
    ]);
  });

  it('refuses a CronJob whose job pulls an unsigned model with oci:// in its args', async () => {
    expect((await cluster.client.create(cronJob(uniq('cron-ok'), signed))).status).toBe(201);
    const res = await cluster.client.create(cronJob(uniq('cron-bad'), unsigned));
    expect(res.status).toBe(403);
    expect(refusalMessage(res)).toContain('spec.jobTemplate.spec.template.spec.containers[0].args[1]');
  });

  it('refuses a signed model whose weights are a pickle: FORMAT_DENIED', async () => {
    const res = await cluster.client.create(
      pod(uniq('pickle'), {}, { 'modelgate.dev/models': signedPickle }),
    );
    expect(res.status).toBe(403);
    const msg = refusalMessage(res);
    expect(msg).toContain('FORMAT_DENIED');
    expect(msg).toContain('model.bin');
  });

  it('answers from the cache on a repeated admission of the same model', async () => {
    for (let i = 0; i < 3; i++) {
      expect(
        (await cluster.client.create(pod(uniq('again'), {}, { 'modelgate.dev/models': signed }))).status,
      ).toBe(201);
    }
    expect(webhook.logs()).not.toMatch(/forbidden/i);
  });
});
