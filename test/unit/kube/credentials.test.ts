import { describe, expect, it } from 'vitest';
import type { AdmittedObject, ModelVerifier } from '../../../src/engine/engine.ts';
import {
  AdmissionContext,
  ContextCredentials,
  PullSecretVerifier,
  podPullContexts,
} from '../../../src/kube/credentials.ts';
import { ClusterObjects } from '../../../src/kube/objects.ts';
import { StaticCredentialStore } from '../../../src/oci/credentials.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import type { ModelReference } from '../../../src/reference/reference.ts';
import type { CheckOutcome } from '../../../src/verdict/outcome.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

const podSpec = {
  serviceAccountName: 'runner',
  imagePullSecrets: [{ name: 'pod-pull' }, { name: 'pod-pull' }, {}],
  containers: [],
};

function admitted(kind: string, group: string, object: unknown): AdmittedObject {
  return { kind: { group, version: 'v1', kind }, namespace: 'team-a', operation: 'CREATE', object };
}

describe('podPullContexts', () => {
  it('reads pull secrets and the service account of a Pod, a Deployment and a CronJob', () => {
    const want = [{ namespace: 'team-a', imagePullSecrets: ['pod-pull'], serviceAccountName: 'runner' }];
    expect(podPullContexts(admitted('Pod', '', { spec: podSpec }))).toEqual(want);
    expect(
      podPullContexts(admitted('Deployment', 'apps', { spec: { template: { spec: podSpec } } })),
    ).toEqual(want);
    expect(
      podPullContexts(
        admitted('CronJob', 'batch', { spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } }),
      ),
    ).toEqual(want);
  });

  it("defaults to the namespace's default service account, and gives nothing for odd shapes", () => {
    expect(podPullContexts(admitted('Pod', '', { spec: {} }))[0]).toMatchObject({
      imagePullSecrets: [],
      serviceAccountName: 'default',
    });
    expect(
      podPullContexts(admitted('Pod', '', { spec: { imagePullSecrets: 'x' } }))[0]?.imagePullSecrets,
    ).toEqual([]);
    expect(
      podPullContexts({ ...admitted('Pod', '', { spec: {} }), namespace: undefined } as AdmittedObject),
    ).toEqual([]);
    expect(podPullContexts(admitted('ConfigMap', '', {}))).toEqual([]);
  });
});

const basic = (user: string) => ({ auths: { 'registry.example.com': { username: user, password: 'p' } } });
const policy = (pullSecrets?: { namespace: string; name: string }[]) =>
  ({
    name: 'p',
    uid: 'u',
    generation: 1,
    spec: { models: ['x'], ...(pullSecrets ? { pullSecrets } : {}) },
  }) as unknown as CompiledPolicy;
const ref = { registry: 'registry.example.com', repository: 'models/m' } as ModelReference;

/** A verifier that reports the credential the registry client would use, read in its async context. */
function probe(creds: ContextCredentials, delayMs = 0): ModelVerifier {
  return {
    async verify(): Promise<CheckOutcome> {
      await new Promise((r) => setTimeout(r, delayMs));
      const c = creds.get('registry.example.com');
      return { failures: [], report: { user: c?.kind === 'basic' ? c.username : null } };
    },
  };
}

function setup(podPullSecrets: boolean, fallbackUser?: string) {
  const api = new FakeKubeApi();
  api.putSecret('modelgate-system', 'policy-pull', { '.dockerconfigjson': JSON.stringify(basic('policy')) });
  api.putSecret('team-a', 'pod-pull', { '.dockerconfigjson': JSON.stringify(basic('pod')) });
  api.putSecret('team-a', 'sa-pull', { '.dockerconfigjson': JSON.stringify(basic('serviceaccount')) });
  api.serviceAccounts.set('team-a/runner', ['sa-pull']);
  const objects = new ClusterObjects({ api, namespaces: [] });
  const credentials = new ContextCredentials(
    fallbackUser
      ? new StaticCredentialStore([
          ['registry.example.com', { kind: 'basic', username: fallbackUser, password: 'p' }],
        ])
      : undefined,
  );
  const admission = new AdmissionContext();
  return { api, objects, credentials, admission, podPullSecrets };
}

