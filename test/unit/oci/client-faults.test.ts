// The registry client against scripted registries on 127.0.0.1: every fault the webhook must survive
// surfaces as a coded RegistryError, within the caller's deadline.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../../../src/oci/client.ts';
import { StaticCredentialStore } from '../../../src/oci/credentials.ts';
import { digestOf, digestToTag } from '../../../src/oci/digest.ts';
import { RegistryError } from '../../../src/oci/errors.ts';
import type { RequestEvent } from '../../../src/oci/transport.ts';
import { type Descriptor, MediaType } from '../../../src/oci/types.ts';
import {
  type FakeServer,
  type Handler,
  ociError,
  sendBytes,
  sendJson,
  startFakeServer,
} from '../../support/fake-server.ts';

const enc = (v: unknown) => Buffer.from(JSON.stringify(v));
const manifestBody = enc({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  artifactType: 'application/vnd.example.model',
  config: { mediaType: MediaType.OciEmpty, digest: digestOf(Buffer.from('{}')), size: 2 },
  layers: [],
});
const MANIFEST_DIGEST = digestOf(manifestBody);
const indexOf = (manifests: Descriptor[]) =>
  enc({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
const desc = (artifactType: string | undefined, n: number): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: digestOf(Buffer.from(String(n))),
  size: 100 + n,
  ...(artifactType === undefined ? {} : { artifactType }),
});
const CYCLONEDX = 'application/vnd.cyclonedx+json';

const servers: FakeServer[] = [];
const clients: RegistryClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: Handler, tls?: { key: string; cert: string }): Promise<FakeServer> {
  const s = await startFakeServer(handler, tls);
  servers.push(s);
  return s;
}

function clientFor(
  hosts: string[],
  opts: Partial<RegistryClientOptions> = {},
): { client: RegistryClient; events: RequestEvent[] } {
  const events: RequestEvent[] = [];
  const client = new RegistryClient({
    insecureRegistries: hosts,
    retryBaseMs: 10,
    requestTimeoutMs: 5_000,
    onRequest: (e) => events.push(e),
    ...opts,
  });
  clients.push(client);
  return { client, events };
}

const signal = () => AbortSignal.timeout(20_000);

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RegistryError);
  return e as RegistryError;
}

function manifestHandler(res: Parameters<Handler>[1], headers: Record<string, string> = {}) {
  sendBytes(res, 200, manifestBody, {
    'content-type': MediaType.OciManifest,
    'docker-content-digest': MANIFEST_DIGEST,
    ...headers,
  });
}

describe('retries', () => {
  it('retries a 429, honouring Retry-After, then succeeds', async () => {
    const s = await serve((_req, res, n) => {
      if (n === 1) sendJson(res, 429, ociError('TOOMANYREQUESTS', 'slow down'), { 'retry-after': '1' });
      else manifestHandler(res);
    });
    const { client, events } = clientFor([s.host]);
    const started = Date.now();
    const r = await client.resolve(s.host, 'models/m', 'v1', signal());
    expect(r.digest).toBe(MANIFEST_DIGEST);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(events.map((e) => e.status)).toEqual([429, 200]);
  });

  it('gives up after the bounded retries on 5xx, with the registry code and status', async () => {
    const s = await serve((_req, res) => sendJson(res, 503, ociError('UNAVAILABLE', 'maintenance')));
    const { client, events } = clientFor([s.host], { maxRetries: 2 });
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.status).toBe(503);
    expect(err.registryCode).toBe('UNAVAILABLE');
    expect(err.message).toContain('503 UNAVAILABLE');
    expect(events).toHaveLength(3);
  });

  it('does not wait for a Retry-After longer than allowed', async () => {
    const s = await serve((_req, res) =>
      sendJson(res, 429, ociError('TOOMANYREQUESTS', 'x'), { 'retry-after': '3600' }),
    );
    const { client, events } = clientFor([s.host], { maxRetryDelayMs: 1_000 });
    const started = Date.now();
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect(err.status).toBe(429);
    expect(Date.now() - started).toBeLessThan(500);
    expect(events).toHaveLength(1);
  });

  it('does not retry other client errors', async () => {
    const s = await serve((_req, res) => sendJson(res, 403, ociError('DENIED', 'no')));
    const { client, events } = clientFor([s.host]);
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect([err.status, err.registryCode]).toEqual([403, 'DENIED']);
    expect(events).toHaveLength(1);
  });
});

