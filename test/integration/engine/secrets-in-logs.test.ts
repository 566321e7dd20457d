// A full run with registry credentials, at log level trace: two registries that require them (distribution
// with htpasswd basic auth, distribution with bearer tokens from a token server), credentials from a docker
// config, models admitted and others refused, a wrong password refused by the registry, and the CLI's
// verify and review. (Models on the token registry are not signed: cosign refuses a token realm on a
// loopback address; their policy checks formats, which reads the registry through the same auth.)
// Nothing printed (server logs, CLI output, AdmissionReview answers) may carry
// a password, a token, an Authorization header or the base64 `auth` string of the docker config.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { podReview, type ServeProcess, startServe } from '../../support/serve.ts';
import {
  pushSignedModels,
  type SignedModels,
  signedPolicy,
  writePolicies,
} from '../../support/signed-models.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('secrets never reach the logs', () => {
  let dir: string;
  let basic: TestRegistry;
  let token: TestRegistry;
  let basicModels: SignedModels;
  let tokenModels: SignedModels;
  let policyFile: string;
  let configFile: string;
  let wrongConfigFile: string;
  let secrets: string[];
  const served: ServeProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-secrets-'));
    const basicPassword = `basic-${randomUUID()}`;
    const tokenPassword = `token-${randomUUID()}`;
    const wrongPassword = `wrong-${randomUUID()}`;
    basic = await startRegistry('distribution', { auth: 'basic', password: basicPassword });
    token = await startRegistry('distribution', { auth: 'token', password: tokenPassword });
    basicModels = await pushSignedModels(
      { host: basic.host, credentials: basic.credentials },
      { signed: 1, unsigned: 1 },
    );
    tokenModels = await pushSignedModels(
      { host: token.host, credentials: token.credentials },
      { signed: 0, unsigned: 1 },
    );
    policyFile = await writePolicies(dir, [
      signedPolicy(basic.host, basicModels.publicKey, { name: 'basic' }),
      {
        apiVersion: 'modelgate.dev/v1alpha1',
        kind: 'ModelPolicy',
        metadata: { name: 'token' },
        spec: {
          models: [`${token.host}/**`],
          signatures: { required: false },
          formats: { allow: ['safetensors', 'json'] },
        },
      },
    ]);
    const user = basic.credentials!.username;
    configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        auths: {
          [basic.host]: { auth: b64(`${user}:${basicPassword}`) },
          [`http://${token.host}`]: { username: user, password: tokenPassword },
        },
      }),
    );
    wrongConfigFile = join(dir, 'wrong.json');
    await writeFile(
      wrongConfigFile,
      JSON.stringify({ auths: { [basic.host]: { auth: b64(`${user}:${wrongPassword}`) } } }),
    );
    secrets = [
      basicPassword,
      tokenPassword,
      wrongPassword,
      b64(`${user}:${basicPassword}`),
      b64(`${user}:${tokenPassword}`),
      b64(`${user}:${wrongPassword}`),
    ];
  });

  afterAll(async () => {
    for (const s of served) await s.stop();
    await basic?.stop();
    await token?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function assertClean(text: string): void {
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/authorization/i);
    expect(text).not.toMatch(/\b(bearer|basic) [A-Za-z0-9+/=._-]{8,}/i);
    // Every token the token server issues is a JWT: base64url JSON, `eyJ...`.
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  }

  it('modelgate serve at trace level: admits and refuses through both kinds of auth, and logs no secret', async () => {
    const serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      basic.host,
      '--insecure-registry',
      token.host,
      // The token endpoint is plain HTTP on another port: named insecure itself (exact host:port).
      '--insecure-registry',
      new URL(token.tokenServer!.realm).host,
      '--registry-config',
      configFile,
      '--log-level',
      'trace',
    ]);
    served.push(serve);
    const signed = [basicModels.signed[0]!, tokenModels.unsigned[0]!];
    const ok = await serve.validate(podReview('s-1', signed));
    expect(ok.answer).toMatchObject({ allowed: true });
    const refused = await serve.validate(podReview('s-2', [basicModels.unsigned[0]!]));
    expect(refused.answer.allowed).toBe(false);
    expect(refused.answer.message).toContain('SIGNATURE_MISSING');
    const missing = await serve.validate(
      podReview('s-3', [`${token.host}/models/none@sha256:${'0'.repeat(64)}`]),
    );
    expect(missing.answer.message).toContain('REGISTRY_ERROR');
    assertClean(JSON.stringify([ok, refused, missing]));
    await serve.stop();
    const logs = serve.output();
    // The run did go through the challenges and the token endpoint, at trace level.
    expect(logs).toMatch(/"msg":"registry request"/);
    expect(logs).toMatch(/"status":401/);
    // The token endpoint's path, without its query (service and scope, or whatever a realm carries).
    expect(logs).toMatch(/"path":"\/token"/);
    expect(logs).not.toMatch(/\/token\?/);
    assertClean(logs);
  });

  it('a password the registry refuses is not printed either', async () => {
    const serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      basic.host,
      '--registry-config',
      wrongConfigFile,
      '--log-level',
      'trace',
    ]);
    served.push(serve);
    const refused = await serve.validate(podReview('w-1', [basicModels.signed[0]!]));
    expect(refused.answer.allowed).toBe(false);
    expect(refused.answer.message).toContain('REGISTRY_ERROR');
    await serve.stop();
    assertClean(serve.output());
    assertClean(JSON.stringify(refused));
  });

  it('modelgate verify and review with the same credentials print no secret', async () => {
    const common = [
      '--policy-file',
      policyFile,
      '--insecure-registry',
      basic.host,
      '--insecure-registry',
      token.host,
      '--insecure-registry',
      new URL(token.tokenServer!.realm).host,
    ];
    const verify = await runCli([
      'verify',
      tokenModels.unsigned[0]!,
      ...common,
      '--registry-config',
      configFile,
      '--json',
    ]);
    expect(verify.code).toBe(0);
    const wrong = await runCli([
      'verify',
      basicModels.signed[0]!,
      ...common,
      '--registry-config',
      wrongConfigFile,
    ]);
    expect(wrong.code).toBe(1);
    const review = await runCli(
      ['review', ...common, '--registry-config', configFile],
      JSON.stringify(podReview('r-1', [basicModels.signed[0]!, tokenModels.unsigned[0]!])),
    );
    expect(review.code).toBe(0);
    // A docker config that is not JSON: the error names the file, never its contents.
    const broken = join(dir, 'broken.json');
    await writeFile(broken, `{"auths": {"${basic.host}": {"auth": ${secrets[3]}}}}`);
    const bad = await runCli(['verify', basicModels.signed[0]!, ...common, '--registry-config', broken]);
    expect(bad.code).toBe(2);
    for (const r of [verify, wrong, review, bad]) assertClean(r.stdout + r.stderr);
  });
});
