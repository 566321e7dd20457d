import { describe, expect, it, vi } from 'vitest';
import { ClusterObjects, TrustRefresher, trustReferences } from '../../../src/kube/objects.ts';
import type { CompiledPolicy } from '../../../src/policy/compile.ts';
import { TrustCache } from '../../../src/verify/trust.ts';
import { ecKey, policy } from '../verify/builders.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

const signal = () => AbortSignal.timeout(5_000);
const ref = { namespace: 'modelgate-system', name: 'release-key', key: 'cosign.pub' };
const PEM = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n';
const dockerConfig = (host: string) =>
  JSON.stringify({ auths: { [host]: { auth: Buffer.from('robot:s3cret').toString('base64') } } });

describe('ClusterObjects', () => {
  it('reads a Secret key once per TTL; concurrent reads share one API call', async () => {
    const api = new FakeKubeApi();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': PEM });
    let t = 0;
    const objects = new ClusterObjects({ api, namespaces: [], ttlMs: 1_000, now: () => t });
    const [a, b] = await Promise.all([objects.secret(ref, signal()), objects.secret(ref, signal())]);
    expect(a).toBe(PEM);
    expect(b).toBe(PEM);
    expect(api.count('readSecret')).toBe(1);
    t = 500;
    await objects.secret(ref, signal());
    expect(api.count('readSecret')).toBe(1);
    t = 1_600;
    await objects.secret(ref, signal());
    expect(api.count('readSecret')).toBe(2);
  });

  it('says what is missing: the Secret, or the key in it', async () => {
    const api = new FakeKubeApi();
    const objects = new ClusterObjects({ api, namespaces: [] });
    await expect(objects.secret(ref, signal())).rejects.toThrow(
      'secret modelgate-system/release-key not found',
    );
    api.putSecret('modelgate-system', 'other', { x: 'y' });
    await expect(objects.secret({ ...ref, name: 'other' }, signal())).rejects.toThrow(
      'has no key "cosign.pub"',
    );
  });

  it('refuses to read outside the namespaces it was given (the RBAC the chart grants)', async () => {
    const api = new FakeKubeApi();
    const objects = new ClusterObjects({ api, namespaces: ['modelgate-system'] });
    await expect(objects.secret({ ...ref, namespace: 'team-a' }, signal())).rejects.toThrow(
      'does not read Secrets in namespace team-a',
    );
    expect(api.count('readSecret')).toBe(0);
    expect(objects.allows('modelgate-system')).toBe(true);
  });

  it('reads trusted roots from ConfigMap data or binaryData', async () => {
    const api = new FakeKubeApi();
    api.configMaps.set('sigstore/root', {
      resourceVersion: '1',
      data: { 'trusted_root.json': '{"a":1}' },
      binaryData: { 'bin.json': Buffer.from('{"b":2}') },
    });
    const objects = new ClusterObjects({ api, namespaces: [] });
    const r = { namespace: 'sigstore', name: 'root', key: 'trusted_root.json' };
    expect(await objects.trustedRoot(r, signal())).toBe('{"a":1}');
    expect(await objects.trustedRoot({ ...r, key: 'bin.json' }, signal())).toBe('{"b":2}');
  });

  it('turns a dockerconfigjson pull secret into credentials, and names a broken one without its contents', async () => {
    const api = new FakeKubeApi();
    api.putSecret('team-a', 'pull', { '.dockerconfigjson': dockerConfig('registry.example.com') });
    api.putSecret('team-a', 'legacy', {
      '.dockercfg': JSON.stringify({ 'old.example.com': { username: 'u', password: 'p' } }),
    });
    api.putSecret('team-a', 'broken', { '.dockerconfigjson': '{"auths": {"h": {"auth": "bm9jb2xvbg=="}}}' });
    const objects = new ClusterObjects({ api, namespaces: [] });
    const store = await objects.pullSecret('team-a', 'pull', signal());
    expect(store?.get('registry.example.com')).toEqual({
      kind: 'basic',
      username: 'robot',
      password: 's3cret',
    });
    expect((await objects.pullSecret('team-a', 'legacy', signal()))?.get('old.example.com')).toMatchObject({
      username: 'u',
    });
    expect(await objects.pullSecret('team-a', 'absent', signal())).toBeUndefined();
    const err = await objects.pullSecret('team-a', 'broken', signal()).catch((e: Error) => e);
    expect((err as Error).message).toContain('team-a/broken is not a docker config');
    expect((err as Error).message).not.toContain('bm9jb2xvbg');
  });

  it('reports a changed object when a read finds a new resourceVersion (or a deletion)', async () => {
    const api = new FakeKubeApi();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': PEM });
    const onChange = vi.fn();
    const objects = new ClusterObjects({ api, namespaces: [], onChange });
    await objects.secret(ref, signal());
    await objects.refresh('secret', 'modelgate-system', 'release-key');
    expect(onChange).not.toHaveBeenCalled();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': `${PEM}\n` });
    await objects.refresh('secret', 'modelgate-system', 'release-key');
    expect(onChange).toHaveBeenCalledWith('secret', 'modelgate-system', 'release-key');
    api.secrets.clear();
    await objects.refresh('secret', 'modelgate-system', 'release-key');
    expect(onChange).toHaveBeenCalledTimes(2);
  });

  it('does not cache a failed read', async () => {
    const api = new FakeKubeApi();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': PEM });
    api.failures.set('readSecret', 1);
    const objects = new ClusterObjects({ api, namespaces: [] });
    await expect(objects.secret(ref, signal())).rejects.toThrow('failed (test)');
    expect(await objects.secret(ref, signal())).toBe(PEM);
  });
});

