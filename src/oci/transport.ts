import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import type * as Undici from 'undici';
import { type AddressClass, classifyAddress, isBlockedHostName, isContained } from './address.ts';
import { RegistryError } from './errors.ts';
import { parseRetryAfter } from './headers.ts';
import { redactUrl } from './redact.ts';

// undici's own modules, not its index: the index also loads its cookies, mock, cache and WebSocket
// code, about 35 ms of every CLI start (bench `cli`). The types are the index's. scripts/bundle-cli.ts
// bundles these requires: keep the createRequire line as it is.
const require = createRequire(import.meta.url);
const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
const buildConnector = require('undici/lib/core/connect.js') as typeof Undici.buildConnector;
const { fetch } = require('undici/lib/web/fetch/index.js') as { fetch: typeof Undici.fetch };
type Dispatcher = Undici.Dispatcher;
type Agent = Undici.Agent;
// Merged with the value above: buildConnector's option types, as the index declares them.
declare namespace buildConnector {
  type BuildOptions = Undici.buildConnector.BuildOptions;
  type Options = Undici.buildConnector.Options;
  type Callback = Undici.buildConnector.Callback;
  type connector = Undici.buildConnector.connector;
}

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
  /**
   * Hosts (`host` or `host:port`) that redirects and token realms may lead to even when they resolve to
   * loopback, link-local, private or metadata addresses. The registry being contacted and the insecure
   * registries are allowed without being listed.
   */
  allowedRedirectHosts?: readonly string[];
  /** Resolves the host names of contained connections (default: the system's, `dns.lookup`). */
  resolve?: Resolver;
  onRequest?: (e: RequestEvent) => void;
}

/** `dns.lookup` with `all: true`: every address a name resolves to. */
export type Resolver = (
  hostname: string,
  options: { family?: number; hints?: number },
  callback: (err: Error | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolver: Resolver = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, callback);

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
  /**
   * The `host[:port]` a policy governs for this request (default: the host of `url`). Any other host a
   * redirect leads to is contained: it is connected to only at a public address, unless it is allowed.
   */
  governedHost?: string;
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
  readonly #allowed: ReadonlySet<string>;
  readonly #caBundles = new Map<string, string>();
  /** Agents by (contained?, CA bundle host): a contained agent checks every address it connects to. */
  readonly #agents = new Map<string, Agent>();

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#insecure = new Set(opts.insecureRegistries.map((h) => h.toLowerCase()));
    this.#allowed = new Set((opts.allowedRedirectHosts ?? []).map((h) => h.toLowerCase()));
    for (const [host, pem] of Object.entries(opts.caBundles ?? {}))
      this.#caBundles.set(host.toLowerCase(), pem);
  }

  isInsecure(host: string): boolean {
    return this.#insecure.has(host.toLowerCase());
  }

  /**
   * Whether a URL a redirect or a token realm leads to must be contained (connected to only at public
   * addresses): anything but the governed host itself, an insecure registry the operator named, or a
   * host explicitly allowed. Refuses at once a host whose name alone reaches the node or a metadata
   * service, and an address literal that is not public (`OUTBOUND_DENIED`), so nothing is sent.
   */
  containment(url: URL, governedHost: string): boolean {
    const host = url.host.toLowerCase();
    if (host === governedHost.toLowerCase() || this.#insecure.has(host)) return false;
    if (this.#allowed.has(host) || this.#allowed.has(url.hostname.toLowerCase())) return false;
    const literal = classifyAddress(url.hostname);
    if (literal !== undefined && isContained(literal)) throw outboundDenied(url.host, url.hostname, literal);
    if (literal === undefined && isBlockedHostName(url.hostname)) {
      throw outboundDenied(url.host, url.hostname, 'metadata');
    }
    return true;
  }

  /** `http://host` for a registry named insecure, else `https://host` (Docker Hub's API host for its names). */
  baseUrl(host: string): URL {
    const apiHost = DOCKER_HUB_NAMES.has(host) ? 'registry-1.docker.io' : host;
    return new URL(`${this.isInsecure(host) ? 'http' : 'https'}://${apiHost}`);
  }

  /** Refuses plain HTTP to any `host:port` not named insecure (exactly: another port of it is not). */
  checkScheme(url: URL): void {
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && this.isInsecure(url.host)) return;
    throw new RegistryError(
      'REGISTRY_ERROR',
      `refusing ${url.protocol}//${url.host}: not an insecure registry`,
      {
        registry: url.host,
        ...(url.protocol === 'http:'
          ? {
              fix: `if ${url.host} (a registry or its token service) serves plain HTTP on purpose, name it with --insecure-registry ${url.host} (the chart's insecureRegistries value)`,
            }
          : {}),
      },
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
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
        // The URL is redacted, here and in the cause's text: a realm's query can carry a signed URL.
        const why = String((e as Error)?.message ?? e).replaceAll(req.url.href, redactUrl(req.url));
        throw new RegistryError('REGISTRY_ERROR', `${req.method} ${redactUrl(req.url)}: ${why}`, {
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
    const governedHost = req.governedHost ?? req.url.host;
    for (let hop = 0; ; hop++) {
      this.checkScheme(url);
      const contained = this.containment(url, governedHost);
      const res = await this.#once(
        { ...req, method, url, headers, ...(body === undefined ? {} : { body }) },
        contained,
      );
      const location = res.headers.get('location');
      if (!REDIRECT_STATUS.has(res.status) || location === null) return res;
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError(
          'REGISTRY_ERROR',
          `${req.method} ${redactUrl(req.url)}: more than ${MAX_REDIRECTS} redirects`,
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

  async #once(req: ExchangeRequest, contained: boolean): Promise<ExchangeResponse> {
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
        dispatcher: this.#agentFor(req.url.host, contained),
      };
      if (req.body !== undefined) init.body = req.body;
      let res: Awaited<ReturnType<typeof fetch>>;
      try {
        res = await fetch(req.url, init);
      } catch (e) {
        throw notRetryable(e, req) ?? asRetryable(e, req, attemptSignal);
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
        // The path alone: a query (a realm's or a redirect target's) can carry a signature or a token.
        path: req.url.pathname,
        status,
        ms: performance.now() - started,
        bytes,
      });
    }
  }

  #agentFor(host: string, contained: boolean): Dispatcher {
    const bundleHost = this.#caBundles.has(host.toLowerCase()) ? host.toLowerCase() : '';
    const key = `${contained ? 'contained' : 'direct'} ${bundleHost}`;
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      const pem = this.#caBundles.get(bundleHost);
      const tls = {
        timeout: this.#opts.requestTimeoutMs,
        ...(pem ? { ca: [...rootCertificates, pem] } : {}),
      };
      const resolve = this.#opts.resolve;
      agent = new Agent({
        connect: contained
          ? containedConnector(tls, resolve ?? systemResolver)
          : resolve === undefined
            ? tls
            : ({ ...tls, lookup: lookupWith(resolve, () => undefined) } as buildConnector.BuildOptions),
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }
}

/** Why a connection was not made: the address it would have reached is not a public one. */
class OutboundRefusal extends Error {
  override readonly name = 'OutboundRefusal';
  readonly address: string;
  readonly kind: AddressClass;
  constructor(host: string, address: string, kind: AddressClass) {
    super(`${host} resolves to ${address}, a ${kind} address`);
    this.address = address;
    this.kind = kind;
  }
}

/**
 * A connector that checks the address it connects to, not an address looked up before: the DNS answer
 * is checked inside the socket's own lookup, so a name cannot resolve to a public address for the check
 * and to a private one for the connection. Address literals never reach a lookup, so they are checked
 * first.
 */
function containedConnector(opts: buildConnector.BuildOptions, resolve: Resolver): buildConnector.connector {
  const lookup = lookupWith(resolve, (hostname, addresses) => {
    for (const a of addresses) {
      const kind = classifyAddress(a.address) ?? 'reserved';
      if (isContained(kind)) return new OutboundRefusal(hostname, a.address, kind);
    }
    return undefined;
  });
  const connect = buildConnector({ ...opts, lookup } as buildConnector.BuildOptions);
  return (options, callback) => {
    const kind = classifyAddress(options.hostname);
    if (kind !== undefined && isContained(kind)) {
      callback(new OutboundRefusal(options.hostname, options.hostname, kind), null);
      return;
    }
    connect(options, callback);
  };
}

/** A `lookup` for net/tls.connect that resolves with `resolve` and lets `refuse` veto the answer. */
function lookupWith(
  resolve: Resolver,
  refuse: (hostname: string, addresses: readonly LookupAddress[]) => Error | undefined,
) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number; hints?: number },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    const { family, hints } = options;
    resolve(hostname, { ...(family ? { family } : {}), ...(hints ? { hints } : {}) }, (err, addresses) => {
      if (err) return callback(err, '');
      const refused = refuse(hostname, addresses);
      if (refused) return callback(refused, '');
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (first === undefined) return callback(new Error(`${hostname}: no address`), '');
      return callback(null, first.address, first.family);
    });
  };
}

