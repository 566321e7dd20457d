// A Docker registry token endpoint run by the test (the role a real auth service plays): it checks basic
// credentials and issues RS256 JWTs whose certificate the registry trusts (distribution's `auth.token`).
import { execFile } from 'node:child_process';
import {
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  randomUUID,
  X509Certificate,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenServer {
  /** `http://127.0.0.1:PORT/token` */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file of the signing certificate (distribution's `rootcertbundle`). */
  readonly certPath: string;
  /** Every token request received, for assertions on caching. */
  readonly requests: { scope: string[]; user: string | undefined; status: number }[];
  /** True when `token` is one of ours, unexpired, and grants `action` on repository `name`. */
  verify(token: string, name: string | undefined, action: string): boolean;
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  /** username -> password; requests with other credentials get 401. */
  users: Record<string, string>;
  /** Token lifetime in seconds (default 300). */
  ttlSeconds?: number;
  /** Grant pull to anonymous callers (default false: anonymous tokens carry no access). */
  anonymousPull?: boolean;
  service?: string;
}

/** Starts a token endpoint on 127.0.0.1; keys and certificate are made with openssl in `dir`. */
export async function startTokenServer(dir: string, opts: TokenServerOptions): Promise<TokenServer> {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-subj',
    '/CN=modelgate-test-token-issuer',
    '-days',
    '2',
  ]);
  const privateKey = createPrivateKey(await readFile(keyPath, 'utf8'));
  const certPem = await readFile(certPath, 'utf8');
  const cert = new X509Certificate(certPem);
  const publicKey = createPublicKey(certPem);
  const x5c = cert.raw.toString('base64');
  const service = opts.service ?? 'modelgate-test-registry';
  const issuer = 'modelgate-test-issuer';
  const ttl = opts.ttlSeconds ?? 300;
  const requests: TokenServer['requests'] = [];

  const sign = (claims: Record<string, unknown>): string => {
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [x5c] }));
    const payload = b64url(JSON.stringify(claims));
    const signer = createSign('RSA-SHA256');
    signer.update(`${header}.${payload}`);
    return `${header}.${payload}.${signer.sign(privateKey).toString('base64url')}`;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404).end();
      return;
    }
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter((s) => s !== '');
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Basic (.+)$/i.exec(authz);
      const decoded = m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      if (colon < 0 || opts.users[name] === undefined || opts.users[name] !== decoded.slice(colon + 1)) {
        requests.push({ scope: scopes, user: undefined, status: 401 });
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      user = name;
    }
    const access: Access[] = [];
    for (const scope of scopes) {
      const [type, name, actions] = splitScope(scope);
      if (type === undefined || name === undefined) continue;
      const wanted = (actions ?? '').split(',').filter((a) => a !== '');
      const granted =
        user !== undefined ? wanted : opts.anonymousPull ? wanted.filter((a) => a === 'pull') : [];
      access.push({ type, name, actions: granted });
    }
    const now = Math.floor(Date.now() / 1000);
    const token = sign({
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: now + ttl,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    });
    requests.push({ scope: scopes, user, status: 200 });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: ttl,
        issued_at: new Date(now * 1000).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;

  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    verify(token, name, action) {
      const [h, p, s] = token.split('.');
      if (h === undefined || p === undefined || s === undefined) return false;
      const verifier = createVerify('RSA-SHA256');
      verifier.update(`${h}.${p}`);
      if (!verifier.verify(publicKey, Buffer.from(s, 'base64url'))) return false;
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as {
        exp: number;
        aud: string;
        iss: string;
        access: Access[];
      };
      if (claims.iss !== issuer || claims.aud !== service || claims.exp * 1000 < Date.now()) return false;
      if (name === undefined) return true;
      return claims.access.some(
        (a) => a.type === 'repository' && a.name === name && a.actions.includes(action),
      );
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// `repository:a/b:pull,push` (a name may not contain ':' but the last field is the actions).
function splitScope(scope: string): [string | undefined, string | undefined, string | undefined] {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return [undefined, undefined, undefined];
  return [scope.slice(0, first), scope.slice(first + 1, last), scope.slice(last + 1)];
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