function compiled(uid: string, spec: unknown): CompiledPolicy {
  // The content key stands in for a digest of the spec: the refresher drops trust by it, not by uid.
  return { name: uid, uid, generation: 1, contentKey: `key-${uid}`, spec } as unknown as CompiledPolicy;
}

describe('trust references and their refresh', () => {
  const keyed = compiled('p1', {
    signatures: {
      authorities: [
        { name: 'k', key: { secretRef: ref } },
        {
          name: 'kl',
          keyless: {
            issuer: 'i',
            subject: 's',
            trustedRoot: { configMapRef: { namespace: 's', name: 'root', key: 'k' } },
          },
        },
      ],
    },
  });

  it('lists the Secrets and ConfigMaps a policy takes its trust from', () => {
    expect(trustReferences(keyed)).toEqual([
      { kind: 'secret', namespace: 'modelgate-system', name: 'release-key' },
      { kind: 'configmap', namespace: 's', name: 'root' },
    ]);
    expect(trustReferences(compiled('p0', {}))).toEqual([]);
  });

  it('drops the compiled trust of exactly the policies that name a changed object', async () => {
    const api = new FakeKubeApi();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': PEM });
    const invalidate = vi.fn();
    let refresher: TrustRefresher | undefined;
    const objects = new ClusterObjects({
      api,
      namespaces: [],
      onChange: (k, ns, n) => refresher?.changed(k, ns, n),
    });
    refresher = new TrustRefresher({ objects, invalidate, logger: silentLogger });
    refresher.update([
      keyed,
      compiled('p2', {}),
      compiled('p3', { signatures: { authorities: [{ key: { secretRef: ref } }] } }),
    ]);
    await refresher.refreshNow();
    expect(invalidate).not.toHaveBeenCalled();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': 'rotated' });
    await refresher.refreshNow();
    expect(invalidate.mock.calls.map((c) => c[0]).sort()).toEqual(['key-p1', 'key-p3']);
  });

  it('a rotated key Secret, once noticed, gives the policy new trust with a new key (same uid, same generation)', async () => {
    const api = new FakeKubeApi();
    const before = ecKey();
    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': before.pem });
    let refresher: TrustRefresher | undefined;
    const objects = new ClusterObjects({
      api,
      namespaces: [],
      onChange: (k, ns, n) => refresher?.changed(k, ns, n),
    });
    const trust = new TrustCache({ secrets: objects, trustedRoots: objects });
    refresher = new TrustRefresher({
      objects,
      invalidate: (contentKey) => trust.invalidate(contentKey),
      logger: silentLogger,
    });
    const p = policy({ authorities: [{ name: 'k', key: { secretRef: ref } }] }, { uid: 'u', generation: 4 });
    refresher.update([p]);
    const first = await trust.forPolicy(p, new AbortController().signal);
    expect(first.authorities[0]).toMatchObject({ kind: 'key' });

    api.putSecret('modelgate-system', 'release-key', { 'cosign.pub': ecKey().pem });
    await refresher.refreshNow();
    expect(trust.current(p)).toBeUndefined();
    const second = await trust.forPolicy(p, new AbortController().signal);
    expect(second.key).not.toBe(first.key);
    expect((second.authorities[0] as { fingerprint: string }).fingerprint).not.toBe(
      (first.authorities[0] as { fingerprint: string }).fingerprint,
    );
  });
});
