import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAdmissionServer } from '../../../src/admission/server.ts';
import { type CertifiedKeyPem, generateCa, generateServingCert } from '../../../src/admission/tls.ts';
import { ALLOW } from '../../unit/admission/builders.ts';
import { sendRequest, startTestServer, type TestServer, waitFor } from './harness.ts';

const ca = generateCa({ commonName: 'modelgate-test-ca' });
const leaf = (): CertifiedKeyPem => generateServingCert(ca, ['localhost'], ['127.0.0.1']);
const fingerprint = (pair: CertifiedKeyPem) => new X509Certificate(pair.certPem).fingerprint256;

let dir: string;
let t: TestServer | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-tls-'));
});
afterEach(async () => {
  await t?.stop();
  t = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Writes both files and swaps them in by rename, as a careful tool would. */
function install(pair: { certPem: string; keyPem: string }, certFile: string, keyFile: string): void {
  writeFileSync(`${certFile}.tmp`, pair.certPem);
  writeFileSync(`${keyFile}.tmp`, pair.keyPem);
  renameSync(`${keyFile}.tmp`, keyFile);
  renameSync(`${certFile}.tmp`, certFile);
}

/** The certificate a brand-new TLS connection is served. */
async function servedFingerprint(server: TestServer): Promise<string> {
  const agent = new Agent({ keepAlive: false, ca: ca.certPem });
  const reply = await sendRequest(agent, `${server.server.url}/healthz`, 'GET');
  expect(reply.status).toBe(200);
  return reply.fingerprint256;
}

describe('serving certificate from files', () => {
  it('serves the files, and reloads them when they change; a bad pair keeps the previous one', async () => {
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    const first = leaf();
    install(first, certFile, keyFile);
    t = await startTestServer({ tls: { certFile, keyFile, reloadIntervalMs: 50 }, caPem: ca.certPem });
    const server = t;
    expect(server.server.caPem).toBeUndefined();
    expect(await servedFingerprint(server)).toBe(fingerprint(first));
    expect(server.logs.find((l) => l.msg === 'serving certificate loaded')).toMatchObject({
      certFile,
      keyFile,
      fingerprint256: fingerprint(first),
    });

    const second = leaf();
    install(second, certFile, keyFile);
    await waitFor(async () => ((await servedFingerprint(server)) === fingerprint(second) ? true : undefined));
    expect(
      server.logs.some(
        (l) => l.msg === 'serving certificate reloaded' && l['fingerprint256'] === fingerprint(second),
      ),
    ).toBe(true);

    // A certificate with another certificate's key: refused, the second pair stays.
    const errors = () => server.logs.filter((l) => l.level === 50);
    let errorsBefore = errors().length;
    const third = leaf();
    install({ certPem: third.certPem, keyPem: second.keyPem }, certFile, keyFile);
    const refused = await waitFor(() => errors()[errorsBefore]);
    expect(refused.msg).toBe('new serving certificate or key is unusable: keeping the previous pair');
    expect(await servedFingerprint(server)).toBe(fingerprint(second));

    // Garbage: refused too.
    errorsBefore = errors().length;
    install({ certPem: 'not a certificate', keyPem: 'not a key' }, certFile, keyFile);
    await waitFor(() => errors()[errorsBefore]);
    expect(await servedFingerprint(server)).toBe(fingerprint(second));
    expect(JSON.stringify(server.logs)).not.toContain('PRIVATE KEY');

    // And a good pair after the bad ones is taken.
    const fourth = leaf();
    install(fourth, certFile, keyFile);
    await waitFor(async () => ((await servedFingerprint(server)) === fingerprint(fourth) ? true : undefined));

    // The admission route works over the reloaded certificate.
    const agent = new Agent({ ca: ca.certPem });
    const reply = await sendRequest(agent, `${server.server.url}/validate`, 'POST', '{}', {
      'content-type': 'application/json',
    });
    expect(reply.status).toBe(400);
    agent.destroy();
  });

  it('follows a Kubernetes Secret volume, whose ..data symlink is swapped', async () => {
    const write = (name: string, pair: CertifiedKeyPem) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'tls.crt'), pair.certPem);
      writeFileSync(join(dir, name, 'tls.key'), pair.keyPem);
    };
    const first = leaf();
    write('..2025_01_01', first);
    symlinkSync('..2025_01_01', join(dir, '..data'));
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    t = await startTestServer({
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), reloadIntervalMs: 50 },
      caPem: ca.certPem,
      decide: async () => ALLOW,
    });
    const server = t;
    expect(await servedFingerprint(server)).toBe(fingerprint(first));

    const second = leaf();
    write('..2025_02_01', second);
    symlinkSync('..2025_02_01', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor(async () => ((await servedFingerprint(server)) === fingerprint(second) ? true : undefined));
  });

  it('refuses to start with one file, a missing file, or a key that does not match', async () => {
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    const pair = leaf();
    const other = leaf();
    const base = {
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: 1024,
      decide: async () => ALLOW,
      ready: () => true,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
    };
    writeFileSync(certFile, pair.certPem);
    await expect(startAdmissionServer({ ...base, tls: { certFile } })).rejects.toThrow(
      'TLS: give both a certificate file and a key file, or neither',
    );
    await expect(startAdmissionServer({ ...base, tls: { keyFile } })).rejects.toThrow(/both .* or neither/);
    await expect(startAdmissionServer({ ...base, tls: { certFile, keyFile } })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    writeFileSync(keyFile, other.keyPem);
    await expect(startAdmissionServer({ ...base, tls: { certFile, keyFile } })).rejects.toThrow(
      /key values mismatch/,
    );
  });
});