describe('deadlines', () => {
  it('honours the caller deadline within 10% against a registry that never answers', async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const { client } = clientFor([s.host], { requestTimeoutMs: 60_000 });
    const started = performance.now();
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', AbortSignal.timeout(1_500)));
    const elapsed = performance.now() - started;
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(elapsed).toBeGreaterThanOrEqual(1_490);
    expect(elapsed).toBeLessThan(1_650);
  });

  it('honours the deadline when the body stalls', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest, 'content-length': '1000' });
      res.write('{"schemaVersion":');
    });
    const { client } = clientFor([s.host], { requestTimeoutMs: 60_000 });
    const started = performance.now();
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', AbortSignal.timeout(1_500)));
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(1_650);
  });

  it('retries a request that timed out, within the deadline', async () => {
    const s = await serve((_req, res, n) => {
      if (n > 1) manifestHandler(res);
    });
    const { client, events } = clientFor([s.host], { requestTimeoutMs: 200 });
    const r = await client.resolve(s.host, 'models/m', 'v1', signal());
    expect(r.digest).toBe(MANIFEST_DIGEST);
    expect(events.map((e) => e.status)).toEqual([undefined, 200]);
  });

  it('does not sleep past the deadline between retries', async () => {
    const s = await serve((_req, res) =>
      sendJson(res, 503, ociError('UNAVAILABLE', 'x'), { 'retry-after': '5' }),
    );
    const { client } = clientFor([s.host]);
    const started = performance.now();
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', AbortSignal.timeout(1_000)));
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(1_100);
  });
});

describe('bodies', () => {
  it('refuses a truncated body', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, {
        'content-type': MediaType.OciManifest,
        'content-length': String(manifestBody.length),
      });
      res.write(manifestBody.subarray(0, 20));
      res.destroy();
    });
    const { client, events } = clientFor([s.host], { maxRetries: 1 });
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(events).toHaveLength(2);
  });

  it('refuses an oversized manifest by its Content-Length without reading it', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, {
        'content-type': MediaType.OciManifest,
        'content-length': String(5 * 1024 * 1024),
      });
      res.write(Buffer.alloc(64 * 1024, 32));
    });
    const { client, events } = clientFor([s.host]);
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toContain('cap');
    expect(events).toHaveLength(1);
    expect(events[0]!.bytes).toBe(0);
  });

  it('stops reading a chunked manifest at the cap', async () => {
    const s = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest });
      const chunk = Buffer.alloc(256 * 1024, 32);
      for (let i = 0; i < 64 && !res.destroyed; i++) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    });
    const { client, events } = clientFor([s.host], { maxManifestBytes: 1024 * 1024 });
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect(err.message).toContain('1048576-byte cap');
    expect(events).toHaveLength(1);
  });
});

describe('manifest digests', () => {
  it('refuses manifest bytes that do not match the digest asked for', async () => {
    const s = await serve((_req, res) => manifestHandler(res, { 'docker-content-digest': '' }));
    const { client } = clientFor([s.host]);
    const other = digestOf(Buffer.from('another manifest'));
    const err = await failure(client.resolve(s.host, 'models/m', other, signal()));
    expect(err.code).toBe('MANIFEST_DIGEST_MISMATCH');
  });

  it('refuses manifest bytes that do not match Docker-Content-Digest', async () => {
    const s = await serve((_req, res) =>
      manifestHandler(res, { 'docker-content-digest': digestOf(Buffer.from('a lie')) }),
    );
    const { client } = clientFor([s.host]);
    const err = await failure(client.resolve(s.host, 'models/m', 'v1', signal()));
    expect(err.code).toBe('MANIFEST_DIGEST_MISMATCH');
  });

  it('checks a sha512 digest with sha512', async () => {
    const s = await serve((_req, res) =>
      manifestHandler(res, { 'docker-content-digest': digestOf(manifestBody, 'sha512') }),
    );
    const { client } = clientFor([s.host]);
    const sha512 = digestOf(manifestBody, 'sha512');
    const r = await client.resolve(s.host, 'models/m', sha512, signal());
    expect(r.digest).toBe(sha512);
  });

  it('refuses names that are not OCI names before any request', async () => {
    const { client, events } = clientFor(['127.0.0.1:1']);
    for (const [host, repo, ref] of [
      ['127.0.0.1:1', '../etc', 'v1'],
      ['127.0.0.1:1', 'Models/M', 'v1'],
      ['127.0.0.1:1', 'models/m', 'v1/../../x'],
      ['user@127.0.0.1:1', 'models/m', 'v1'],
      ['127.0.0.1:1/x', 'models/m', 'v1'],
    ] as const) {
      const err = await failure(client.resolve(host, repo, ref, signal()));
      expect(err.code).toBe('REGISTRY_ERROR');
    }
    expect(events).toHaveLength(0);
  });
});

