import { describe, expect, it } from 'vitest';
import { matchAuthorities, SignatureVerifier } from '../../../src/verify/signatures.ts';
import {
  artifact,
  attach,
  BUNDLE_V03,
  cosignStatement,
  dsseBundle,
  ecKey,
  evidence,
  json,
  keyAuthority,
  MemoryRepo,
  policy,
} from './builders.ts';
import { testSigstore } from './keyless.ts';

const signal = new AbortController().signal;

describe('threshold k-of-n over distinct authorities', () => {
  it('matches authorities to signers one to one (augmenting paths)', () => {
    expect(matchAuthorities([['x'], ['x', 'y']])).toEqual(
      new Map([
        [0, 'x'],
        [1, 'y'],
      ]),
    );
    expect(matchAuthorities([['x'], ['x']]).size).toBe(1);
    expect(matchAuthorities([[], ['y'], ['y', 'z'], ['z']]).size).toBe(2);
  });

  it('admits 2-of-3 with two different keys, and reports who signed by which signature', async () => {
    const [k1, k2, k3] = [ecKey(), ecKey('P-384'), ecKey()];
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
    const refs = [k1, k2].map((k) =>
      attach(repo, a, [repo.blob(json(dsseBundle(k, cosignStatement(a.digest))), BUNDLE_V03)]),
    );
    const p = policy({
      threshold: 2,
      authorities: [keyAuthority('a', k1.pem), keyAuthority('b', k2.pem), keyAuthority('c', k3.pem)],
    });
    const r = await new SignatureVerifier().check(evidence(repo, a, refs), p, signal);
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      satisfied: true,
      matched: [
        { authority: 'a', signatures: [expect.stringContaining(refs[0]!.digest)] },
        { authority: 'b', signatures: [expect.stringContaining(refs[1]!.digest)] },
      ],
      authorities: [
        { name: 'a', counted: true },
        { name: 'b', counted: true },
        { name: 'c', counted: false },
      ],
    });
  });

  it('admits keyless + key (2-of-2) from different signatures', async () => {
    const s = await testSigstore();
    const key = ecKey();
    const id = { issuer: 'https://issuer.example', subject: 'ci@example.com' };
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
    const refs = [
      attach(repo, a, [repo.blob(json(await s.dsse(id, json(cosignStatement(a.digest)))), BUNDLE_V03)]),
      attach(repo, a, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]),
    ];
    const p = policy({
      threshold: 2,
      authorities: [
        {
          name: 'ci',
          keyless: {
            issuer: id.issuer,
            subjectRegExp: '.*@example\\.com',
            trustedRoot: { configMapRef: { namespace: 'n', name: 'r', key: 'k' } },
          },
        },
        keyAuthority('release', key.pem),
      ],
    });
    const v = new SignatureVerifier({ trustedRoots: { trustedRoot: async () => s.trustedRoot } });
    const r = await v.check(evidence(repo, a, refs), p, signal);
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      matched: [
        { authority: 'ci', identity: 'issuer https://issuer.example, subject ci@example.com' },
        { authority: 'release' },
      ],
    });
  });
});
