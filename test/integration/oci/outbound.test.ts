// Outbound containment against a real registry (go-containerregistry's, fronted by a small proxy that
// plays a hostile or misconfigured registry: it redirects blob reads and names token realms wherever the
// test says). A redirect or a realm leading to loopback, link-local, private or metadata addresses is
// refused with OUTBOUND_DENIED before any connection is made: the target listens and must see nothing.
// Plain HTTP goes only to the exact insecure host:port. A TLS handshake against a plain-HTTP registry
// says to name it with --insecure-registry.
import { execFile } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryFailure } from '../../../src/engine/registry-verifier.ts';
import { RegistryClient, type RegistryClientOptions } from '../../../src/oci/client.ts';
import { RegistryError } from '../../../src/oci/errors.ts';
import type { RequestEvent, Resolver } from '../../../src/oci/transport.ts';
import type { Descriptor, Manifest } from '../../../src/oci/types.ts';
import { runCli } from '../../support/cli.ts';
import { type FakeServer, startFakeServer } from '../../support/fake-server.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { writePolicies } from '../../support/signed-models.ts';

const run = promisify(execFile);
const REPO = 'models/outbound';
/** A name no DNS knows: only the test's resolver answers it (as an attacker's DNS would). */
const INTERNAL_NAME = 'blobs.internal.test';

/** A listener that counts TCP connections and answers HTTPS with the blob (when a client gets through). */
interface Target {
  readonly port: number;
  readonly connections: () => number;
  close(): Promise<void>;
}

