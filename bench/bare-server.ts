/**
 * The baseline of the /validate benchmark: a bare node:https server that reads each request body and
 * answers one fixed AdmissionReview denial. No framework, no parsing, no policy: what any HTTPS webhook
 * written in Node costs at the least. Usage: node bench/bare-server.ts PORT
 */
import { createServer } from 'node:https';
import { generateSelfSignedCert } from '../src/admission/tls.ts';

const port = Number(process.argv[2] ?? '0');
const answer = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: {
    uid: 'bench',
    allowed: false,
    status: {
      code: 403,
      message: 'MODEL_UNGOVERNED: no ModelPolicy governs this model',
      reason: 'Forbidden',
    },
  },
});
const length = Buffer.byteLength(answer);
const { certPem, keyPem } = generateSelfSignedCert();

const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': length });
    res.end(answer);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`bare server listening on https://127.0.0.1:${port}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