describe('transport security', () => {
  it('follows a redirect to another host without the credentials', async () => {
    const blob = Buffer.from('blob bytes');
    const storage = await serve((_req, res) => sendBytes(res, 200, blob));
    const s = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      } else {
        res.writeHead(307, { location: `http://${storage.host}/blobs/x?sig=1` }).end();
      }
    });
    const { client } = clientFor([s.host, storage.host], {
      credentials: new StaticCredentialStore([[s.host, { kind: 'basic', username: 'u', password: 'p' }]]),
    });
    const d = { mediaType: 'application/octet-stream', digest: digestOf(blob), size: blob.length };
    const got = await client.blob(s.host, 'models/m', d, { maxBytes: 1024 }, signal());
    expect(Buffer.from(got).toString()).toBe('blob bytes');
    expect(s.requests.map((r) => r.headers.authorization)).toEqual([undefined, `Basic ${btoa('u:p')}`]);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('does not answer a challenge from the host a redirect led to', async () => {
    const evilRealm = await serve((_req, res) => sendJson(res, 200, { token: 'stolen' }));
    const storage = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${evilRealm.host}/token"` }).end();
    });
    const s = await serve((req, res) => {
      if (req.headers.authorization === undefined)
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      else res.writeHead(302, { location: `http://${storage.host}/blob` }).end();
    });
    const { client } = clientFor([s.host, storage.host, evilRealm.host], {
      credentials: new StaticCredentialStore([[s.host, { kind: 'basic', username: 'u', password: 'p' }]]),
    });
    const d = { mediaType: 'x', digest: digestOf(Buffer.from('x')), size: 1 };
    const err = await failure(client.blob(s.host, 'models/m', d, { maxBytes: 10 }, signal()));
    expect(err.status).toBe(401);
    expect(evilRealm.requests).toHaveLength(0);
    expect(storage.requests.map((r) => r.headers.authorization)).toEqual([undefined]);
  });

  it('refuses a redirect to plain HTTP on a host not named insecure', async () => {
    const other = await serve((_req, res) => sendBytes(res, 200, Buffer.from('x')));
    const s = await serve((_req, res) => {
      res.writeHead(302, { location: `http://localhost:${other.port}/x` }).end();
    });
    const { client } = clientFor([s.host]);
    const d = { mediaType: 'x', digest: digestOf(Buffer.from('x')), size: 1 };
    const err = await failure(client.blob(s.host, 'models/m', d, { maxBytes: 10 }, signal()));
    expect(err.message).toContain('not an insecure registry');
    expect(other.requests).toHaveLength(0);
  });

  it('uses TLS for any registry not named insecure, trusting an extra CA bundle per registry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-tls-'));
    try {
      await promisify(execFile)('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1',
      ]); // biome-ignore format: one openssl command
      const tls = {
        key: await readFile(join(dir, 'key.pem'), 'utf8'),
        cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
      };
      const s = await serve((_req, res) => manifestHandler(res), tls);
      const untrusted = clientFor([]).client;
      const err = await failure(untrusted.resolve(s.host, 'models/m', 'v1', signal()));
      expect(err.code).toBe('REGISTRY_ERROR');
      expect(s.requests).toHaveLength(0);
      const trusted = clientFor([], { caBundles: { [s.host]: tls.cert } }).client;
      expect((await trusted.resolve(s.host, 'models/m', 'v1', signal())).digest).toBe(MANIFEST_DIGEST);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('authentication', () => {
  async function tokenRegistry(opts: { expiresIn?: number; realmHost?: string } = {}) {
    const tokens: {
      scope: string | null;
      authorization: string | undefined;
      method: string;
      body: string;
    }[] = [];
    const auth = await serve(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const url = new URL(req.url ?? '/', 'http://x');
      tokens.push({
        scope: url.searchParams.get('scope') ?? new URLSearchParams(body).get('scope'),
        authorization: req.headers.authorization,
        method: req.method ?? '',
        body,
      });
      sendJson(res, 200, { token: `t${tokens.length}`, expires_in: opts.expiresIn ?? 300 });
    });
    const s = await serve((req, res) => {
      const repo = /^\/v2\/(.+?)\/manifests\//.exec(req.url ?? '')?.[1] ?? '';
      const realmHost = opts.realmHost ?? auth.host;
      if (!/^Bearer t\d+$/.test(req.headers.authorization ?? '')) {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${realmHost}/token",service="svc",scope="repository:${repo}:pull"`,
          })
          .end();
      } else manifestHandler(res);
    });
    return { s, auth, tokens };
  }

  it('caches bearer tokens per scope until they expire', async () => {
    const { s, auth, tokens } = await tokenRegistry();
    // The realm is another port of the same host: plain HTTP to it only because it is named insecure too.
    const { client } = clientFor([s.host, auth.host], {
      credentials: new StaticCredentialStore([[s.host, { kind: 'basic', username: 'u', password: 'p' }]]),
    });
    for (let i = 0; i < 3; i++) await client.resolve(s.host, 'models/a', 'v1', signal());
    await client.resolve(s.host, 'models/b', 'v1', signal());
    expect(tokens.map((t) => [t.scope, t.authorization])).toEqual([
      ['repository:models/a:pull', `Basic ${btoa('u:p')}`],
      ['repository:models/b:pull', `Basic ${btoa('u:p')}`],
    ]);
    expect(s.requests.map((r) => r.headers.authorization)).toEqual([
      undefined,
      'Bearer t1',
      'Bearer t1',
      'Bearer t1',
      undefined,
      'Bearer t2',
    ]);
  });

  it('fetches a new token once the cached one has expired', async () => {
    const { s, auth, tokens } = await tokenRegistry({ expiresIn: 1 });
    const { client } = clientFor([s.host, auth.host]);
    await client.resolve(s.host, 'models/a', 'v1', signal());
    await client.resolve(s.host, 'models/a', 'v1', signal());
    expect(tokens).toHaveLength(2);
    expect(tokens[0]!.authorization).toBeUndefined();
  });

  it('exchanges an identity token at the realm with the OAuth2 refresh-token grant', async () => {
    const { s, auth, tokens } = await tokenRegistry();
    // The realm is another port of the same host: plain HTTP to it only because it is named insecure too.
    const { client } = clientFor([s.host, auth.host], {
      credentials: new StaticCredentialStore([[s.host, { kind: 'identityToken', identityToken: 'rt-1' }]]),
    });
    await client.resolve(s.host, 'models/a', 'v1', signal());
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.method).toBe('POST');
    expect(Object.fromEntries(new URLSearchParams(tokens[0]!.body))).toMatchObject({
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      service: 'svc',
      scope: 'repository:models/a:pull',
    });
  });

  it('refuses a plain-HTTP token realm on another host, sending it nothing', async () => {
    const { s, auth } = await tokenRegistry({ realmHost: 'localhost:1' });
    const { client } = clientFor([s.host], {
      credentials: new StaticCredentialStore([[s.host, { kind: 'basic', username: 'u', password: 'p' }]]),
    });
    const err = await failure(client.resolve(s.host, 'models/a', 'v1', signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(auth.requests).toHaveLength(0);
  });

  it('refuses a malformed WWW-Authenticate header', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.example.com/token' }).end();
    });
    const { client } = clientFor([s.host]);
    const err = await failure(client.resolve(s.host, 'models/a', 'v1', signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.status).toBe(401);
    expect(err.message).toContain('malformed WWW-Authenticate');
  });

  it('reports a basic challenge without credentials as a 401 with the registry code', async () => {
    const s = await serve((_req, res) =>
      sendJson(res, 401, ociError('UNAUTHORIZED', 'authentication required'), {
        'www-authenticate': 'Basic realm="r"',
      }),
    );
    const { client } = clientFor([s.host]);
    const err = await failure(client.resolve(s.host, 'models/a', 'v1', signal()));
    expect([err.code, err.status, err.registryCode]).toEqual(['REGISTRY_ERROR', 401, 'UNAUTHORIZED']);
  });
});

