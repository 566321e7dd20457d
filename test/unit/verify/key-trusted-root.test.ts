// The two sigstore-conformance gaps: a key authority whose bundles carry a log entry in a private Rekor
// names that Rekor's trusted root, and a trusted root with an undated key or CA is refused when loaded.
import { beforeAll, describe, expect, it } from 'vitest';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import { parseTrustedRoot, TrustCache } from '../../../src/verify/trust.ts';
import { TrustError } from '../../../src/verify/trust-context.ts';
import {
  artifact,
  attach,
  BUNDLE_V03,
  cosignStatement,
  ecKey,
  evidence,
  json,
  keyAuthority,
  MemoryRepo,
  policy,
} from './builders.ts';
import { type TestSigstore, testSigstore } from './keyless.ts';

const signal = new AbortController().signal;
const ROOT_REF = {
  configMapRef: { namespace: 'modelgate-system', name: 'private-rekor', key: 'trusted_root.json' },
};
const key = ecKey();

let rekor: TestSigstore;
let other: TestSigstore;
beforeAll(async () => {
  rekor = await testSigstore('private');
  other = await testSigstore('other');
});

/** An artifact with a key-signed bundle, logged in `log`, attached as a referrer. */
async function keySigned(log: TestSigstore) {
  const repo = new MemoryRepo();
  const a = artifact(repo, [repo.phantom('model.safetensors', 'weights')]);
  const bundle = await log.keyDsse(key, json(cosignStatement(a.digest)));
  const ref = attach(repo, a, [repo.blob(json(bundle), BUNDLE_V03)]);
  return evidence(repo, a, [ref]);
}

const verifier = (root: () => string) =>
  new SignatureVerifier({ trustedRoots: { trustedRoot: async () => root() } });
const requiringLog = (extra: Record<string, unknown> = {}) =>
  policy({
    authorities: [keyAuthority('release', key.pem, { transparencyLog: { required: true }, ...extra })],
  });
const withPrivateRoot = () => requiringLog({ key: { pem: key.pem, trustedRoot: ROOT_REF } });

describe('a key authority with its own trusted root (a private Rekor)', () => {
  it('admits a key-signed bundle whose log entry is in that Rekor', async () => {
    const r = await verifier(() => rekor.trustedRoot).check(
      await keySigned(rekor),
      withPrivateRoot(),
      signal,
    );
    expect(r.failures).toEqual([]);
  });

  it('refuses the same bundle under the public-good logs (the default): SIGNATURE_INVALID', async () => {
    const r = await verifier(() => rekor.trustedRoot).check(await keySigned(rekor), requiringLog(), signal);
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
  });

  it('refuses an entry from another log than the one its root names: SIGNATURE_INVALID', async () => {
    const r = await verifier(() => rekor.trustedRoot).check(
      await keySigned(other),
      withPrivateRoot(),
      signal,
    );
    expect(r.failures.map((f) => f.code)).toEqual(['SIGNATURE_INVALID']);
  });

  it('needs no certificate authority in that root (the key is the identity)', async () => {
    const root = JSON.parse(rekor.trustedRoot) as Record<string, unknown>;
    const logsOnly = JSON.stringify({ ...root, certificateAuthorities: [], ctlogs: [] });
    const r = await verifier(() => logsOnly).check(await keySigned(rekor), withPrivateRoot(), signal);
    expect(r.failures).toEqual([]);
  });

  it('is linted like a keyless trustedRoot: exactly one of configMapRef or file', () => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p' },
      spec: {
        models: ['h.io/**'],
        signatures: { authorities: [{ name: 'k', key: { pem: key.pem, trustedRoot: {} } }] },
      },
    });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.errors).toContainEqual({
      path: 'spec.signatures.authorities[0].key.trustedRoot',
      message: 'set exactly one of configMapRef or file',
    });
  });
});

describe('a trusted root with an undated key or CA', () => {
  type Root = {
    tlogs: { publicKey: { validFor?: unknown } }[];
    ctlogs: { publicKey: { validFor?: unknown } }[];
    certificateAuthorities: { validFor?: unknown }[];
  };
  const without = (edit: (root: Root) => void) => {
    const root = JSON.parse(rekor.trustedRoot) as Root;
    edit(root);
    return JSON.stringify(root);
  };
  const cases: [string, (root: Root) => void, RegExp][] = [
    ['transparency log key', (r) => delete r.tlogs[0]!.publicKey.validFor, /tlogs\[0\] \(https:\/\/rekor/],
    ['CT log key', (r) => (r.ctlogs[0]!.publicKey.validFor = {}), /ctlogs\[0\]/],
    [
      'certificate authority',
      (r) => delete r.certificateAuthorities[0]!.validFor,
      /certificateAuthorities\[0\]/,
    ],
  ];

  it.each(cases)('is refused when loaded: %s without validFor.start', (_what, edit, names) => {
    const text = without(edit);
    expect(() => parseTrustedRoot(text, 'configmap:a/b/c')).toThrow(TrustError);
    expect(() => parseTrustedRoot(text, 'configmap:a/b/c')).toThrow(names);
  });

  it('makes the authorities that name it unavailable: TRUST_UNAVAILABLE, naming the ConfigMap to fix', async () => {
    const undated = without((r) => delete r.tlogs[0]!.publicKey.validFor);
    const trust = await new TrustCache({ trustedRoots: { trustedRoot: async () => undated } }).forPolicy(
      withPrivateRoot(),
      signal,
    );
    expect(trust.authorities[0]).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/gives no validFor\.start for tlogs\[0\]/),
    });
    const r = await verifier(() => undated).check(await keySigned(rekor), withPrivateRoot(), signal);
    expect(r.failures.map((f) => f.code)).toEqual(['TRUST_UNAVAILABLE']);
    expect(r.failures[0]!.fix).toMatch(/valid Sigstore trusted_root\.json under key .* of ConfigMap /);
  });

  it('accepts a root whose keys and CAs are all dated', () => {
    expect(() => parseTrustedRoot(rekor.trustedRoot, 'mock')).not.toThrow();
  });
});
