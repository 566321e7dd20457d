// A policy whose trust material cannot be used says so on its status (Ready=False, TRUST_UNAVAILABLE) as
// soon as it is seen, and turns back to Ready=True once the material can be read.
import { describe, expect, it } from 'vitest';
import { assembleCluster } from '../../../src/kube/cluster.ts';
import { PolicyStore, TrustProber } from '../../../src/kube/policies.ts';
import { readyCondition } from '../../../src/kube/status.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import { TrustCache } from '../../../src/verify/trust.ts';
import { ecKey } from '../verify/builders.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

const SECRET = { namespace: 'modelgate-system', name: 'release-key', key: 'cosign.pub' };
const SIGNED = {
  models: ['registry.example.com/models/**'],
  signatures: { authorities: [{ name: 'release', key: { secretRef: SECRET } }] },
};

function obj(name: string, spec: unknown, status?: unknown) {
  return {
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec,
    ...(status !== undefined ? { status } : {}),
  };
}

const readyOf = (status: unknown) =>
  (
    status as { conditions: { type: string; status: string; reason: string; message: string }[] }
  ).conditions.find((c) => c.type === 'Ready')!;

async function until<T>(fn: () => T | undefined, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Ready condition for unavailable trust', () => {
  it('is False with reason TRUST_UNAVAILABLE and the problem in the message', () => {
    const c = readyCondition({ ok: true, trustUnavailable: 'authority release: secret x/y not found' });
    expect(c.status).toBe('False');
    expect(c.reason).toBe('TRUST_UNAVAILABLE');
    expect(c.message).toContain('authority release: secret x/y not found');
    expect(readyCondition({ ok: true }).reason).toBe('Valid');
  });
});

describe('PolicyStore and trust checks', () => {
  it('holds a signed policy status until its trust is checked, then says what the check found', () => {
    const store = new PolicyStore();
    store.upsert(obj('p', SIGNED));
    expect(store.trustPending('p')).toBe(true);
    const key = store.snapshot().policies[0]!.contentKey;
    const down = store.trustChecked('p', key, 'authority release: secret not found');
    expect(readyOf(down)).toMatchObject({ status: 'False', reason: 'TRUST_UNAVAILABLE' });
    expect(store.trustPending('p')).toBe(false);
    // The object now carries that status: an informer update needs no new write.
    expect(store.upsert(obj('p', SIGNED, down))).toBeUndefined();
    const up = store.trustChecked('p', key, undefined);
    expect(readyOf(up)).toMatchObject({ status: 'True', reason: 'Valid' });
  });

  it('ignores a check of content the policy no longer has, and never holds a policy without signatures', () => {
    const store = new PolicyStore();
    store.upsert(obj('p', SIGNED));
    expect(store.trustChecked('p', 'sha256:old', 'x')).toBeUndefined();
    store.upsert(obj('q', { models: ['r.example/**'], signatures: { required: false } }));
    expect(store.trustPending('q')).toBe(false);
  });
});

describe('TrustProber', () => {
  it('checks a policy when seen, then again (afresh) while unavailable, until it is fixed', async () => {
    const store = new PolicyStore();
    store.upsert(obj('p', SIGNED));
    const calls: boolean[] = [];
    let fixed = false;
    const results: (string | undefined)[] = [];
    const prober = new TrustProber({
      probe: async (_p, fresh) => {
        calls.push(fresh);
        return fixed ? undefined : 'authority release: secret not found';
      },
      onResult: (_p: CompiledPolicy, problem) => results.push(problem),
      logger: silentLogger,
      retryMs: 10,
    });
    prober.update(store.snapshot().policies);
    prober.start();
    await until(() => (results.length >= 2 ? true : undefined));
    expect(calls[0]).toBe(false);
    expect(calls[1]).toBe(true);
    fixed = true;
    await until(() => (results.at(-1) === undefined ? true : undefined));
    const n = calls.length;
    await new Promise((r) => setTimeout(r, 50));
    prober.stop();
    // Once available it is not polled again.
    expect(calls.length).toBe(n);
  });
});

describe('the cluster wiring writes TRUST_UNAVAILABLE and recovers', () => {
  it('a policy naming a missing key Secret: Ready=False (no Valid first), then True once the Secret exists', async () => {
    const api = new FakeKubeApi();
    let handlers: Parameters<Parameters<typeof assembleCluster>[3]>[0] | undefined;
    const informer = {
      synced: () => true,
      firstSync: Promise.resolve(),
      list: () => [],
      stop: async () => {},
    };
    const cluster = assembleCluster(
      {
        namespace: 'modelgate-system',
        podName: 'mg-0',
        secretNamespaces: [],
        podPullSecrets: false,
        events: false,
        logger: silentLogger,
        trustRetryMs: 20,
      },
      api,
      silentLogger,
      (h) => {
        handlers = h;
        return { policies: informer, namespaces: informer };
      },
    );
    cluster.watchTrust(new TrustCache({ secrets: cluster.objects, trustedRoots: cluster.objects }));
    handlers!.policies.upsert(obj('p', SIGNED));
    const first = await until(() => api.statuses[0]);
    expect(readyOf(first.status)).toMatchObject({ status: 'False', reason: 'TRUST_UNAVAILABLE' });
    expect(readyOf(first.status).message).toContain('secret modelgate-system/release-key not found');
    expect(readyOf(first.status).message).toContain('create Secret modelgate-system/release-key');

    api.putSecret(SECRET.namespace, SECRET.name, { [SECRET.key]: ecKey().pem });
    const back = await until(() => api.statuses.find((s) => readyOf(s.status).status === 'True'));
    expect(readyOf(back.status).reason).toBe('Valid');
    await cluster.close();
  });
});
