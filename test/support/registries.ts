// Real OCI registries on 127.0.0.1, started and stopped by the tests themselves:
//  - `ggcr`: go-containerregistry's registry library (OCI 1.1 referrers API on; blobs in memory or on
//    disk), served by the wrapper in scripts/tools/ggcr-registry because the module's own cmd/registry
//    leaves referrers off. It has no auth, so auth is added by a small reverse proxy run here (basic, or
//    bearer tokens from our token server), answering challenges the way distribution does.
//  - `distribution`: Debian's `docker-registry` (distribution 2.8: no referrers API). Auth is its own:
//    `htpasswd` (bcrypt, made by apache2-utils' htpasswd) and `token` (JWTs from our token server, checked
//    by the registry against the issuer certificate), so the client meets the real thing.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startProcess, waitForHttp } from './process.ts';
import { startTokenServer, type TokenServer } from './token-server.ts';
import { toolPath } from './tools.ts';

const run = promisify(execFile);

export type RegistryKind = 'ggcr' | 'distribution';
export type RegistryAuth = 'none' | 'basic' | 'token';

export interface RegistryOptions {
  auth?: RegistryAuth;
  /** Defaults to `tester` / `s3cret-pass`. */
  username?: string;
  password?: string;
  /** Token lifetime for `auth: 'token'`. */
  tokenTtlSeconds?: number;
  /** ggcr only: keep blobs on disk rather than in memory (large artifacts, benchmarks). */
  blobsOnDisk?: boolean;
  /** ggcr only: share of responses carrying a `Warning` header (default 0.01, the peer's own). */
  warningProbability?: number;
}

export interface TestRegistry {
  readonly kind: RegistryKind;
  readonly auth: RegistryAuth;
  /** `127.0.0.1:PORT`: what clients and `oras` are pointed at. */
  readonly host: string;
  readonly url: string;
  /** Present unless `auth` is `none`. */
  readonly credentials: { username: string; password: string } | undefined;
  /** Present when `auth` is `token`. */
  readonly tokenServer: TokenServer | undefined;
  readonly hasReferrersApi: boolean;
  logs(): string;
  stop(): Promise<void>;
}

export function startRegistry(kind: RegistryKind, opts: RegistryOptions = {}): Promise<TestRegistry> {
  return kind === 'ggcr' ? startGgcrRegistry(opts) : startDistributionRegistry(opts);
}

const READY_STATUSES = [200, 401];

export async function startGgcrRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const bin = await toolPath('ggcr-registry');
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-ggcr-'));
  const args = ['-addr', '127.0.0.1:0'];
  if (opts.blobsOnDisk) {
    // The registry writes into the folder but does not create it.
    await mkdir(join(dir, 'blobs'), { recursive: true });
    args.push('-blobs-dir', join(dir, 'blobs'));
  }
  if (opts.warningProbability !== undefined)
    args.push('-warning-probability', String(opts.warningProbability));
  const proc = startProcess(bin, args, { cwd: dir });
  let upstreamPort: number;
  try {
    const m = await proc.waitForOutput(/serving on 127\.0\.0\.1:(\d+)/, 30_000);
    upstreamPort = Number(m[1]);
    await waitForHttp(`http://127.0.0.1:${upstreamPort}/v2/`, READY_STATUSES, 30_000);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const credentials = auth === 'none' ? undefined : userOf(opts);
  const tokenServer =
    auth === 'token'
      ? await startTokenServer(dir, {
          users: { [credentials!.username]: credentials!.password },
          ...(opts.tokenTtlSeconds === undefined ? {} : { ttlSeconds: opts.tokenTtlSeconds }),
        })
      : undefined;
  const proxy =
    auth === 'none' ? undefined : await startAuthProxy(upstreamPort, auth, credentials!, tokenServer);
  const port = proxy?.port ?? upstreamPort;
  const host = `127.0.0.1:${port}`;
  return {
    kind: 'ggcr',
    auth,
    host,
    url: `http://${host}`,
    credentials,
    tokenServer,
    hasReferrersApi: true,
    logs: proc.logs,
    async stop() {
      await proxy?.stop();
      await tokenServer?.stop();
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startDistributionRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const bin = await toolPath('docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-distribution-'));
  const port = await freePort();
  const credentials = auth === 'none' ? undefined : userOf(opts);
  let tokenServer: TokenServer | undefined;
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: 'modelgate-test-secret' },
  };
  if (auth === 'basic') {
    const htpasswd = await toolPath('htpasswd');
    const { stdout } = await run(htpasswd, ['-Bbn', credentials!.username, credentials!.password]);
    const file = join(dir, 'htpasswd');
    await writeFile(file, stdout.trim() + '\n');
    config.auth = { htpasswd: { realm: 'modelgate-test', path: file } };
  } else if (auth === 'token') {
    tokenServer = await startTokenServer(dir, {
      users: { [credentials!.username]: credentials!.password },
      ...(opts.tokenTtlSeconds === undefined ? {} : { ttlSeconds: opts.tokenTtlSeconds }),
    });
    config.auth = {
      token: {
        realm: tokenServer.realm,
        service: tokenServer.service,
        issuer: tokenServer.issuer,
        rootcertbundle: tokenServer.certPath,
      },
    };
  }
  // YAML is a superset of JSON.
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const proc = startProcess(bin, ['serve', configPath], { cwd: dir });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, READY_STATUSES, 30_000);
  } catch (e) {
    await proc.stop();
    await tokenServer?.stop();
    throw new Error(`${(e as Error).message}\n${proc.logs()}`);
  }
  const host = `127.0.0.1:${port}`;
  return {
    kind: 'distribution',
    auth,
    host,
    url: `http://${host}`,
    credentials,
    tokenServer,
    hasReferrersApi: false,
    logs: proc.logs,
    async stop() {
      await tokenServer?.stop();
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function userOf(opts: RegistryOptions): { username: string; password: string } {
  return { username: opts.username ?? 'tester', password: opts.password ?? 's3cret-pass' };
}

interface AuthProxy {
  port: number;
  stop(): Promise<void>;
}

const REPO_PATH = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//;

/**
 * Puts basic or bearer-token auth in front of a registry that has none, answering like distribution
 * does: 401 with a `WWW-Authenticate` challenge naming the scope the request needs.
 */
async function startAuthProxy(
  upstreamPort: number,
  auth: 'basic' | 'token',
  user: { username: string; password: string },
  tokenServer: TokenServer | undefined,
): Promise<AuthProxy> {
  const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const name = REPO_PATH.exec(new URL(path, 'http://x').pathname)?.[1];
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
    const authz = req.headers.authorization ?? '';
    let allowed: boolean;
    let challenge: string;
    if (auth === 'basic') {
      allowed = authz === basic;
      challenge = 'Basic realm="modelgate-test"';
    } else {
      const token = /^Bearer (.+)$/i.exec(authz)?.[1];
      allowed = token !== undefined && tokenServer!.verify(token, name, action);
      const scope =
        name === undefined ? '' : `,scope="repository:${name}:${action === 'pull' ? 'pull' : 'pull,push'}"`;
      challenge = `Bearer realm="${tokenServer!.realm}",service="${tokenServer!.service}"${scope}`;
    }
    if (!allowed) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const upstream = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path, headers },
      (up) => {
        const out = { ...up.headers };
        const loc = out.location;
        if (typeof loc === 'string') out.location = loc.replace(`http://127.0.0.1:${upstreamPort}`, '');
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