async function startHttpsTarget(tls: { key: string; cert: string }, body: Uint8Array): Promise<Target> {
  let connections = 0;
  const server: HttpsServer = createHttpsServer(tls, (_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length) }).end(Buffer.from(body));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function startTcpTarget(): Promise<Target> {
  let connections = 0;
  const server: NetServer = createNetServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('outbound containment', () => {
  let dir: string;
  let reg: TestRegistry;
  let front: FakeServer;
  let https: Target;
  let tcp: Target;
  let tls: { key: string; cert: string };
  let pushed: Pushed;
  let layer: Descriptor;
  /** What the front answers instead of the registry: a blob redirect, or a bearer challenge. */
  let redirectTo: string | undefined;
  let realm: string | undefined;
  const clients: RegistryClient[] = [];
  const lookups: string[] = [];

  const resolver: Resolver = (hostname, _options, callback) => {
    lookups.push(hostname);
    if (hostname === INTERNAL_NAME) callback(null, [{ address: '127.0.0.1', family: 4 } as LookupAddress]);
    else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  };

  const clientFor = (opts: Partial<RegistryClientOptions> = {}) => {
    const events: RequestEvent[] = [];
    const client = new RegistryClient({
      insecureRegistries: [front.host],
      maxRetries: 1,
      retryBaseMs: 10,
      requestTimeoutMs: 5_000,
      resolve: resolver,
      onRequest: (e) => events.push(e),
      ...opts,
    });
    clients.push(client);
    return { client, events };
  };

  async function failure(p: Promise<unknown>): Promise<RegistryError> {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  }

  const signal = () => AbortSignal.timeout(20_000);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-outbound-'));
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=outbound-target',
      '-addext', `subjectAltName=IP:127.0.0.1,DNS:${INTERNAL_NAME}`, '-days', '1',
    ]); // biome-ignore format: one openssl command
    tls = {
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
      cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
    };
    reg = await startRegistry('ggcr');
    const oras = new Oras({ host: reg.host });
    try {
      pushed = await oras.push(`${REPO}:v1`, [{ name: 'model.safetensors', content: 'weights, or so' }]);
    } finally {
      await oras.close();
    }
    const plain = new RegistryClient({ insecureRegistries: [reg.host] });
    clients.push(plain);
    const manifest = (await plain.resolve(reg.host, REPO, pushed.digest, AbortSignal.timeout(20_000)))
      .manifest as Manifest;
    layer = manifest.layers[0]!;
    const blob = Buffer.from('weights, or so');
    https = await startHttpsTarget(tls, blob);
    tcp = await startTcpTarget();
    const [regHost, regPort] = reg.host.split(':');
    front = await startFakeServer((req: IncomingMessage, res: ServerResponse) => {
      if (realm !== undefined && req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="registry"` }).end();
        return;
      }
      if (redirectTo !== undefined && req.url?.includes('/blobs/')) {
        res.writeHead(307, { location: redirectTo }).end();
        return;
      }
      return new Promise<void>((resolve, reject) => {
        const up = httpRequest(
          { host: regHost, port: Number(regPort), method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('end', resolve);
          },
        );
        up.on('error', reject);
        req.pipe(up);
      });
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([front?.close(), https?.close(), tcp?.close(), reg?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  const readBlob = (client: RegistryClient) =>
    client.blob(front.host, REPO, layer, { maxBytes: 1024 }, signal());

  describe('redirects', () => {
    it.each([
      ['another loopback port', () => `https://127.0.0.1:${https.port}/blob`],
      ['an IPv4-mapped IPv6 loopback', () => `https://[::ffff:127.0.0.1]:${https.port}/blob`],
      ['a decimal IPv4 loopback', () => `https://2130706433:${https.port}/blob`],
      ['a name that resolves to loopback', () => `https://${INTERNAL_NAME}:${https.port}/blob`],
    ])('to %s: OUTBOUND_DENIED, and the target sees no connection', async (_case, target) => {
      redirectTo = target();
      realm = undefined;
      const before = https.connections();
      const { client, events } = clientFor({ caBundles: { [new URL(redirectTo).host]: tls.cert } });
      const err = await failure(readBlob(client));
      expect(err.code).toBe('OUTBOUND_DENIED');
      expect(https.connections()).toBe(before);
      // Not retried: the front saw one request, and what it was refused for is not a registry outage.
      expect(events.filter((e) => e.registry === front.host)).toHaveLength(1);
      const finding = registryFailure(err, new AbortController().signal);
      expect(finding.code).toBe('REGISTRY_ERROR');
      expect(finding.fix).toContain('--allow-registry-redirect-host');
    });

    it.each([
      ['the metadata service', 'https://169.254.169.254/latest/meta-data/'],
      ['the IPv6 metadata service', 'https://[fd00:ec2::254]/latest/meta-data/'],
      ['the GCE metadata name', 'https://metadata.google.internal/computeMetadata/v1/'],
      ['a private address', 'https://10.0.0.7/blob'],
      ['a CGNAT address', 'https://100.100.100.200/latest/meta-data/'],
      ['a link-local address', 'https://169.254.10.10/blob'],
    ])('to %s: OUTBOUND_DENIED without a lookup', async (_case, target) => {
      redirectTo = target;
      realm = undefined;
      lookups.length = 0;
      const { client } = clientFor();
      const err = await failure(readBlob(client));
      expect(err.code).toBe('OUTBOUND_DENIED');
      expect(lookups).toEqual([]);
    });

    it('to a contained host that the operator allowed: followed, the address checked being the one connected to', async () => {
      redirectTo = `https://${INTERNAL_NAME}:${https.port}/blob`;
      realm = undefined;
      const host = new URL(redirectTo).host;
      const before = https.connections();
      const { client } = clientFor({ caBundles: { [host]: tls.cert }, allowedRedirectHosts: [host] });
      expect(Buffer.from(await readBlob(client)).toString()).toBe('weights, or so');
      expect(https.connections()).toBe(before + 1);
    });

    it('to plain HTTP on another port of the insecure registry host: refused, nothing connects', async () => {
      redirectTo = `http://127.0.0.1:${tcp.port}/blob`;
      realm = undefined;
      const { client } = clientFor();
      const err = await failure(readBlob(client));
      expect(err.code).toBe('REGISTRY_ERROR');
      expect(err.message).toContain('not an insecure registry');
      expect(tcp.connections()).toBe(0);
    });
  });

  describe('token realms', () => {
    it.each([
      ['another loopback port over HTTPS', () => `https://127.0.0.1:${https.port}/token`],
      ['a name that resolves to loopback', () => `https://${INTERNAL_NAME}:${https.port}/token`],
      ['the metadata service', () => 'https://169.254.169.254/token'],
      ['a private address', () => 'https://192.168.4.4/token'],
    ])('on %s: OUTBOUND_DENIED, and the target sees no connection', async (_case, target) => {
      realm = target();
      redirectTo = undefined;
      const before = https.connections();
      const { client } = clientFor({ caBundles: { [new URL(realm).host]: tls.cert } });
      const err = await failure(client.resolve(front.host, REPO, pushed.digest, signal()));
      expect(err.code).toBe('OUTBOUND_DENIED');
      expect(https.connections()).toBe(before);
    });

    it('on plain HTTP at another port of the insecure registry host: refused (only the exact host:port is insecure)', async () => {
      realm = `http://127.0.0.1:${tcp.port}/token`;
      redirectTo = undefined;
      const { client } = clientFor();
      const err = await failure(client.resolve(front.host, REPO, pushed.digest, signal()));
      expect(err.code).toBe('REGISTRY_ERROR');
      expect(err.message).toContain('not an insecure registry');
      expect(tcp.connections()).toBe(0);
    });
  });

  it('a TLS handshake against a plain-HTTP registry says to name it with --insecure-registry', async () => {
    realm = undefined;
    redirectTo = undefined;
    const { client, events } = clientFor({ insecureRegistries: [] });
    const err = await failure(client.resolve(reg.host, REPO, pushed.digest, signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toContain(`--insecure-registry ${reg.host}`);
    expect(err.fix).toContain(`--insecure-registry ${reg.host}`);
    expect(err.fix).toContain('insecureRegistries');
    // No retry can change it.
    expect(events).toHaveLength(1);
    const finding = registryFailure(err, new AbortController().signal);
    expect([finding.code, finding.fix]).toEqual(['REGISTRY_ERROR', err.fix]);
  });

  it('modelgate verify: the refusal of a plain-HTTP registry carries the --insecure-registry fix', async () => {
    const policyFile = await writePolicies(dir, [
      {
        apiVersion: 'modelgate.dev/v1alpha1',
        kind: 'ModelPolicy',
        metadata: { name: 'formats' },
        spec: {
          models: [`${reg.host}/**`],
          signatures: { required: false },
          formats: { allow: ['safetensors'] },
        },
      },
    ]);
    const r = await runCli([
      'verify',
      `${reg.host}/${REPO}@${pushed.digest}`,
      '--policy-file',
      policyFile,
      '--json',
    ]);
    const out = JSON.parse(r.stdout) as { allowed: boolean; reasons: { code: string; fix: string }[] };
    expect(out.allowed).toBe(false);
    expect(out.reasons.map((x) => x.code)).toEqual(['REGISTRY_ERROR']);
    expect(out.reasons[0]!.fix).toContain(`--insecure-registry ${reg.host}`);
  }, 60_000);
});
