/**
 * The webhook's HTTPS server: `POST /validate` adapts HTTP to the pure codec in review.ts and to the
 * caller's `decide`; health, readiness and metrics routes beside it. Every failure to decide becomes a coded
 * denial or an HTTP error, never an allowed answer.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LISTENER_DEFAULTS, type ListenerLimits } from '../config.ts';
import type { Decision } from '../engine/decision.ts';
import { DecodeFailure, ReviewDecoder } from './decoder.ts';
import {
  type AdmissionMetrics,
  admissionResult,
  createAdmissionMetrics,
  observeAdmission,
} from './metrics.ts';
import {
  type AdmissionRequest,
  admissionResponse,
  invalidReviewDenial,
  type ReviewParse,
  serverDenial,
} from './review.ts';
import { generateSelfSignedCert, LOOPBACK_DNS_NAMES, LOOPBACK_IPS } from './tls.ts';

export interface AdmissionTlsOptions {
  /** PEM certificate (chain) and key files: both or neither. Reloaded when either changes. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Extra DNS names for the generated self-signed certificate (used only without files). */
  readonly dnsNames?: readonly string[];
  /** How often the files are checked for a change; default 10 s. */
  readonly reloadIntervalMs?: number;
}

export interface AdmissionServerOptions {
  readonly port: number;
  /** Listen address; default all interfaces. */
  readonly host?: string;
  readonly tls: AdmissionTlsOptions;
  /** Largest accepted request body; the caller picks the default (e.g. 8 MiB). */
  readonly maxBodyBytes: number;
  /**
   * Safety net above the engine's own deadline: `decide`'s signal is aborted after this long and the
   * request is denied with DEADLINE_EXCEEDED. Default 10 000 ms.
   */
  readonly requestTimeoutMs?: number;
  readonly decide: (request: AdmissionRequest, signal: AbortSignal) => Promise<Decision>;
  /** Backs `/readyz`. */
  readonly ready: () => boolean;
  /** Handshake and header timeouts and the connection cap (default LISTENER_DEFAULTS). */
  readonly listener?: Partial<ListenerLimits>;
  readonly logger: Logger;
  /** Admission metrics (and the default process metrics) are registered here and served on `/metrics`. */
  readonly metrics: Registry;
}

