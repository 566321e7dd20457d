// `modelgate serve` as a real process (the entry point users run), on a free loopback port, with its
// whole log kept for assertions and a keep-alive HTTPS client for /validate and /metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { freePort } from './process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServeReply {
  status: number;
  text: string;
  /** Milliseconds from sending the request to reading the whole answer. */
  ms: number;
}

export interface AdmissionAnswer {
  allowed: boolean;
  code?: number;
  message?: string;
  warnings?: string[];
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  send(method: string, path: string, body?: string): Promise<ServeReply>;
  /** POSTs an AdmissionReview; returns its response fields and the time taken. */
  validate(review: unknown): Promise<{ answer: AdmissionAnswer; ms: number; status: number }>;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
  /** Resident and peak resident memory of the process, in bytes (Linux /proc). */
  memory(): { rss: number; peak: number };
  stop(): Promise<void>;
}

/** Starts `modelgate serve ARGS` on a free loopback port and waits until /healthz answers. */
export async function startServe(
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['src/cli/main.ts', 'serve', '--host', '127.0.0.1', '--port', String(port), ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env },
  );
  const chunks: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  const output = () => chunks.join('');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await once(child, 'exit');
    clearTimeout(killer);
  };
  const url = `https://127.0.0.1:${port}`;
  // The server's certificate is generated at start; this client only ever talks to loopback.
  const agent = new Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 128 });
  const send = (method: string, path: string, body?: string) =>
    new Promise<ServeReply>((resolve, reject) => {
      const started = performance.now();
      const req = request(
        `${url}${path}`,
        {
          method,
          agent,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(parts).toString('utf8'),
              ms: performance.now() - started,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
      req.end(body);
    });
  try {
    await waitHealthy(child, output, () => send('GET', '/healthz'), opts.timeoutMs ?? 30_000);
  } catch (err) {
    agent.destroy();
    await stop();
    throw err;
  }
  return {
    child,
    url,
    output,
    send,
    async validate(review) {
      const reply = await send('POST', '/validate', JSON.stringify(review));
      let answer: AdmissionAnswer;
      try {
        const r = (JSON.parse(reply.text) as { response: Record<string, unknown> }).response;
        const status = r.status as { code?: number; message?: string } | undefined;
        answer = {
          allowed: r.allowed === true,
          ...(status?.code !== undefined ? { code: status.code } : {}),
          ...(status?.message !== undefined ? { message: status.message } : {}),
          ...(Array.isArray(r.warnings) ? { warnings: r.warnings as string[] } : {}),
        };
      } catch {
        throw new Error(`not an AdmissionReview answer (HTTP ${reply.status}): ${reply.text.slice(0, 300)}`);
      }
      return { answer, ms: reply.ms, status: reply.status };
    },
    async metrics() {
      const reply = await send('GET', '/metrics');
      if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
      return reply.text;
    },
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
    },
    async stop() {
      agent.destroy();
      await stop();
    },
  };
}

async function waitHealthy(
  child: ChildProcess,
  output: () => string,
  health: () => Promise<ServeReply>,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `modelgate serve exited (${child.exitCode ?? child.signalCode}):\n${output().slice(-4000)}`,
      );
    try {
      if ((await health()).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until)
      throw new Error(`modelgate serve did not start in ${timeoutMs} ms:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of one Prometheus sample, matched by name and labels (0 when absent). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

/** An AdmissionReview for a Pod in `namespace` naming `models` in its annotation. */
export function podReview(uid: string, models: readonly string[], namespace = 'ml'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      name: `pod-${uid}`,
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `pod-${uid}`, annotations: { 'modelgate.dev/models': models.join('\n') } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
}
