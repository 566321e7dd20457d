// Issue 16, finding 3: URLs in messages and logs are cut to scheme, host and path. A registry on loopback
// plants a secret where registries and their token services put them: in the query of a bearer realm (a
// signed URL), in the query of a redirect target, and in the userinfo of a realm. Each leads to a network
// error or a refusal whose message used to copy the URL whole. Every output channel is searched for the
// secrets: `verify --json` stdout (and stderr), `review`, the AdmissionReview answers of the real `serve`,
// and its logs at trace level. (Events carry the same denial message: see the e2e suite.)
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_CODES } from '../../../src/verdict/reasons.ts';
import { runCli } from '../../support/cli.ts';
import { type FakeServer, startFakeServer } from '../../support/fake-server.ts';
import { podReview, startServe } from '../../support/serve.ts';
import { writePolicies } from '../../support/signed-models.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function codesOf(message: string | undefined): string[] {
  return REASON_CODES.filter((c) => new RegExp(`\\b${c}\\b`).test(message ?? ''));
}

describe('URLs are redacted in every output channel', () => {
  let dir: string;
  let registry: FakeServer;
  let policyFile: string;
  const realmSecret = `realm-sig-${randomUUID()}`;
  const redirectSecret = `redirect-sig-${randomUUID()}`;
  const userinfoSecret = `userinfo-pw-${randomUUID()}`;
  const secrets = [realmSecret, redirectSecret, userinfoSecret];
  let refs: { realm: string; redirect: string; userinfo: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-redact-'));
    registry = await startFakeServer((req, res) => {
      const host = req.headers.host ?? '';
      const path = req.url ?? '';
      // The token endpoint and the redirect target drop the connection: a network error, whose message
      // names the URL it was fetching.
      if (path.startsWith('/token') || path.startsWith('/redirected')) {
        req.socket.destroy();
        return;
      }
      if (path.startsWith('/v2/realm/')) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${host}/token?X-Amz-Signature=${realmSecret}",service="fake"`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      if (path.startsWith('/v2/userinfo/')) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://fake:${userinfoSecret}@${host}/token",service="fake"`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      if (path.startsWith('/v2/redirect/')) {
        res.writeHead(307, { location: `/redirected/blob?sig=${redirectSecret}`, 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': '2', 'content-type': 'application/json' });
      res.end('{}');
    });
    const h = registry.host;
    refs = {
      realm: `${h}/realm/m@${DIGEST}`,
      redirect: `${h}/redirect/m@${DIGEST}`,
      userinfo: `${h}/userinfo/m@${DIGEST}`,
    };
    policyFile = await writePolicies(dir, [
      {
        apiVersion: 'modelgate.dev/v1alpha1',
        kind: 'ModelPolicy',
        metadata: { name: 'fake' },
        spec: { models: [`${h}/**`], signatures: { required: false }, formats: { deny: ['pickle'] } },
      },
    ]);
  });

  afterAll(async () => {
    await registry?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function assertClean(text: string): void {
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).not.toMatch(/X-Amz-Signature|\?sig=/);
  }

  it('modelgate serve at trace level: refuses with REGISTRY_ERROR and prints no planted secret', async () => {
    const serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      registry.host,
      '--log-level',
      'trace',
    ]);
    try {
      const answers = [];
      for (const [name, ref] of Object.entries(refs)) {
        const a = await serve.validate(podReview(`r-${name}`, [ref]));
        expect(a.answer.allowed).toBe(false);
        expect(codesOf(a.answer.message)).toEqual(['REGISTRY_ERROR']);
        answers.push(a);
      }
      // The URL that failed is still named, as far as it is safe: host and path.
      expect(answers[0]!.answer.message).toContain(`${registry.host}/token`);
      assertClean(JSON.stringify(answers));
    } finally {
      await serve.stop();
    }
    const logs = serve.output();
    expect(logs).toMatch(/"msg":"registry request"/);
    // The realm and the redirect target were reached (so their URLs went through the code that logs).
    expect(registry.requests.some((r) => r.path.startsWith('/token?'))).toBe(true);
    expect(registry.requests.some((r) => r.path.startsWith('/redirected/'))).toBe(true);
    assertClean(logs);
  }, 120_000);

  it('modelgate verify --json and review print no planted secret', async () => {
    const common = ['--policy-file', policyFile, '--insecure-registry', registry.host];
    const outputs = [];
    for (const ref of Object.values(refs)) {
      const r = await runCli(['verify', ref, ...common, '--json']);
      expect(r.code).toBe(1);
      const json = JSON.parse(r.stdout) as { reasons?: { code: string }[] };
      expect(json.reasons?.map((x) => x.code)).toEqual(['REGISTRY_ERROR']);
      outputs.push(r.stdout, r.stderr);
    }
    const review = await runCli(['review', ...common], JSON.stringify(podReview('rv', Object.values(refs))));
    outputs.push(review.stdout, review.stderr);
    expect(codesOf(review.stdout)).toEqual(['REGISTRY_ERROR']);
    for (const o of outputs) assertClean(o);
  }, 120_000);
});
