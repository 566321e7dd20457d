import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrustedRoot, publicGoodTrustedRoot, TrustCache } from '../../../src/verify/trust.ts';
import { TrustError } from '../../../src/verify/trust-context.ts';
import { ecKey, keyAuthority, policy } from './builders.ts';
import { testSigstore } from './keyless.ts';

const signal = new AbortController().signal;
const SECRET = { namespace: 'modelgate-system', name: 'release-key', key: 'cosign.pub' };

describe('trusted roots', () => {
  it('embeds the public-good root (Fulcio, Rekor, CT logs, TSA) without any network', () => {
    const root = publicGoodTrustedRoot();
    expect(root.origin).toBe('public-good');
    expect(root.material.certificateAuthorities.length).toBeGreaterThan(0);
    expect(root.material.tlogs.length).toBeGreaterThan(0);
    expect(root.material.ctlogs.length).toBeGreaterThan(0);
    expect(publicGoodTrustedRoot()).toBe(root);
  });

  it('refuses what is not a usable trusted root, naming where it came from', () => {
    expect(() => parseTrustedRoot('nope', 'file:/x')).toThrow(
      /file:\/x is not a Sigstore trusted_root\.json/,
    );
    expect(() => parseTrustedRoot('{"mediaType":"x"}', 'configmap:a/b/c')).toThrow(/lists no tlogs/);
  });

  it('reads trustedRoot.file only when allowed (the CLI), and fails closed otherwise', async () => {
    const s = await testSigstore();
    const dir = mkdtempSync(join(tmpdir(), 'mg-root-'));
    const file = join(dir, 'trusted_root.json');
    writeFileSync(file, s.trustedRoot);
    const p = policy({
      authorities: [{ name: 'ci', keyless: { issuer: 'i', subject: 's', trustedRoot: { file } } }],
    });
    const cli = await new TrustCache({ readFiles: true }).forPolicy(p, signal);
    expect(cli.authorities[0]).toMatchObject({ kind: 'keyless', root: `file:${file}` });
    const server = await new TrustCache().forPolicy(p, signal);
    expect(server.authorities[0]).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/CLI only/),
    });
  });
});

describe('TrustCache', () => {
  it('compiles a policy content once, shared by concurrent requests and by other uids and generations', async () => {
    const key = ecKey();
    let reads = 0;
    const cache = new TrustCache({
      secrets: {
        secret: async () => {
          reads++;
          return key.pem;
        },
      },
    });
    const spec = { authorities: [{ name: 'k', key: { secretRef: SECRET } }] };
    const g1 = policy(spec, { uid: 'u1', generation: 1 });
    const [a, b] = await Promise.all([cache.forPolicy(g1, signal), cache.forPolicy(g1, signal)]);
    expect(a).toBe(b);
    expect(await cache.forPolicy(g1, signal)).toBe(a);
    expect(cache.current(g1)).toBe(a);
    expect(reads).toBe(1);
    expect(a.authorities[0]).toMatchObject({ kind: 'key', algorithm: 'ecdsa-p256' });
    // Another uid or generation with the same content: the same trust (it depends on nothing else).
    expect(await cache.forPolicy(policy(spec, { uid: 'u2', generation: 7 }), signal)).toBe(a);
    expect(reads).toBe(1);
    expect(cache.size).toBe(1);
    cache.invalidate(g1.contentKey);
    expect(cache.size).toBe(0);
    expect(cache.current(g1)).toBeUndefined();
  });

  it('keys compiled trust by the spec and the material read: the same uid and generation with another spec or key is another key', async () => {
    let pem = ecKey().pem;
    const cache = new TrustCache({ secrets: { secret: async () => pem } });
    const spec = { authorities: [{ name: 'k', key: { secretRef: SECRET } }] };
    const before = await cache.forPolicy(policy(spec, { uid: 'u', generation: 1 }), signal);
    // The author kept uid and generation but edited the spec (threshold 1 -> another authority name).
    const edited = policy(
      { authorities: [{ name: 'other', key: { secretRef: SECRET } }] },
      { uid: 'u', generation: 1 },
    );
    const afterEdit = await cache.forPolicy(edited, signal);
    expect(afterEdit.key).not.toBe(before.key);
    // The Secret rotated: once the change is noticed (invalidate), the same policy gets a new key.
    const same = policy(spec, { uid: 'u', generation: 1 });
    pem = ecKey().pem;
    cache.invalidate(same.contentKey);
    const rotated = await cache.forPolicy(same, signal);
    expect(rotated.key).not.toBe(before.key);
    expect(rotated.authorities[0]).toMatchObject({ kind: 'key' });
    // Rotated back: the same material gives the same key again, in a new object.
    cache.invalidate();
    pem = (before.authorities[0] as { key: { export(o: object): string | Buffer } }).key
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const back = await cache.forPolicy(same, signal);
    expect(back.key).toBe(before.key);
    expect(back).not.toBe(before);
  });

  it('retries an authority whose Secret was unavailable after the retry delay', async () => {
    const key = ecKey();
    let now = 0;
    let present = false;
    const cache = new TrustCache({
      now: () => now,
      retryUnavailableMs: 1000,
      secrets: {
        secret: async () => {
          if (!present) throw new Error('secrets "release-key" not found');
          return key.pem;
        },
      },
    });
    const p = policy({ authorities: [{ name: 'k', key: { secretRef: SECRET } }] });
    const first = await cache.forPolicy(p, signal);
    expect(first.authorities[0]).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/not found/),
    });
    present = true;
    expect(await cache.forPolicy(p, signal)).toBe(first);
    now = 1001;
    expect((await cache.forPolicy(p, signal)).authorities[0]).toMatchObject({ kind: 'key' });
  });

  it('keeps at most maxPolicies compiled contents', async () => {
    const cache = new TrustCache({ maxPolicies: 2 });
    const pem = ecKey().pem;
    for (const name of ['a', 'b', 'c'])
      await cache.forPolicy(policy({ authorities: [keyAuthority(name, pem)] }), signal);
    expect(cache.size).toBe(2);
  });

  it('refuses keys it cannot use (fail closed, with the reason)', async () => {
    const { publicKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('rsa', { modulusLength: 1024 }),
    );
    const weak = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    // A Secret can hold anything (a policy's inline PEM is validated with the policy).
    const t = await new TrustCache({ secrets: { secret: async () => 'not a key' } }).forPolicy(
      policy({ authorities: [keyAuthority('weak', weak), { name: 'junk', key: { secretRef: SECRET } }] }),
      signal,
    );
    expect(t.authorities.map((a) => a.kind)).toEqual(['unavailable', 'unavailable']);
    expect(t.authorities[0]).toMatchObject({ reason: expect.stringMatching(/RSA key of 1024 bits/) });
    expect(new TrustError('x')).toBeInstanceOf(Error);
  });
});
