// X.509 material for the end-to-end harness, made with the `openssl` CLI: a CA, serving certificates for the
// API server and for webhooks the tests serve, client certificates whose subject names a user and its groups
// (the API server's x509 authenticator reads CN as the user and each O as a group), and a key pair for
// signing ServiceAccount tokens.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, as PEM and as the files they were written to. */
export interface CertFiles {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface CertRequest {
  /** Subject CN: the user name of a client certificate. */
  readonly commonName: string;
  /** Subject O, one per group of a client certificate. */
  readonly organizations?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
  readonly usage: 'server' | 'client';
}

// Long enough for any test run, short enough that a leaked key is worthless.
const VALID_DAYS = '2';

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', args, { timeout: 60_000 }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  });
}

async function readPair(certFile: string, keyFile: string): Promise<CertFiles> {
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certPem, keyPem, certFile, keyFile };
}

// A file name from a subject: user names such as `system:serviceaccount:ns:sa` hold characters that are
// awkward in paths.
function fileStem(name: string): string {
  return `${name.replace(/[^A-Za-z0-9.-]+/g, '_')}-${randomBytes(3).toString('hex')}`;
}

// `openssl -subj` takes `/K=V/K=V`; `/`, `=` and `\` inside a value are escaped with a backslash.
function subject(req: CertRequest): string {
  const esc = (v: string) => v.replace(/[\\/=+,]/g, (c) => `\\${c}`);
  const orgs = (req.organizations ?? []).map((o) => `/O=${esc(o)}`).join('');
  return `${orgs}/CN=${esc(req.commonName)}`;
}

/** A self-signed CA (ECDSA P-256) written to `<dir>/<name>.crt` and `.key`. */
export async function createCa(dir: string, name: string): Promise<CertFiles> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    VALID_DAYS,
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return readPair(certFile, keyFile);
}

/** A leaf certificate signed by `ca`, written next to the CA's files. */
export async function issueCert(ca: CertFiles, dir: string, req: CertRequest): Promise<CertFiles> {
  const stem = join(dir, fileStem(req.commonName));
  const certFile = `${stem}.crt`;
  const keyFile = `${stem}.key`;
  const sans = [...(req.dnsNames ?? []).map((d) => `DNS:${d}`), ...(req.ips ?? []).map((ip) => `IP:${ip}`)];
  const extensions = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    `extendedKeyUsage=${req.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
  ];
  if (sans.length > 0) extensions.push(`subjectAltName=${sans.join(',')}`);
  await openssl([
    'req',
    '-x509',
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    VALID_DAYS,
    '-subj',
    subject(req),
    ...extensions.flatMap((e) => ['-addext', e]),
  ]);
  return readPair(certFile, keyFile);
}

/** An RSA key pair for signing (private) and verifying (public) ServiceAccount tokens. */
export async function createServiceAccountKeys(
  dir: string,
): Promise<{ privateKeyFile: string; publicKeyFile: string }> {
  const privateKeyFile = join(dir, 'sa.key');
  const publicKeyFile = join(dir, 'sa.pub');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', privateKeyFile]);
  await openssl(['pkey', '-in', privateKeyFile, '-pubout', '-out', publicKeyFile]);
  return { privateKeyFile, publicKeyFile };
}

/** Writes `text` to `dir/name` readable by the owner only (keys, kubeconfigs). */
export async function writePrivateFile(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}