export interface AdmissionServer {
  /** e.g. `https://127.0.0.1:8443` (loopback when listening on all interfaces). */
  readonly url: string;
  readonly port: number;
  /** The generated self-signed certificate, for a client to trust; absent when serving from files. */
  readonly caPem?: string;
  /** Stops accepting, lets in-flight requests finish (a few seconds at most), then closes. */
  close(): Promise<void>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_TLS_RELOAD_MS = 10_000;
// The API server keeps webhook connections open between requests (Go's idle timeout is 90 s).
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
// How often Node looks for requests past their header or body timeout (its default is 30 s, which would
// add up to that much to either).
const TIMEOUT_CHECK_MS = 1_000;
const BODY_TIMEOUT_MS = 30_000;
const CLOSE_GRACE_MS = 5_000;
// Bytes of a refused body read and dropped before giving up on the connection.
const MIN_DRAIN_BYTES = 16 * 1024 * 1024;

/** A body over the JSON budgets: answered like an invalid AdmissionReview (with its uid when known). */
class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Starts the webhook server; resolves once it listens. */
export async function startAdmissionServer(opts: AdmissionServerOptions): Promise<AdmissionServer> {
  const log = opts.logger;
  const metrics = createAdmissionMetrics(opts.metrics);
  const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(opts.maxBodyBytes) || opts.maxBodyBytes < 1) {
    throw new Error(`maxBodyBytes must be a positive integer (got ${opts.maxBodyBytes})`);
  }
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0) {
    throw new Error(`requestTimeoutMs must be a positive number (got ${requestTimeoutMs})`);
  }
  const tls = loadInitialTls(opts.tls, log);
  const decoder = new ReviewDecoder({ maxBodyBytes: opts.maxBodyBytes });
  const ctx: ValidateContext = {
    decide: opts.decide,
    decoder,
    maxBodyBytes: opts.maxBodyBytes,
    requestTimeoutMs,
    logger: log,
    metrics,
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('etag', false);

  // The usual `POST /validate` never reaches express (see onRequest); other spellings of the path that
  // express routes here (a query string, a trailing slash, another case) still do.
  app.post('/validate', (req, res) => handleValidate(req, res, ctx));
  app.all('/validate', (_req, res) => {
    res.setHeader('Allow', 'POST');
    sendJson(res, 405, { error: 'method not allowed: use POST /validate' });
  });
  app.get('/healthz', (_req, res) => {
    sendText(res, 200, 'ok');
  });
  app.get('/readyz', (_req, res) => {
    let ready = false;
    try {
      ready = opts.ready();
    } catch (err) {
      log.error({ err }, 'readiness check threw');
    }
    sendText(res, ready ? 200 : 503, ready ? 'ok' : 'not ready');
  });
  app.get('/metrics', async (_req, res) => {
    const text = await opts.metrics.metrics();
    res.statusCode = 200;
    res.setHeader('Content-Type', opts.metrics.contentType);
    res.end(text);
  });
  app.use((_req: Request, res: Response) => {
    sendJson(res, 404, { error: 'not found' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    answerUnhandled(err, res, log);
  });

  // The hot path, `POST /validate`, is served straight from node:https; everything else goes to express.
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'POST' && req.url === '/validate') {
      handleValidate(req, res, ctx).catch((err: unknown) => answerUnhandled(err, res, log));
      return;
    }
    app(req, res);
  };
  const limits: ListenerLimits = { ...LISTENER_DEFAULTS, ...opts.listener };
  const server = createServer(
    {
      cert: tls.certPem,
      key: tls.keyPem,
      minVersion: 'TLSv1.2',
      // A socket that never sends a ClientHello (or stalls in the handshake) is closed after this.
      handshakeTimeout: limits.handshakeTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(BODY_TIMEOUT_MS, limits.headersTimeoutMs),
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    },
    onRequest,
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = limits.maxConnections;
  // One line per 10 s at most: a flood of connections must not become a flood of log lines.
  let dropped = 0;
  let droppedSince = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - droppedSince < 10_000) return;
    log.warn(
      { dropped, maxConnections: limits.maxConnections },
      'connections refused: at the connection cap',
    );
    dropped = 0;
    droppedSince = now;
  });
  server.on('tlsClientError', (err) => {
    log.debug({ err: { message: err.message } }, 'TLS handshake failed');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'HTTPS server error'));

  const stopReload = tls.files ? watchTlsFiles(server, tls.files, opts.tls.reloadIntervalMs, log) : () => {};
  const port = (server.address() as AddressInfo).port;
  const url = `https://${urlHost(opts.host)}:${port}`;
  log.info({ url, tls: tls.files ? 'files' : 'self-signed' }, 'admission server listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      stopReload();
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        decoder.close().then(resolve, resolve);
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return tls.files ? { url, port, close } : { url, port, close, caPem: tls.certPem };
}

interface ValidateContext {
  readonly decide: AdmissionServerOptions['decide'];
  readonly decoder: ReviewDecoder;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly metrics: AdmissionMetrics;
}

/** What express's error handler does, for the `POST /validate` served before express too. */
function answerUnhandled(err: unknown, res: ServerResponse, log: Logger): void {
  log.error({ err }, 'unhandled error in request handler');
  if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
  else res.destroy();
}