describe('referrers', () => {
  it('follows Link pages and filters by artifactType when the registry did not', async () => {
    const s = await serve((req, res) => {
      const headers = { 'content-type': MediaType.OciIndex };
      if (req.url?.includes('page=2')) sendBytes(res, 200, indexOf([desc(CYCLONEDX, 3)]), headers);
      else {
        sendBytes(res, 200, indexOf([desc(CYCLONEDX, 1), desc('application/other', 2)]), {
          ...headers,
          link: `</v2/models/m/referrers/${MANIFEST_DIGEST}?page=2>; rel="next"`,
        });
      }
    });
    const { client } = clientFor([s.host]);
    const got = await client.referrers(
      s.host,
      'models/m',
      MANIFEST_DIGEST,
      { artifactType: CYCLONEDX },
      signal(),
    );
    expect(got.map((d) => d.size)).toEqual([101, 103]);
    expect(s.requests[0]!.path).toBe(
      `/v2/models/m/referrers/${MANIFEST_DIGEST}?artifactType=${encodeURIComponent(CYCLONEDX)}`,
    );
  });

  it('trusts OCI-Filters-Applied', async () => {
    const s = await serve((_req, res) =>
      sendBytes(res, 200, indexOf([desc('application/x', 1)]), {
        'content-type': MediaType.OciIndex,
        'oci-filters-applied': 'artifactType',
      }),
    );
    const { client } = clientFor([s.host]);
    const got = await client.referrers(
      s.host,
      'models/m',
      MANIFEST_DIGEST,
      { artifactType: CYCLONEDX },
      signal(),
    );
    expect(got).toHaveLength(1);
  });

  it('bounds the pages it follows', async () => {
    const s = await serve((_req, res) =>
      sendBytes(res, 200, indexOf([]), {
        'content-type': MediaType.OciIndex,
        link: '</v2/models/m/referrers/x?n>; rel="next"',
      }),
    );
    const { client } = clientFor([s.host], { maxReferrerPages: 3 });
    const err = await failure(client.referrers(s.host, 'models/m', MANIFEST_DIGEST, {}, signal()));
    expect(err.message).toContain('more than 3 pages');
    expect(s.requests).toHaveLength(3);
  });

  it('refuses a referrers answer that is not an index', async () => {
    const s = await serve((_req, res) => manifestHandler(res));
    const { client } = clientFor([s.host]);
    const err = await failure(client.referrers(s.host, 'models/m', MANIFEST_DIGEST, {}, signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toContain('not an OCI index');
  });

  it.each([404, 400, 500])('falls back to the tag schema when the API answers %i', async (status) => {
    const tagIndex = indexOf([desc(CYCLONEDX, 1), desc('application/other', 2)]);
    const s = await serve((req, res) => {
      if (req.url?.includes('/referrers/')) sendJson(res, status, ociError('NAME_UNKNOWN', 'no'));
      else sendBytes(res, 200, tagIndex, { 'content-type': MediaType.OciIndex });
    });
    const { client } = clientFor([s.host], { maxRetries: 0 });
    const got = await client.referrers(
      s.host,
      'models/m',
      MANIFEST_DIGEST,
      { artifactType: CYCLONEDX },
      signal(),
    );
    expect(got.map((d) => d.size)).toEqual([101]);
    expect(s.requests[1]!.path).toBe(`/v2/models/m/manifests/${digestToTag(MANIFEST_DIGEST)}`);
  });

  it.each([429, 502, 503, 504])(
    'does not fall back when the API answers %i (an outage, not a missing API): REGISTRY_ERROR',
    async (status) => {
      const s = await serve((req, res) => {
        if (req.url?.includes('/referrers/')) sendJson(res, status, ociError('UNAVAILABLE', 'try later'));
        else sendJson(res, 404, ociError('MANIFEST_UNKNOWN', 'no'));
      });
      const { client } = clientFor([s.host], { maxRetries: 0 });
      const err = await failure(client.referrers(s.host, 'models/m', MANIFEST_DIGEST, {}, signal()));
      expect(err.code).toBe('REGISTRY_ERROR');
      // The tag schema was not read: an empty tag would have said "no referrers".
      expect(s.requests.every((r) => r.path.includes('/referrers/'))).toBe(true);
    },
  );

  it('reports no referrers when neither the API nor the tag exists', async () => {
    const s = await serve((_req, res) => sendJson(res, 404, ociError('MANIFEST_UNKNOWN', 'no')));
    const { client } = clientFor([s.host]);
    expect(await client.referrers(s.host, 'models/m', MANIFEST_DIGEST, {}, signal())).toEqual([]);
  });

  it('refuses a referrers tag that is not an index', async () => {
    const s = await serve((req, res) => {
      if (req.url?.includes('/referrers/')) sendJson(res, 404, ociError('NOT_FOUND', 'no'));
      else manifestHandler(res, { 'docker-content-digest': '' });
    });
    const { client } = clientFor([s.host]);
    const err = await failure(client.referrers(s.host, 'models/m', MANIFEST_DIGEST, {}, signal()));
    expect(err.message).toContain('not an OCI index');
  });

  it("completes an artifactType the registry took from an empty config, from the referrer's manifest", async () => {
    const referrer = desc(MediaType.OciEmpty, 0);
    referrer.digest = MANIFEST_DIGEST;
    referrer.size = manifestBody.length;
    const s = await serve((req, res) => {
      if (req.url?.includes('/referrers/'))
        sendBytes(res, 200, indexOf([referrer]), { 'content-type': MediaType.OciIndex });
      else manifestHandler(res);
    });
    const { client } = clientFor([s.host]);
    const other = digestOf(Buffer.from('subject'));
    const got = await client.referrers(
      s.host,
      'models/m',
      other,
      { artifactType: 'application/vnd.example.model' },
      signal(),
    );
    expect(got).toEqual([{ ...referrer, artifactType: 'application/vnd.example.model' }]);
    // The referrer's manifest is cached: reading it next costs no request.
    await client.resolve(s.host, 'models/m', MANIFEST_DIGEST, signal());
    expect(s.requests).toHaveLength(2);
  });
});

describe('referrers that anyone who can push may attach', () => {
  const SUBJECT = digestOf(Buffer.from('the model'));
  const referrerManifest = (artifactType: string, n: number) =>
    enc({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType,
      config: { mediaType: MediaType.OciEmpty, digest: digestOf(Buffer.from('{}')), size: 2 },
      layers: [{ mediaType: 'text/plain', digest: digestOf(Buffer.from(String(n))), size: 1 }],
      subject: { mediaType: MediaType.OciManifest, digest: SUBJECT, size: 1 },
    });
  /** A go-containerregistry-like registry: every descriptor's artifactType is the (empty) config's. */
  async function ggcrLike(
    bodies: Buffer[],
    extra: Record<string, (res: Parameters<Handler>[1]) => void> = {},
  ) {
    const byDigest = new Map(bodies.map((b) => [digestOf(b), b]));
    const listing = indexOf(
      [...byDigest.entries()].map(([digest, b]) => ({
        mediaType: MediaType.OciManifest,
        digest,
        size: b.length,
        artifactType: MediaType.OciEmpty,
      })),
    );
    return serve((req, res) => {
      if (req.url?.includes('/referrers/')) {
        sendBytes(res, 200, listing, { 'content-type': MediaType.OciIndex });
        return;
      }
      const digest = /\/manifests\/(.+)$/.exec(req.url ?? '')?.[1] ?? '';
      const special = extra[digest];
      if (special) return special(res);
      const b = byDigest.get(digest);
      if (b === undefined) sendJson(res, 404, ociError('MANIFEST_UNKNOWN', 'no'));
      else sendBytes(res, 200, b, { 'content-type': MediaType.OciManifest });
    });
  }

  it('completes ~100 inconclusive descriptors from their manifests, so junk does not hide a signature', async () => {
    const junk = Array.from({ length: 100 }, (_, i) => referrerManifest('application/vnd.example.junk', i));
    const bundle = referrerManifest('application/vnd.dev.sigstore.bundle.v0.3+json', 1000);
    const s = await ggcrLike([...junk.slice(0, 60), bundle, ...junk.slice(60)]);
    const { client } = clientFor([s.host]);
    const all = await client.referrers(s.host, 'models/m', SUBJECT, {}, signal());
    expect(all).toHaveLength(101);
    expect(all.filter((d) => d.artifactType === 'application/vnd.example.junk')).toHaveLength(100);
    const sigs = await client.referrers(
      s.host,
      'models/m',
      SUBJECT,
      { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
      signal(),
    );
    expect(sigs.map((d) => d.digest)).toEqual([digestOf(bundle)]);
    // Each manifest was read once: the second listing found them in the manifest cache.
    expect(s.requests.filter((r) => r.path.includes('/manifests/'))).toHaveLength(101);
  });

  it('leaves out referrers whose manifest is absent, invalid or has other bytes than its digest', async () => {
    const good = referrerManifest('application/vnd.cyclonedx+json', 1);
    const invalid = Buffer.from('{"schemaVersion":2,"layers":"not a list"}');
    const lying = referrerManifest('application/vnd.example.junk', 2);
    const absent = referrerManifest('application/vnd.example.junk', 3);
    const s = await ggcrLike([good, invalid, lying, absent], {
      [digestOf(lying)]: (res) =>
        sendBytes(res, 200, referrerManifest('application/vnd.cyclonedx+json', 9), {
          'content-type': MediaType.OciManifest,
        }),
      [digestOf(absent)]: (res) => sendJson(res, 404, ociError('MANIFEST_UNKNOWN', 'gone')),
    });
    const { client } = clientFor([s.host]);
    const got = await client.referrers(s.host, 'models/m', SUBJECT, {}, signal());
    expect(got.map((d) => [d.digest, d.artifactType])).toEqual([
      [digestOf(good), 'application/vnd.cyclonedx+json'],
    ]);
  });

  it('does not leave out a referrer the registry failed to serve: that is a registry error', async () => {
    const good = referrerManifest('application/vnd.cyclonedx+json', 1);
    const failing = referrerManifest('application/vnd.example.junk', 2);
    const s = await ggcrLike([good, failing], {
      [digestOf(failing)]: (res) => sendJson(res, 500, ociError('UNKNOWN', 'broken')),
    });
    const { client } = clientFor([s.host], { maxRetries: 0 });
    const err = await failure(client.referrers(s.host, 'models/m', SUBJECT, {}, signal()));
    expect([err.code, err.status]).toEqual(['REGISTRY_ERROR', 500]);
  });

  it('refuses a listing of more than 1024 referrers, reading none of their manifests', async () => {
    const many = Array.from({ length: 1025 }, (_, i) => desc(MediaType.OciEmpty, i));
    const s = await serve((req, res) => {
      if (req.url?.includes('/referrers/'))
        sendBytes(res, 200, indexOf(many), { 'content-type': MediaType.OciIndex });
      else sendJson(res, 404, ociError('MANIFEST_UNKNOWN', 'no'));
    });
    const { client } = clientFor([s.host]);
    const err = await failure(client.referrers(s.host, 'models/m', SUBJECT, {}, signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toContain('exceed 1024');
    expect(s.requests).toHaveLength(1);
  });

  it('bounds the bytes of the listing over all its pages', async () => {
    // Each page is under the manifest cap; together they pass the 4 MiB listing budget.
    const page = Buffer.concat([
      indexOf([]).subarray(0, -1),
      Buffer.from(`,"annotations":{"pad":"${'x'.repeat(1024 * 1024)}"}}`),
    ]);
    const s = await serve((_req, res) =>
      sendBytes(res, 200, page, {
        'content-type': MediaType.OciIndex,
        link: `</v2/models/m/referrers/${SUBJECT}?next>; rel="next"`,
      }),
    );
    const { client } = clientFor([s.host]);
    const err = await failure(client.referrers(s.host, 'models/m', SUBJECT, {}, signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(s.requests.length).toBeLessThanOrEqual(5);
  });
});

describe('blobs', () => {
  const blob = Buffer.from('0123456789abcdef');
  const d: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(blob), size: blob.length };

  it('refuses bytes that do not match the descriptor', async () => {
    const s = await serve((_req, res) => sendBytes(res, 200, Buffer.from('0123456789abcdeX')));
    const { client } = clientFor([s.host]);
    const err = await failure(client.blob(s.host, 'models/m', d, { maxBytes: 100 }, signal()));
    expect(err.code).toBe('BLOB_DIGEST_MISMATCH');
  });

  it('refuses a blob longer than its descriptor says', async () => {
    const s = await serve((_req, res) => sendBytes(res, 200, Buffer.concat([blob, blob])));
    const { client } = clientFor([s.host]);
    const err = await failure(client.blob(s.host, 'models/m', d, { maxBytes: 100 }, signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
  });

  it('refuses a descriptor larger than the cap before fetching', async () => {
    const s = await serve((_req, res) => sendBytes(res, 200, blob));
    const { client } = clientFor([s.host]);
    const err = await failure(client.blob(s.host, 'models/m', d, { maxBytes: 8 }, signal()));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(s.requests).toHaveLength(0);
  });

  it('reads a range with HTTP Range', async () => {
    const s = await serve((req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      const [a, b] = [Number(m?.[1]), Number(m?.[2])];
      sendBytes(res, 206, blob.subarray(a, b + 1), { 'content-range': `bytes ${a}-${b}/${blob.length}` });
    });
    const { client } = clientFor([s.host]);
    expect(Buffer.from(await client.blobRange(s.host, 'models/m', d, 2, 5, signal())).toString()).toBe(
      '2345',
    );
    expect(s.requests[0]!.headers.range).toBe('bytes=2-5');
  });

  it('reads only what it needs from a registry that ignores Range', async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 1);
    big.write('GGUF', 0);
    const bigDesc = { mediaType: 'application/octet-stream', digest: digestOf(big), size: big.length };
    const s = await serve((_req, res) => sendBytes(res, 200, big));
    const { client, events } = clientFor([s.host]);
    const head = await client.blobRange(s.host, 'models/m', bigDesc, 0, 3, signal());
    expect(Buffer.from(head).toString()).toBe('GGUF');
    expect(events[0]!.bytes).toBe(4);
  });

  it('refuses a range answer for other bytes than asked', async () => {
    const s = await serve((_req, res) =>
      sendBytes(res, 206, blob.subarray(0, 4), { 'content-range': `bytes 0-3/16` }),
    );
    const { client } = clientFor([s.host]);
    const err = await failure(client.blobRange(s.host, 'models/m', d, 4, 7, signal()));
    expect(err.message).toContain('asked for bytes 4-7');
  });
});

describe('legacy cosign tags', () => {
  it('finds .sig and not .att', async () => {
    const s = await serve((req, res) => {
      if (req.url?.endsWith('.sig')) manifestHandler(res);
      else sendJson(res, 404, ociError('MANIFEST_UNKNOWN', 'no'));
    });
    const { client } = clientFor([s.host]);
    const got = await client.legacyCosignTags(s.host, 'models/m', MANIFEST_DIGEST, signal());
    expect(got.sig?.digest).toBe(MANIFEST_DIGEST);
    expect(got.att).toBeUndefined();
    expect(s.requests.map((r) => r.path).sort()).toEqual([
      `/v2/models/m/manifests/${digestToTag(MANIFEST_DIGEST)}.att`,
      `/v2/models/m/manifests/${digestToTag(MANIFEST_DIGEST)}.sig`,
    ]);
  });
});
