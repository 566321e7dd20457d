// Trust material that cannot be had is the operator's problem, and says so: every cause gives
// TRUST_UNAVAILABLE (never SIGNATURE_INVALID with "re-sign the model") and a fix naming what to change.
import { describe, expect, it } from 'vitest';
import type { KubeApi } from '../../../src/kube/api.ts';
import { ClusterObjects } from '../../../src/kube/objects.ts';
import { REASON_FIX } from '../../../src/verdict/reasons.ts';
import { SignatureVerifier, type SignatureVerifierOptions } from '../../../src/verify/signatures.ts';
import { unavailableTrust } from '../../../src/verify/trust.ts';
import { FakeKubeApi } from '../kube/fakes.ts';
import { cosignFixture, evidence, MemoryRepo, policy } from './builders.ts';

const signal = () => AbortSignal.timeout(10_000);
const SECRET = { namespace: 'team-keys', name: 'release-key', key: 'cosign.pub' };
const ROOT = { namespace: 'team-keys', name: 'private-root', key: 'trusted_root.json' };

function signedModel() {
  const repo = new MemoryRepo();
  const fx = cosignFixture(repo);
  return { e: evidence(repo, fx.artifact, [fx.referrer]), pem: fx.pem };
}

const keyFromSecret = () => policy({ authorities: [{ name: 'release', key: { secretRef: SECRET } }] });

async function check(opts: SignatureVerifierOptions, p = keyFromSecret()) {
  const { e } = signedModel();
  return new SignatureVerifier(opts).check(e, p, signal());
}

function cluster(
  api: Pick<KubeApi, 'readSecret' | 'readConfigMap' | 'readServiceAccountPullSecrets'>,
  namespaces: string[] = [],
) {
  const objects = new ClusterObjects({ api, namespaces });
  return { secrets: objects, trustedRoots: objects, readFiles: false };
}

describe('TRUST_UNAVAILABLE: each cause, with the fix that names what the operator changes', () => {
  it('the control: the same signed model and policy pass once the Secret holds the key', async () => {
    const { pem } = signedModel();
    const api = new FakeKubeApi();
    api.putSecret(SECRET.namespace, SECRET.name, { [SECRET.key]: pem });
    const r = await check(cluster(api));
    expect(r.failures).toEqual([]);
  });

  it('a key Secret that does not exist', async () => {
    const r = await check(cluster(new FakeKubeApi()));
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    const f = r.failures[0]!;
    expect(f.message).toContain('secret team-keys/release-key not found');
    expect(f.fix).toContain('create Secret team-keys/release-key');
    expect(f.fix).toContain('kubectl -n team-keys create secret generic release-key --from-file=cosign.pub=');
    expect(f.fix).not.toMatch(/re-sign/);
  });

  it('a key Secret without the key the policy names', async () => {
    const api = new FakeKubeApi();
    api.putSecret(SECRET.namespace, SECRET.name, { 'other.pub': 'x' });
    const r = await check(cluster(api));
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toMatch(/add key cosign\.pub .* to Secret team-keys\/release-key/);
  });

  it('a key Secret in a namespace modelgate is not configured to read (the chart secretAccess)', async () => {
    const r = await check(cluster(new FakeKubeApi(), ['modelgate-system']));
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.message).toContain('does not read Secrets in namespace team-keys');
    expect(r.failures[0]!.fix).toContain('add team-keys to the chart value secretAccess.namespaces');
  });

  it('a key Secret the API server refuses to show modelgate (RBAC 403)', async () => {
    const forbidden = async () => {
      throw Object.assign(new Error('Kubernetes API answered 403: secrets "release-key" is forbidden'), {
        code: 403,
      });
    };
    const api = {
      readSecret: forbidden,
      readConfigMap: forbidden,
      readServiceAccountPullSecrets: async () => undefined,
    };
    const r = await check(cluster(api));
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.message).toContain('may not get secrets in namespace team-keys');
    expect(r.failures[0]!.fix).toMatch(/service account get secrets in namespace team-keys: .*secretAccess/);
  });

  it('a key Secret that holds no PEM public key', async () => {
    const api = new FakeKubeApi();
    api.putSecret(SECRET.namespace, SECRET.name, { [SECRET.key]: 'not a key' });
    const r = await check(cluster(api));
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toMatch(/PEM public key .* secret team-keys\/release-key\/cosign\.pub/);
  });

  it('a trusted-root ConfigMap that does not exist', async () => {
    const { pem } = signedModel();
    const p = policy({
      authorities: [{ name: 'release', key: { pem, trustedRoot: { configMapRef: ROOT } } }],
    });
    const r = await check(cluster(new FakeKubeApi()), p);
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toContain('create ConfigMap team-keys/private-root');
  });

  it('file mode: a secretRef (cluster only) says to write key.pem', async () => {
    const r = await check({ readFiles: true });
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toMatch(/file mode .* key\.pem/);
  });

  it('file mode: a configMapRef (cluster only) says to use trustedRoot.file', async () => {
    const p = policy({
      authorities: [
        {
          name: 'ci',
          keyless: { issuer: 'https://i.example', subject: 's', trustedRoot: { configMapRef: ROOT } },
        },
      ],
    });
    const r = await check({ readFiles: true }, p);
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toMatch(/file mode .* trustedRoot\.file/);
  });

  it('cluster mode: a trustedRoot.file (CLI only) says to use a ConfigMap', async () => {
    const p = policy({
      authorities: [
        {
          name: 'ci',
          keyless: { issuer: 'https://i.example', subject: 's', trustedRoot: { file: '/etc/root.json' } },
        },
      ],
    });
    const r = await check(cluster(new FakeKubeApi()), p);
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toMatch(/ConfigMap .* trustedRoot\.configMapRef/);
  });

  it('one available authority that signed still meets a threshold of 1: no TRUST_UNAVAILABLE then', async () => {
    const { pem } = signedModel();
    const p = policy({
      threshold: 1,
      authorities: [
        { name: 'release', key: { pem } },
        { name: 'backup', key: { secretRef: SECRET } },
      ],
    });
    const r = await check(cluster(new FakeKubeApi()), p);
    expect(r.failures).toEqual([]);
  });

  it('the policy status text names each unavailable authority and its fix', async () => {
    const v = new SignatureVerifier(cluster(new FakeKubeApi()));
    const t = await v.trust.forPolicy(keyFromSecret(), signal());
    expect(unavailableTrust(t)).toMatch(
      /^authority release: public key secret:team-keys\/release-key\/cosign\.pub cannot be read: .*not found\. Fix: create Secret/,
    );
  });

  it('has a general fix that names the chart value and file-mode fields', () => {
    expect(REASON_FIX.TRUST_UNAVAILABLE).toMatch(/secretAccess/);
    expect(REASON_FIX.TRUST_UNAVAILABLE).toMatch(/key\.pem/);
  });
});
