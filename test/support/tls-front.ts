// HTTPS in front of a loopback test registry, with a CA of its own. Clients then meet the registry as
// users meet theirs (TLS, no --plain-http / --allow-http-registry / --insecure-registry flags): oras and
// cosign trust the CA through SSL_CERT_FILE (Go's crypto/x509), modelgate through NODE_EXTRA_CA_CERTS.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCa, generateServingCert } from '../../src/admission/tls.ts';

export interface TlsFront {
  /** `127.0.0.1:PORT`: what clients are pointed at (HTTPS). */
  readonly host: string;
  /** PEM file of the CA that signed the front's certificate. */
  readonly caFile: string;
  stop(): Promise<void>;
}

/** Serves HTTPS on 127.0.0.1 and forwards every request, unchanged, to `upstream` (`127.0.0.1:PORT`, HTTP). */
export async function startTlsFront(upstream: string): Promise<TlsFront> {
  const ca = generateCa({ commonName: 'modelgate test registry CA' });
  const serving = generateServingCert(ca, ['localhost'], ['127.0.0.1']);
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-tls-front-'));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const [upHost, upPort] = upstream.split(':') as [string, string];
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const out = httpRequest(
      { host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const headers = { ...up.headers };
        // An absolute upload location naming the upstream must send the client back through the front.
        const location = headers.location;
        if (typeof location === 'string' && location.startsWith(`http://${upstream}`)) {
          headers.location = `https://${req.headers.host}${location.slice(`http://${upstream}`.length)}`;
        }
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    out.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    caFile,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