async function userFor(s: ReturnType<typeof setup>, p: CompiledPolicy, req: AdmittedObject, delayMs = 0) {
  const v = new PullSecretVerifier({ inner: probe(s.credentials, delayMs), ...s, logger: silentLogger });
  const out = await s.admission.run(req, () => v.verify(ref, p, AbortSignal.timeout(5_000)));
  return (out.report as { user: string | null }).user;
}

describe('PullSecretVerifier', () => {
  const pod = admitted('Pod', '', { spec: podSpec });

  it("uses the policy's pull secrets first, then the pod's, then its service account's, then --registry-config", async () => {
    const on = setup(true, 'fallback');
    expect(await userFor(on, policy([{ namespace: 'modelgate-system', name: 'policy-pull' }]), pod)).toBe(
      'policy',
    );
    expect(await userFor(on, policy(), pod)).toBe('pod');
    expect(await userFor(on, policy(), admitted('Pod', '', { spec: { serviceAccountName: 'runner' } }))).toBe(
      'serviceaccount',
    );
    expect(await userFor(on, policy(), admitted('Pod', '', { spec: {} }))).toBe('fallback');
  });

  it("ignores the pod's pull secrets unless enabled, and reads no Secret then", async () => {
    const off = setup(false);
    expect(await userFor(off, policy(), pod)).toBeNull();
    expect(off.api.count('readSecret')).toBe(0);
    expect(off.api.count('readServiceAccountPullSecrets')).toBe(0);
  });

  it('skips a missing or unreadable pull secret (the registry then refuses, and so does modelgate)', async () => {
    const s = setup(true);
    s.api.failures.set('readSecret', 1);
    expect(await userFor(s, policy([{ namespace: 'team-a', name: 'absent' }]), pod)).toBe('pod');
  });

  it('keeps the credentials of concurrent verifications apart', async () => {
    const s = setup(true);
    const other = admitted('Pod', '', { spec: { serviceAccountName: 'runner' } });
    const [a, b] = await Promise.all([userFor(s, policy(), pod, 20), userFor(s, policy(), other, 5)]);
    expect([a, b]).toEqual(['pod', 'serviceaccount']);
  });
});

describe('PullSecretVerifier and the decision cache', () => {
  it('passes cache lookups through, reading no Secret', () => {
    const s = setup(true);
    const hit: CheckOutcome = { failures: [] };
    const inner: ModelVerifier & { cached(): CheckOutcome } = {
      verify: async () => hit,
      cached: () => hit,
    };
    const v = new PullSecretVerifier({ inner, ...s, logger: silentLogger });
    expect(v.cached(ref, policy())).toBe(hit);
    expect(s.api.count('readSecret')).toBe(0);
    const bare = new PullSecretVerifier({ inner: { verify: async () => hit }, ...s, logger: silentLogger });
    expect(bare.cached(ref, policy())).toBeUndefined();
  });
});

describe('ContextCredentials.describe', () => {
  it('names the source whose credential is used, then the others with why; never their content', () => {
    const fallback = new StaticCredentialStore(
      [['registry.example.com', { kind: 'basic', username: 'u', password: 'secret-pw' }]],
      '--registry-config',
    );
    const creds = new ContextCredentials(fallback);
    const elsewhere = new StaticCredentialStore(
      [['other.example', { kind: 'basic', username: 'u', password: 'p' }]],
      'pull secret team-a/elsewhere',
    );
    const d = creds.run([elsewhere], () => creds.describe('registry.example.com'), [
      'pull secret team-a/gone was not found',
    ]);
    expect(d).toEqual({
      used: '--registry-config',
      others: [
        'pull secret team-a/elsewhere has no entry for registry.example.com',
        'pull secret team-a/gone was not found',
      ],
    });
    expect(JSON.stringify(d)).not.toContain('secret-pw');
    expect(new ContextCredentials().describe('registry.example.com')).toEqual({ others: [] });
  });
});
