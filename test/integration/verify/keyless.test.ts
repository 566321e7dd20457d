// Keyless bundles from a private Sigstore (the @sigstore/mock CA, CT log and transparency log), attached
// with the real oras CLI to both loopback registries and verified from the registry with the trusted
// root read from a file, as the CLI does (`trustedRoot.file`).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherEvidence } from '../../../src/evidence/gather.ts';
import { RegistryClient } from '../../../src/oci/client.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { parseReference } from '../../../src/reference/reference.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { cosignStatement, json } from '../../unit/verify/builders.ts';
import { type TestSigstore, testSigstore } from '../../unit/verify/keyless.ts';

const signal = () => AbortSignal.timeout(60_000);
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ID = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main',
};
let uid = 0;

describe.each(['ggcr', 'distribution'] as const)('keyless bundles on %s', (kind) => {
  let reg: TestRegistry;
  let oras: Oras;
  let client: RegistryClient;
  let sigstore: TestSigstore;
  let dir: string;
  let rootFile: string;
  let signed: Pushed;
  let impostor: Pushed;

  const policyOf = (keyless: Record<string, unknown>) => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'keyless', uid: `keyless-${++uid}` },
      spec: {
        models: [`${reg.host}/**`],
        signatures: {
          authorities: [{ name: 'ci', keyless: { ...keyless, trustedRoot: { file: rootFile } } }],
        },
      },
    });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return compilePolicy(v.policy);
  };
  const check = async (p: Pushed, keyless: Record<string, unknown>) => {
    const r = parseReference(p.reference);
    if (!r.ok) throw new Error(r.error);
    const e = await gatherEvidence(client, r.ref, signal());
    return new SignatureVerifier({ readFiles: true }).check(e, policyOf(keyless), signal());
  };

  beforeAll(async () => {
    reg = await startRegistry(kind);
    oras = new Oras({ host: reg.host });
    client = new RegistryClient({ insecureRegistries: [reg.host] });
    sigstore = await testSigstore(kind);
    dir = await mkdtemp(join(tmpdir(), 'modelgate-keyless-'));
    rootFile = join(dir, 'trusted_root.json');
    await writeFile(rootFile, sigstore.trustedRoot);
    signed = await oras.push('models/keyless:v1', [{ name: 'model.safetensors', content: 'weights' }]);
    await oras.attach(
      `models/keyless@${signed.digest}`,
      [
        {
          name: 'signature.sigstore.json',
          content: json(await sigstore.dsse(ID, json(cosignStatement(signed.digest)))),
          mediaType: BUNDLE,
        },
      ],
      { artifactType: BUNDLE },
    );
    impostor = await oras.push('models/keyless:v2', [
      { name: 'model.safetensors', content: 'other weights' },
    ]);
    const mallory = {
      ...ID,
      subject: 'https://github.com/mallory/models/.github/workflows/train.yml@refs/heads/main',
    };
    await oras.attach(
      `models/keyless@${impostor.digest}`,
      [
        {
          name: 'signature.sigstore.json',
          content: json(await sigstore.dsse(mallory, json(cosignStatement(impostor.digest)))),
          mediaType: BUNDLE,
        },
      ],
      { artifactType: BUNDLE },
    );
  });

  afterAll(async () => {
    await client?.close();
    await oras?.close();
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('admits the bundle of the expected identity (exact subject, and anchored regexp)', async () => {
    expect((await check(signed, { issuer: ID.issuer, subject: ID.subject })).failures).toEqual([]);
    const r = await check(signed, {
      issuer: ID.issuer,
      subjectRegExp: 'https://github\\.com/acme/.+@refs/heads/main',
    });
    expect(r.failures).toEqual([]);
    expect(r.report).toMatchObject({ matched: [{ identity: `issuer ${ID.issuer}, subject ${ID.subject}` }] });
  });

  it('refuses another identity with the expected and the found one in the message', async () => {
    const r = await check(impostor, { issuer: ID.issuer, subjectRegExp: 'https://github\\.com/acme/.+' });
    expect(r.failures.map((f) => f.code)).toEqual(['IDENTITY_MISMATCH']);
    expect(r.failures[0]!.message).toMatch(/expected issuer .*acme.*; found issuer .*mallory/);
  });
});
