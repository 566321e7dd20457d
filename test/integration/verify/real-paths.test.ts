// Refusal paths on the real path, through the real CLI against a real registry: THRESHOLD_NOT_MET with
// two real cosign keys (one signature, then both), and MANIFEST_DIGEST_MISMATCH when something between
// modelgate and the registry changes a manifest's bytes (a proxy that rewrites one byte of every
// manifest it serves by digest).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { pushSignedModels, type SignedModels, writePolicies } from '../../support/signed-models.ts';

let reg: TestRegistry;
let models: SignedModels;
let dir: string;
let second: { key: string; pem: string };

interface Verdict {
  allowed: boolean;
  reasons: { code: string; message: string }[];
}

async function verify(
  ref: string,
  policyFile: string,
  host: string,
): Promise<Verdict & { exit: number | null }> {
  const r = await runCli(['verify', ref, '--policy-file', policyFile, '--insecure-registry', host, '--json']);
  return { ...(JSON.parse(r.stdout) as Verdict), exit: r.code };
}

const policyOf = (host: string, authorities: { name: string; pem: string }[], threshold: number) => ({
  apiVersion: 'modelgate.dev/v1alpha1',
  kind: 'ModelPolicy',
  metadata: { name: 'two-keys' },
  spec: {
    models: [`${host}/**`],
    signatures: { threshold, authorities: authorities.map((a) => ({ name: a.name, key: { pem: a.pem } })) },
  },
});

beforeAll(async () => {
  reg = await startRegistry('ggcr', { warningProbability: 0 });
  models = await pushSignedModels({ host: reg.host }, { signed: 1 });
  second = await models.cosign.generateKeyPair('second');
  dir = await mkdtemp(join(tmpdir(), 'mg-real-paths-'));
});

afterAll(async () => {
  await models?.cosign.close();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('THRESHOLD_NOT_MET with two real cosign keys', () => {
  it('one of two required signers: refused with the code and both authorities named; both: admitted', async () => {
    const ref = models.signed[0]!;
    const policy = await writePolicies(
      dir,
      [
        policyOf(
          reg.host,
          [
            { name: 'release', pem: models.publicKey },
            { name: 'security', pem: second.pem },
          ],
          2,
        ),
      ],
      'two-keys.yaml',
    );
    const one = await verify(ref, policy, reg.host);
    expect(one.exit).toBe(1);
    expect(one.reasons.map((r) => r.code)).toEqual(['THRESHOLD_NOT_MET']);
    expect(one.reasons[0]!.message).toMatch(/1 distinct authority signed; the policy needs 2 of 2/);
    expect(one.reasons[0]!.message).toMatch(/security \(expects key sha256:[0-9a-f]{64}/);
    // The second team signs too (its own cosign key, its own v3 bundle referrer).
    await models.cosign.sign(ref, second.key);
    const both = await verify(ref, policy, reg.host);
    expect(both.reasons).toEqual([]);
    expect(both).toMatchObject({ allowed: true, exit: 0 });
  });
});

describe('MANIFEST_DIGEST_MISMATCH on the real path', () => {
  let proxy: Server;
  let host: string;

  beforeAll(async () => {
    // Forwards to the registry; a manifest fetched by digest comes back with one byte changed
    // (a space added before the closing brace: still JSON, another digest).
    proxy = createServer((req, res) => {
      const up = request(
        {
          host: '127.0.0.1',
          port: Number(reg.host.split(':')[1]),
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (r) => {
          const tamper = req.method === 'GET' && /\/manifests\/sha256:/.test(req.url ?? '');
          if (!tamper) {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
            return;
          }
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => {
            const body = Buffer.concat(chunks)
              .toString('utf8')
              .replace(/\}\s*$/, ' }');
            const { 'content-length': _len, ...headers } = r.headers;
            res.writeHead(r.statusCode ?? 502, { ...headers, 'content-length': Buffer.byteLength(body) });
            res.end(body);
          });
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
  });

  it('refuses the model with MANIFEST_DIGEST_MISMATCH, never admits it', async () => {
    const ref = models.signed[0]!.replace(reg.host, host);
    const policy = await writePolicies(
      dir,
      [policyOf(host, [{ name: 'release', pem: models.publicKey }], 1)],
      'via-proxy.yaml',
    );
    const r = await verify(ref, policy, host);
    expect(r.exit).toBe(1);
    expect(r.allowed).toBe(false);
    expect(r.reasons.map((x) => x.code)).toEqual(['MANIFEST_DIGEST_MISMATCH']);
  });
});
