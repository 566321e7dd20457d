import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, fetch } from 'undici';
import { RegistryError } from './errors.ts';
import { parseRetryAfter } from './headers.ts';

/** One HTTP round trip, reported to `onRequest` (retries, redirects and token requests each count). */
export interface RequestEvent {
  /** The host contacted (`host[:port]`). */
  registry: string;
  method: string;
  path: string;
  /** Undefined when no answer came (network error, timeout). */
  status: number | undefined;
  ms: number;
  /** Body bytes read from the answer. */
  bytes: number;
}

export interface TransportOptions {
  insecureRegistries: readonly string[];
  caBundles?: Record<string, string>;
  requestTimeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  /** A Retry-After longer than this ends the retries (the answer is returned as is). */
  maxRetryDelayMs: number;
  userAgent: string;
  onRequest?: (e: RequestEvent) => void;
}

export interface ExchangeRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Cap on the body bytes read. */
  maxBytes: number;
  /** `error` (default): a longer body fails. `truncate`: stop reading at the cap and cancel the rest. */
  overflow?: 'error' | 'truncate';
  signal: AbortSignal;
  /** Hosts this request alone may reach over plain HTTP (a token realm beside an insecure registry). */
  plainHttpHosts?: readonly string[];
}

export interface ExchangeResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The URL that answered, after redirects. */
  url: URL;
  truncated: boolean;
}

/** Docker Hub is named `docker.io` in references; its API answers at registry-1.docker.io. */
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io']);
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const MAX_BACKOFF_MS = 5_000;
/** Non-2xx bodies are read only for their OCI error code. */
export const ERROR_BODY_CAP = 64 * 1024;

class Retryable extends Error {
  override readonly name = 'Retryable';
}

/**
 * HTTP for the registry client: one place for schemes, TLS trust, timeouts under the caller's deadline,
 * bounded retries, manual redirects (credentials never follow a change of origin) and bounded body reads.
 */
export class Transport {
  readonly #opts: TransportOptions;
  readonly #insecure: ReadonlySet<string>;
  readonly #agents = new Map<string, Agent>();
  readonly #defaultAgent: Agent;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#insecure = new Set(opts.insecureRegistries.map((h) => h.toLowerCase()));
    this.#defaultAgent = new Agent({ connect: { timeout: opts.requestTimeoutMs } });
    for (const [host, pem] of Object.entries(opts.caBundles ?? {})) {
      this.#agents.set(
        host.toLowerCase(),
        new Agent({ connect: { timeout: opts.requestTimeoutMs, ca: [...rootCertificates, pem] } }),
      );
    }
  }

  isInsecure(host: string): boolean {
    return this.#insecure.has(host.toLowerCase());
  }

  /** `http://host` for a registry named insecure, else `https://host` (Docker Hub's API host for its names). */
  baseUrl(host: string): URL {
    const apiHost = DOCKER_HUB_NAMES.has(host) ? 'registry-1.docker.io' : host;
    return new URL(`${this.isInsecure(host) ? 'http' : 'https'}://${apiHost}`);
  }

  /** Refuses plain HTTP to any host not named insecure. */
  checkScheme(url: URL, plainHttpHosts: readonly string[] = []): void {
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && (this.isInsecure(url.host) || plainHttpHosts.includes(url.host))) return;
    throw new RegistryError(
      'REGISTRY_ERROR',
      `refusing ${url.protocol}//${url.host}: not an insecure registry`,
      {
        registry: url.host,
      },
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.#defaultAgent.close(), ...[...this.#agents.values()].map((a) => a.close())]);
  }

  /** Sends a request with retries on 429/502/503/504 and network failures, following redirects. */
  async exchange(req: ExchangeRequest): Promise<ExchangeResponse> {
    const { maxRetries } = this.#opts;
    for (let attempt = 0; ; attempt++) {
      throwIfDeadline(req.signal, req.url);
      let res: ExchangeResponse;
      try {
        res = await this.#followRedirects(req);
      } catch (e) {
        if (req.signal.aborted) throw deadlineError(req.url, e);
        if (e instanceof Retryable && attempt < maxRetries) {
          await this.#wait(this.#backoff(attempt), req);
          continue;
        }
        if (e instanceof RegistryError) throw e;
        throw new RegistryError('REGISTRY_ERROR', `${req.method} ${req.url.href}: ${(e as Error).message}`, {
          registry: req.url.host,
          cause: e instanceof Retryable ? e.cause : e,
        });
      }
      if (!RETRY_STATUS.has(res.status) || attempt >= maxRetries) return res;
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      if (retryAfter !== undefined && retryAfter > this.#opts.maxRetryDelayMs) return res;
      await this.#wait(retryAfter ?? this.#backoff(attempt), req);
    }
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, this.#opts.retryBaseMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  async #wait(ms: number, req: ExchangeRequest): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: req.signal });
    } catch (e) {
      throw deadlineError(req.url, e);
    }
  }

  async #followRedirects(req: ExchangeRequest): Promise<ExchangeResponse> {
    let url = req.url;
    let headers = req.headers;
    let method = req.method;
    let body = req.body;
    for (let hop = 0; ; hop++) {
      this.checkScheme(url, req.plainHttpHosts);
      const res = await this.#once({ ...req, method, url, headers, ...(body === undefined ? {} : { body }) });
      const location = res.headers.get('location');
      if (!REDIRECT_STATUS.has(res.status) || location === null) return res;
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError(
          'REGISTRY_ERROR',
          `${req.method} ${req.url.href}: more than ${MAX_REDIRECTS} redirects`,
          {
            registry: req.url.host,
            status: res.status,
          },
        );
      }
      const next = new URL(location, url);
      if (next.origin !== url.origin) {
        // Credentials belong to the origin they were issued for: never forward them.
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
        );
      }
      if (res.status === 303 && method === 'POST') {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  async #once(req: ExchangeRequest): Promise<ExchangeResponse> {
    const started = performance.now();
    const attemptSignal = AbortSignal.any([req.signal, AbortSignal.timeout(this.#opts.requestTimeoutMs)]);
    let status: number | undefined;
    let bytes = 0;
    try {
      const init: Parameters<typeof fetch>[1] = {
        method: req.method,
        headers: { 'user-agent': this.#opts.userAgent, 'accept-encoding': 'identity', ...req.headers },
        redirect: 'manual',
        signal: attemptSignal,
        dispatcher: this.#agentFor(req.url.host),
      };
      if (req.body !== undefined) init.body = req.body;
      let res: Awaited<ReturnType<typeof fetch>>;
      try {
        res = await fetch(req.url, init);
      } catch (e) {
        throw asRetryable(e, req, attemptSignal);
      }
      status = res.status;
      const ok = res.status >= 200 && res.status < 300;
      const cap = ok ? req.maxBytes : Math.min(req.maxBytes, ERROR_BODY_CAP);
      const overflow = ok ? (req.overflow ?? 'error') : 'truncate';
      const read = await readBody(res, req, cap, overflow, attemptSignal);
      bytes = read.body.length;
      return {
        status: res.status,
        headers: res.headers as unknown as Headers,
        body: read.body,
        url: req.url,
        truncated: read.truncated,
      };
    } finally {
      this.#opts.onRequest?.({
        registry: req.url.host,
        method: req.method,
        path: req.url.pathname + req.url.search,
        status,
        ms: performance.now() - started,
        bytes,
      });
    }
  }

  #agentFor(host: string): Dispatcher {
    return this.#agents.get(host.toLowerCase()) ?? this.#defaultAgent;
  }
}

