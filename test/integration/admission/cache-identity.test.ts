// Issue 16, findings 1 and 2, against the real `modelgate serve` and CLI: verdicts and trust are keyed by
// what they depend on (the policy's content and the trust material it names), never by the uid and
// generation an author writes. A policy file edited in place (with or without metadata.uid), a key rotated
// out of it, and a second file that copies another policy's uid must never admit what the policies in force
// refuse. The decision cache keeps a verdict 5 minutes by default, so an answer from an old entry would show.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { REASON_CODES } from '../../../src/verdict/reasons.ts';
import { runCli } from '../../support/cli.ts';
import { Oras } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { podReview, type ServeProcess, startServe } from '../../support/serve.ts';
import { pushSignedModels, type SignedModels, signedPolicy } from '../../support/signed-models.ts';

// A pickle as CPython writes `pickle.dumps({}, protocol=2)`: PROTO 2, EMPTY_DICT, BINPUT 0, STOP.
const PICKLE = new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

/** The reason codes an AdmissionReview answer's message carries, in REASON_CODES order. */
function codesOf(message: string | undefined): string[] {
  return REASON_CODES.filter((c) => new RegExp(`\\b${c}\\b`).test(message ?? ''));
}

function otherKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
}

describe('caches and trust keyed by content, not by uid (real serve)', () => {
  let dir: string;
  let registry: TestRegistry;
  let models: SignedModels;
  let pickle: string;
  const served: ServeProcess[] = [];
  let fileCount = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-cache-identity-'));
    registry = await startRegistry('ggcr');
    models = await pushSignedModels({ host: registry.host }, { signed: 1, unsigned: 1 });
    const oras = new Oras({ host: registry.host });
    try {
      const pushed = await oras.push('pickles/p:v1', [{ name: 'model.pkl', content: PICKLE }]);
      pickle = `${registry.host}/pickles/p@${pushed.digest}`;
    } finally {
      await oras.close();
    }
    // The first run on a machine waits for the tool build (test/support/tools.ts).
  }, 900_000);

  afterAll(async () => {
    for (const s of served) await s.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function policyFile(docs: readonly unknown[]): Promise<string> {
    const file = join(dir, `policy-${++fileCount}.yaml`);
    await writeFile(file, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
    return file;
  }

  async function serve(files: readonly string[]): Promise<ServeProcess> {
    const s = await startServe([
      ...files.flatMap((f) => ['--policy-file', f]),
      '--insecure-registry',
      registry.host,
    ]);
    served.push(s);
    return s;
  }

  /** Rewrites a policy file and waits until serve took it in (or refused it): the poll runs every 5 s. */
  async function rewrite(s: ServeProcess, file: string, docs: readonly unknown[], logLine: string) {
    const before = s.output().split(logLine).length;
    // A different size as well as a new mtime: the poll compares both.
    await writeFile(file, `${docs.map((d) => JSON.stringify(d)).join('\n---\n')}\n# rev ${before}\n`);
    const until = Date.now() + 20_000;
    while (s.output().split(logLine).length === before) {
      if (Date.now() > until) throw new Error(`no "${logLine}" in 20 s:\n${s.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const pickles = (metadata: Record<string, unknown>, deny: readonly string[]) => ({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata,
    spec: { models: [`${registry.host}/pickles/**`], signatures: { required: false }, formats: { deny } },
  });

  for (const variant of ['with metadata.uid and generation', 'without metadata.uid'] as const) {
    it(`an edited policy file (${variant}) that now forbids pickle: the reload never admits from the old entry`, async () => {
      const metadata =
        variant === 'without metadata.uid'
          ? { name: 'pickles' }
          : { name: 'pickles', uid: '9d1c6a4e-0000-4000-8000-000000000001', generation: 3 };
      const file = await policyFile([pickles(metadata, [])]);
      const s = await serve([file]);
      const first = await s.validate(podReview('e-1', [pickle]));
      expect(first.answer.allowed).toBe(true);
      // Twice: the second answer comes from the decision cache.
      expect((await s.validate(podReview('e-2', [pickle]))).answer.allowed).toBe(true);

      await rewrite(s, file, [pickles(metadata, ['pickle'])], 'policies reloaded');
      const after = await s.validate(podReview('e-3', [pickle]));
      expect(after.answer.allowed).toBe(false);
      expect(codesOf(after.answer.message)).toEqual(['FORMAT_DENIED']);
      await s.stop();
    }, 90_000);
  }

  it('a key rotated out of a policy file (same uid and generation): a model signed with the old key is refused after the reload', async () => {
    const metadata = { name: 'signed', uid: '9d1c6a4e-0000-4000-8000-000000000002', generation: 1 };
    const withKey = (pem: string) => ({
      ...signedPolicy(registry.host, pem, { name: 'signed', models: [`${registry.host}/models/**`] }),
      metadata,
    });
    const file = await policyFile([withKey(models.publicKey)]);
    const s = await serve([file]);
    expect((await s.validate(podReview('k-1', [models.signed[0]!]))).answer.allowed).toBe(true);
    expect((await s.validate(podReview('k-2', [models.signed[0]!]))).answer.allowed).toBe(true);

    await rewrite(s, file, [withKey(otherKeyPem())], 'policies reloaded');
    const after = await s.validate(podReview('k-3', [models.signed[0]!]));
    expect(after.answer.allowed).toBe(false);
    expect(codesOf(after.answer.message)).toEqual(['SIGNATURE_INVALID']);
    await s.stop();
  }, 90_000);

  it("a second file that copies another policy's uid is refused with a clear error, and never takes over its trust or verdict", async () => {
    const strictUid = '9d1c6a4e-0000-4000-8000-000000000003';
    const strict = {
      ...signedPolicy(registry.host, models.publicKey, {
        name: 'strict',
        models: [`${registry.host}/models/**`],
      }),
      metadata: { name: 'strict', uid: strictUid, generation: 1 },
    };
    // The lax one trusts its own key and governs the same models.
    const lax = (uid: string) => ({
      ...signedPolicy(registry.host, otherKeyPem(), { name: 'lax', models: [`${registry.host}/models/**`] }),
      metadata: { name: 'lax', uid, generation: 1 },
    });
    const strictFile = await policyFile([strict]);
    const laxFile = await policyFile([lax('9d1c6a4e-0000-4000-8000-00000000000a')]);
    const s = await serve([strictFile]);
    const unsigned = await s.validate(podReview('d-1', [models.unsigned[0]!]));
    expect(codesOf(unsigned.answer.message)).toEqual(['SIGNATURE_MISSING']);
    await s.stop();

    // Two files, distinct uids: each policy is judged with its own trust; the lax key does not sign.
    const both = await serve([strictFile, laxFile]);
    const signed = await both.validate(podReview('d-2', [models.signed[0]!]));
    expect(signed.answer.allowed).toBe(false);
    expect(codesOf(signed.answer.message)).toEqual(['SIGNATURE_INVALID']);

    // The lax file now copies the strict policy's uid: refused, the policies in force stay as they were.
    await rewrite(both, laxFile, [lax(strictUid)], 'policy files invalid');
    expect(both.output()).toMatch(/metadata\.uid: policy strict has the same uid/);
    const still = await both.validate(podReview('d-3', [models.unsigned[0]!]));
    expect(codesOf(still.answer.message)).toEqual(['SIGNATURE_MISSING']);
    await both.stop();

    // The CLI refuses the pair outright (a usage error), also for the computed `local:` uid of a policy
    // file without one, which anyone who can read that file can work out.
    const bare = { ...strict, metadata: { name: 'strict' } };
    const v = validateModelPolicy(bare);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const computed = compilePolicy(v.policy).uid;
    expect(computed).toMatch(/^local:strict:/);
    for (const [a, b] of [
      [strictFile, await policyFile([lax(strictUid)])],
      [await policyFile([bare]), await policyFile([lax(computed)])],
    ] as const) {
      const r = await runCli([
        'verify',
        models.unsigned[0]!,
        '--policy-file',
        a,
        '--policy-file',
        b,
        '--insecure-registry',
        registry.host,
        '--json',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\(lax\): metadata\.uid: policy strict has the same uid/);
    }
  }, 150_000);
});
