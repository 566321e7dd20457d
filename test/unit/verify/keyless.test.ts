// Keyless signatures: a private Sigstore built from @sigstore/mock (trusted root from a ConfigMap
// source), and a real public-good bundle verified against the embedded public-good root.
import { describe, expect, it } from 'vitest';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import {
  artifact,
  attach,
  BUNDLE_V03,
  cosignStatement,
  evidence,
  fixture,
  json,
  MemoryRepo,
  policy,
  TITLE,
} from './builders.ts';
import { testSigstore } from './keyless.ts';

const signal = new AbortController().signal;
const ID = {
  issuer: 'https://token.actions.example',
  subject: 'https://ci.example/acme/models/train.yml@refs/heads/main',
};
const ROOT = {
  configMapRef: { namespace: 'modelgate-system', name: 'private-root', key: 'trusted_root.json' },
};

describe('keyless signatures from a private Sigstore (mock CA, CT log, transparency log)', () => {
  it.each([
    ['exact subject', { subject: ID.subject }],
    ['anchored subject regexp', { subjectRegExp: 'https://ci\\.example/acme/.+@refs/heads/main' }],
  ])('admit a cosign-style DSSE bundle (%s)', async (_name, subject) => {
    const s = await testSigstore();
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.safetensors', 'w')]);
    const ref = attach(repo, a, [
      repo.blob(json(await s.dsse(ID, json(cosignStatement(a.digest)))), BUNDLE_V03),
    ]);
    let reads = 0;
    const v = new SignatureVerifier({
      trustedRoots: {
        trustedRoot: async (r) => {
          reads++;
          expect(r).toEqual(ROOT.configMapRef);
          return s.trustedRoot;
        },
      },
    });
    const p = policy({
      authorities: [{ name: 'ci', keyless: { issuer: ID.issuer, ...subject, trustedRoot: ROOT } }],
    });
    const r = await v.check(evidence(repo, a, [ref]), p, signal);
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      matched: [{ authority: 'ci', identity: `issuer ${ID.issuer}, subject ${ID.subject}` }],
    });
    // The trusted root is read once per policy generation, not per admission.
    await v.check(evidence(repo, a, [ref]), p, signal);
    expect(reads).toBe(1);
  });

  it('admit a keyless message signature beside its file, verified over the layer digest', async () => {
    const s = await testSigstore();
    const repo = new MemoryRepo();
    const weights = repo.phantom('model.gguf', 'gguf weights');
    const bundle = await s.message(ID, Buffer.from('gguf weights'));
    const a = artifact(repo, [weights, repo.file('model.gguf.sigstore.json', json(bundle), BUNDLE_V03)]);
    const v = new SignatureVerifier({ trustedRoots: { trustedRoot: async () => s.trustedRoot } });
    const p = policy({
      authorities: [{ name: 'ci', keyless: { issuer: ID.issuer, subject: ID.subject, trustedRoot: ROOT } }],
    });
    const r = await v.check(evidence(repo, a), p, signal);
    expect(r.failures).toEqual([]);
    expect(repo.reads).not.toContain(weights.digest);
  });
});

describe('a real public-good bundle (sigstore-python test asset, GitHub Actions identity)', () => {
  it('verifies against the embedded public-good root over a layer digest, the file never read', async () => {
    const repo = new MemoryRepo();
    // The wheel itself is not needed: only its digest, as a registry lists it.
    const wheel = {
      mediaType: 'application/octet-stream',
      digest: 'sha256:c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201',
      size: 12345,
      annotations: { [TITLE]: 'rfc8785-0.1.2-py3-none-any.whl' },
    };
    const bundle = repo.file(
      'rfc8785-0.1.2-py3-none-any.whl.sigstore.json',
      fixture('public-good/rfc8785-0.1.2-py3-none-any.whl.sigstore.json'),
      BUNDLE_V03,
    );
    const a = artifact(repo, [wheel, bundle]);
    const p = policy({
      authorities: [
        {
          name: 'gha',
          keyless: {
            issuer: 'https://token.actions.githubusercontent.com',
            subjectRegExp:
              'https://github\\.com/trailofbits/rfc8785\\.py/\\.github/workflows/release\\.yml@refs/tags/v.*',
          },
        },
      ],
    });
    const r = await new SignatureVerifier().check(evidence(repo, a), p, signal);
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({
      matched: [
        {
          authority: 'gha',
          identity:
            'issuer https://token.actions.githubusercontent.com, subject https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2',
          signatures: [
            'layer rfc8785-0.1.2-py3-none-any.whl.sigstore.json (message signature over rfc8785-0.1.2-py3-none-any.whl)',
          ],
        },
      ],
    });
    expect(repo.reads).toEqual([bundle.digest]);
  });
});
