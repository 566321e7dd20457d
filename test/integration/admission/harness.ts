import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AdmissionRequest } from '../../../src/admission/review.ts';
import {
  type AdmissionServer,
  type AdmissionServerOptions,
  startAdmissionServer,
} from '../../../src/admission/server.ts';
import type { Decision } from '../../../src/engine/decision.ts';

export interface LogEntry {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is not. */
  json: unknown;
  /** SHA-256 fingerprint of the server's certificate on this connection. */
  fingerprint256: string;
  reusedSocket: boolean;
}

export interface TestServer {
  readonly server: AdmissionServer;
  readonly registry: Registry;
  readonly logs: LogEntry[];
  /** Requests that reached decide(), with their signals. */
  readonly decided: { request: AdmissionRequest; signal: AbortSignal }[];
  /** A keep-alive client that trusts the server's CA. */
  readonly agent: Agent;
  send(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<Reply>;
  /** POST /validate with a JSON body. */
  validate(body: unknown): Promise<Reply>;
  stop(): Promise<void>;
}

type Options = Partial<Omit<AdmissionServerOptions, 'logger' | 'metrics'>> & {
  /** The CA a client trusts; default the server's generated certificate. */
  caPem?: string;
};

/** Starts the admission server on 127.0.0.1:0 with a log sink and a fresh metrics registry. */
export async function startTestServer(opts: Options = {}): Promise<TestServer> {
  const logs: LogEntry[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logs.push(JSON.parse(line) as LogEntry) },
  );
  const registry = new Registry();
  const decided: TestServer['decided'] = [];
  const decide =
    opts.decide ?? (async (): Promise<Decision> => ({ allowed: true, warnings: [], findings: [] }));
  const server = await startAdmissionServer({
    port: 0,
    host: '127.0.0.1',
    tls: {},
    maxBodyBytes: 8 * 1024 * 1024,
    ready: () => true,
    ...opts,
    decide: (request, signal) => {
      decided.push({ request, signal });
      return decide(request, signal);
    },
    logger,
    metrics: registry,
  });
  const ca = opts.caPem ?? server.caPem;
  const agent = new Agent({ keepAlive: true, ...(ca ? { ca } : {}), maxSockets: 64 });
  const send = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    sendRequest(agent, `${server.url}${path}`, method, body, headers);
  return {
    server,
    registry,
    logs,
    decided,
    agent,
    send,
    validate: (body) =>
      send('POST', '/validate', JSON.stringify(body), { 'content-type': 'application/json' }),
    stop: async () => {
      agent.destroy();
      await server.close();
    },
  };
}

export function sendRequest(
  agent: Agent,
  url: string,
  method: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, agent, headers }, (res) => {
      // Read now: once the body ends, a kept-alive socket goes back to the agent.
      const fingerprint256 = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json,
          fingerprint256,
          reusedSocket: req.reusedSocket,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of one sample in Prometheus text output, e.g. `metric(text, 'x_total{result="allowed"}')`. */
export function metric(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