function throwIfDeadline(signal: AbortSignal, url: URL): void {
  if (signal.aborted) throw deadlineError(url, signal.reason);
}

function deadlineError(url: URL, cause: unknown): RegistryError {
  return new RegistryError('DEADLINE_EXCEEDED', `deadline exceeded while talking to ${url.host}`, {
    registry: url.host,
    cause,
  });
}

function asRetryable(e: unknown, req: ExchangeRequest, attemptSignal: AbortSignal): Error {
  if (req.signal.aborted) return deadlineError(req.url, e);
  if (attemptSignal.aborted) {
    return new Retryable(`request timed out`, { cause: e });
  }
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (e as Error).message;
  return new Retryable(`network error: ${detail}`, { cause: e });
}

async function readBody(
  res: Awaited<ReturnType<typeof fetch>>,
  req: ExchangeRequest,
  cap: number,
  overflow: 'error' | 'truncate',
  attemptSignal: AbortSignal,
): Promise<{ body: Uint8Array; truncated: boolean }> {
  const declared = res.headers.get('content-length');
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const length = declared === null || encoded ? undefined : Number(declared);
  const tooLarge = () =>
    new RegistryError(
      'REGISTRY_ERROR',
      `${req.method} ${req.url.href}: response body larger than the ${cap}-byte cap`,
      { registry: req.url.host, status: res.status },
    );
  if (res.body === null || req.method === 'HEAD') {
    await res.body?.cancel().catch(() => {});
    return { body: new Uint8Array(0), truncated: false };
  }
  if (length !== undefined && length > cap && overflow === 'error') {
    await res.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length > cap) {
        if (overflow === 'error') throw tooLarge();
        chunks.push(value.subarray(0, cap - total));
        total = cap;
        truncated = true;
        break;
      }
      chunks.push(value);
      total += value.length;
    }
  } catch (e) {
    // Not awaited: an aborted stream's cancel can wait on the socket, and the deadline cannot.
    reader.cancel().catch(() => {});
    if (e instanceof RegistryError) throw e;
    throw asRetryable(e, req, attemptSignal);
  }
  if (truncated) await reader.cancel().catch(() => {});
  if (!truncated && length !== undefined && total !== length) {
    throw new Retryable(`truncated body: ${total} of ${length} bytes`);
  }
  return { body: concat(chunks, total), truncated };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