function outboundDenied(host: string, address: string, kind: AddressClass): RegistryError {
  const shown = address === host.replace(/:\d+$/, '') ? address : `${host} (${address})`;
  return new RegistryError(
    'OUTBOUND_DENIED',
    `refusing to connect to ${shown}: a ${kind} address that no policy governs (a redirect or token realm led there)`,
    {
      registry: host,
      fix: `if ${host} is a legitimate blob store or token service of the registry, allow it with --allow-registry-redirect-host ${host}`,
    },
  );
}

/**
 * What OpenSSL says when the answer to a ClientHello is plain HTTP ("HTTP/1.1 400" read as a TLS record):
 * the version bytes are wrong, or the record length they spell is too long, depending on the release.
 */
const PLAIN_HTTP_TLS_CODES: ReadonlySet<string> = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
]);
const PLAIN_HTTP_TLS_TEXT = /wrong version number|packet length too long/i;

/** Failures that no retry can change: a contained address, a TLS handshake answered in plain HTTP. */
function notRetryable(e: unknown, req: ExchangeRequest): RegistryError | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    if (c instanceof OutboundRefusal) return outboundDenied(req.url.host, c.address, c.kind);
    const code = (c as { code?: unknown }).code;
    if (
      req.url.protocol === 'https:' &&
      (PLAIN_HTTP_TLS_CODES.has(String(code)) || PLAIN_HTTP_TLS_TEXT.test(c.message))
    ) {
      const host = req.url.host;
      return new RegistryError(
        'REGISTRY_ERROR',
        `${host} did not answer the TLS handshake with TLS (it looks like a plain-HTTP registry): name it with --insecure-registry ${host} (Helm: insecureRegistries)`,
        {
          registry: host,
          cause: e,
          fix: `if ${host} serves plain HTTP, pass --insecure-registry ${host} (the chart's insecureRegistries value); otherwise fix its TLS`,
        },
      );
    }
  }
  return undefined;
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
      `${req.method} ${redactUrl(req.url)}: response body larger than the ${cap}-byte cap`,
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