async function handleValidate(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: ValidateContext,
): Promise<void> {
  const started = performance.now();

  let parsed: ReviewParse;
  try {
    checkContentType(req.headers['content-type'], req.headers['content-encoding']);
    const decoded = await ctx.decoder.decode(await readBody(req, ctx.maxBodyBytes));
    if (decoded.kind === 'http-error') throw new HttpError(decoded.status, decoded.message);
    parsed = decoded.parse;
  } catch (err) {
    // A failed decode worker is ours, not the request's: 500, which the API server counts as a
    // webhook failure (fail closed under failurePolicy Fail).
    const e = err instanceof DecodeFailure ? new HttpError(500, err.message) : err;
    if (!(e instanceof HttpError)) throw e;
    (e.status >= 500 ? ctx.logger.error : ctx.logger.warn).call(
      ctx.logger,
      { status: e.status, error: e.message },
      'admission request refused',
    );
    sendJson(res, e.status, { error: e.message });
    observeAdmission(ctx.metrics, 'error', (performance.now() - started) / 1000);
    return;
  }

  if (!parsed.ok) {
    ctx.logger.warn({ uid: parsed.uid, error: parsed.error }, 'invalid AdmissionReview');
    if (parsed.uid === undefined) {
      sendJson(res, 400, { error: `not a valid admission.k8s.io/v1 AdmissionReview: ${parsed.error}` });
    } else {
      // Answered in the AdmissionReview so that the API server shows the reason to the user.
      sendJson(res, 200, admissionResponse(parsed.uid, invalidReviewDenial(parsed.error)));
    }
    observeAdmission(ctx.metrics, 'error', (performance.now() - started) / 1000);
    return;
  }

  const request = parsed.request;
  const outcome = await decideWithDeadline(request, res, ctx);
  const decision = outcome.decision;
  sendJson(res, 200, admissionResponse(request.uid, decision));
  const elapsedMs = performance.now() - started;
  const result = admissionResult(decision, outcome.error !== undefined);
  observeAdmission(ctx.metrics, result, elapsedMs / 1000, decision);
  const entry = {
    uid: request.uid,
    kind: request.kind.kind,
    namespace: request.namespace,
    name: request.name,
    operation: request.operation,
    dryRun: request.dryRun,
    allowed: decision.allowed,
    result,
    durationMs: Math.round(elapsedMs * 1000) / 1000,
    codes: findingCodes(decision),
  };
  if (outcome.error !== undefined)
    ctx.logger.error({ ...entry, err: outcome.error }, 'admission decision failed');
  else ctx.logger.info(entry, 'admission decision');
}

/** The distinct finding codes of a decision, in order. */
function findingCodes(decision: Decision): string[] {
  const findings = decision.findings;
  if (findings.length === 0) return [];
  return [...new Set(findings.map((f) => f.code))];
}

interface DecideOutcome {
  readonly decision: Decision;
  /** Why no decision came from `decide`: it threw, returned garbage, or ran out of time. */
  readonly error?: unknown;
}

/** Runs `decide` under the server's deadline; whatever goes wrong, the result is a denial. */
function decideWithDeadline(
  request: AdmissionRequest,
  res: ServerResponse,
  ctx: ValidateContext,
): Promise<DecideOutcome> {
  return new Promise<DecideOutcome>((resolve) => {
    const controller = new AbortController();
    let settled = false;
    // The first of decision, failure and deadline wins; whatever comes after is ignored.
    const settle = (outcome: DecideOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off('close', onClose);
      resolve(outcome);
    };
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
    };
    const failed = (thrown: unknown): void => {
      const detail = `modelgate failed to evaluate the request (uid ${request.uid})`;
      // A decide() that gave up because the client left reports that, not its own abort error.
      const error = controller.signal.aborted ? controller.signal.reason : thrown;
      settle({ decision: serverDenial('INTERNAL_ERROR', 500, detail), error });
    };
    const decided = (decision: Decision): void => {
      if (isDecision(decision)) settle({ decision });
      else failed(new TypeError('decide() returned something that is not a Decision'));
    };
    // Removed by settle(); 'close' comes once, so no once() wrapper is needed.
    res.on('close', onClose);
    const timer = setTimeout(() => {
      const detail = `no decision within ${ctx.requestTimeoutMs} ms (request uid ${request.uid})`;
      const error = new Error(detail);
      controller.abort(error);
      settle({ decision: serverDenial('DEADLINE_EXCEEDED', 504, detail), error });
    }, ctx.requestTimeoutMs);
    let pending: Promise<Decision>;
    try {
      pending = ctx.decide(request, controller.signal);
    } catch (thrown) {
      failed(thrown);
      return;
    }
    Promise.resolve(pending).then(decided, failed);
  });
}

function isDecision(v: unknown): v is Decision {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Partial<Decision>;
  return typeof d.allowed === 'boolean' && Array.isArray(d.warnings) && Array.isArray(d.findings);
}

function checkContentType(contentType: string | undefined, contentEncoding: string | undefined): void {
  // What the API server sends, decided without parsing.
  if (contentType === 'application/json' && contentEncoding === undefined) return;
  const [mediaType = '', ...params] = (contentType ?? '').split(';');
  if (mediaType.trim().toLowerCase() !== 'application/json') {
    throw new HttpError(
      415,
      `POST /validate needs Content-Type: application/json, got ${contentType ? JSON.stringify(contentType.slice(0, 100)) : 'none'}`,
    );
  }
  for (const param of params) {
    const [key = '', value = ''] = param.split('=');
    const charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (key.trim().toLowerCase() === 'charset' && charset !== 'utf-8' && charset !== 'utf8') {
      throw new HttpError(415, `unsupported charset ${JSON.stringify(charset.slice(0, 40))}: send UTF-8`);
    }
  }
  if (contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity') {
    throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(contentEncoding.slice(0, 40))}`);
  }
}

/** Reads at most `limit` bytes of body. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => {
    discardBody(req, Math.max(limit, MIN_DRAIN_BYTES));
    return new HttpError(413, `request body larger than the limit of ${limit} bytes (--max-body-bytes)`);
  };
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new HttpError(400, `could not read the request body: ${err.message}`));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Reads and drops the rest of a refused body so that the client, still sending, gets to read our answer
 * (closing a socket with unread input resets it) and the connection stays usable. A client that keeps
 * sending past `maxBytes` loses the connection.
 */
function discardBody(req: IncomingMessage, maxBytes: number): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function urlHost(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

// ---- TLS material ------------------------------------------------------------------------------------

interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

interface InitialTls {
  readonly certPem: string;
  readonly keyPem: string;
  readonly files?: TlsFiles;
}

function loadInitialTls(tls: AdmissionTlsOptions, log: Logger): InitialTls {
  const { certFile, keyFile } = tls;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error('TLS: give both a certificate file and a key file, or neither');
  }
  if (certFile !== undefined && keyFile !== undefined) {
    const pair = readTlsPair(certFile, keyFile);
    log.info({ certFile, keyFile, ...pair.info }, 'serving certificate loaded');
    return { certPem: pair.certPem, keyPem: pair.keyPem, files: { certFile, keyFile } };
  }
  const dnsNames = [...new Set([...LOOPBACK_DNS_NAMES, ...(tls.dnsNames ?? [])])];
  const generated = generateSelfSignedCert(dnsNames, LOOPBACK_IPS);
  log.warn(
    { dnsNames, ips: LOOPBACK_IPS, ...certInfo(generated.certPem) },
    'no TLS files given: serving with a generated self-signed certificate',
  );
  return generated;
}

interface TlsPair {
  readonly certPem: string;
  readonly keyPem: string;
  readonly info: Record<string, string>;
}

/** Reads and checks a certificate/key pair (the key must match the certificate); throws if it is unusable. */
function readTlsPair(certFile: string, keyFile: string): TlsPair {
  const certPem = readFileSync(certFile, 'utf8');
  const keyPem = readFileSync(keyFile, 'utf8');
  createSecureContext({ cert: certPem, key: keyPem });
  return { certPem, keyPem, info: certInfo(certPem) };
}

function certInfo(certPem: string): Record<string, string> {
  const cert = new X509Certificate(certPem);
  return {
    fingerprint256: cert.fingerprint256,
    validTo: cert.validTo,
    subjectAltName: cert.subjectAltName ?? '',
  };
}

function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * Polls the files (a Kubernetes Secret volume swaps a symlink, which fs.watch reports unreliably) and
 * installs a changed pair on new connections. A bad pair keeps the one in use.
 */
function watchTlsFiles(
  server: Server,
  files: TlsFiles,
  intervalMs: number | undefined,
  log: Logger,
): () => void {
  const stamp = () => `${fileStamp(files.certFile)}|${fileStamp(files.keyFile)}`;
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      const pair = readTlsPair(files.certFile, files.keyFile);
      server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' });
      log.info({ ...files, ...pair.info }, 'serving certificate reloaded');
    } catch (err) {
      log.error(
        { ...files, err: { message: (err as Error).message } },
        'new serving certificate or key is unusable: keeping the previous pair',
      );
    }
  }, intervalMs ?? DEFAULT_TLS_RELOAD_MS);
  timer.unref();
  return () => clearInterval(timer);
}
