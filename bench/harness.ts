/**
 * Servers in child processes and the load generator (bench/load.ts, autocannon) in another, for the
 * HTTP benchmarks: each measured side by side with a baseline in the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load.ts';
import type { PacedResult } from './paced-load.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HOST = '127.0.0.1';
// USER_HZ: 100 on every Linux this runs on (sysconf is not reachable from Node).
const CLOCK_TICKS = 100;

export interface Target {
  readonly name: string;
  /** Node arguments (script and its flags) for a server on `port`. */
  readonly argv: (port: number) => string[];
}

export interface Running {
  readonly target: Target;
  readonly child: ChildProcess;
  readonly url: string;
  readonly logFile: string;
}

export interface Measurement {
  readonly name: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Server CPU time per answered request, microseconds (NaN without /proc). */
  readonly cpuUs: number;
}

export const BARE: Target = {
  name: 'bare node:https',
  argv: (port) => ['bench/bare-server.ts', String(port)],
};

export async function startServer(target: Target, work: string): Promise<Running> {
  const port = await freePort();
  const logFile = join(work, `${target.name.replace(/\W+/g, '-')}.log`);
  const logFd = openSync(logFile, 'w');
  const child = spawn(process.execPath, target.argv(port), { cwd: ROOT, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  try {
    await waitReady(port, child, logFile);
  } catch (err) {
    await stopServer(child);
    throw err;
  }
  return { target, child, url: `https://${HOST}:${port}/validate`, logFile };
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Loads one server for `seconds` (at `rate` req/s in all, 0: as fast as it goes) and measures it. */
export async function measure(
  server: Running,
  bodyFile: string,
  opts: { seconds: number; connections: number; rate: number },
): Promise<Measurement> {
  const before = cpuSeconds(server.child.pid);
  const r = await load(server.url, bodyFile, opts);
  const cpu = cpuSeconds(server.child.pid) - before;
  return {
    name: server.target.name,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    requests: r.ok,
    non2xx: r.non2xx,
    errors: r.errors,
    cpuUs: r.ok > 0 ? (cpu / r.ok) * 1e6 : Number.NaN,
  };
}

/** The load generator in its own process. */
export async function load(
  url: string,
  bodyFile: string,
  opts: { seconds: number; connections: number; rate: number },
): Promise<LoadResult> {
  const args = [
    'bench/load.ts',
    url,
    bodyFile,
    String(opts.connections),
    String(opts.seconds),
    String(opts.rate),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the load generator exited with ${code}: ${Buffer.concat(err).toString()}`);
  return JSON.parse(Buffer.concat(out).toString()) as LoadResult;
}

/** Offers `rate` requests/s, evenly spaced, for `seconds` (bench/paced-load.ts in its own process). */
export async function paced(
  server: Running,
  bodyFile: string,
  opts: { rate: number; seconds: number },
): Promise<PacedResult & { cpuUs: number }> {
  const before = cpuSeconds(server.child.pid);
  const args = ['bench/paced-load.ts', server.url, bodyFile, String(opts.rate), String(opts.seconds)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`paced-load exited with ${code}: ${Buffer.concat(err).toString()}`);
  const r = JSON.parse(Buffer.concat(out).toString()) as PacedResult;
  const cpu = cpuSeconds(server.child.pid) - before;
  return { ...r, cpuUs: r.ok > 0 ? (cpu / r.ok) * 1e6 : Number.NaN };
}

/** The round with the median throughput, with the error counts of all rounds. */
export function medianOf(ms: readonly Measurement[]): Measurement {
  const sorted = [...ms].sort((a, b) => a.rps - b.rps);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  return {
    ...mid,
    non2xx: ms.reduce((n, m) => n + m.non2xx, 0),
    errors: ms.reduce((n, m) => n + m.errors, 0),
  };
}

export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Peak resident memory (VmHWM) of a process, bytes. */
export function peakRss(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) * 1024;
  } catch {
    return Number.NaN;
  }
}

export interface Reply {
  status: number;
  body: string;
}

export function post(url: string, body: string): Promise<Reply> {
  return send(url, 'POST', body);
}

export function get(url: string): Promise<Reply> {
  return send(url, 'GET');
}

function send(url: string, method: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // The servers use throwaway self-signed certificates; this client only ever talks to loopback.
    const req = request(
      url,
      { method, rejectUnauthorized: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** `allowed=...` and the first line of the status message of an AdmissionReview answer. */
export function describeAnswer(reply: Reply): string {
  try {
    const { response } = JSON.parse(reply.body) as {
      response: { allowed: boolean; status?: { code: number; message: string } };
    };
    const first = response.status?.message.split('\n').slice(0, 2).join(' / ') ?? '';
    return `HTTP ${reply.status}, allowed=${response.allowed}${response.status ? `, code ${response.status.code}: ${first.slice(0, 140)}` : ''}`;
  } catch {
    return `HTTP ${reply.status}: ${reply.body.slice(0, 140)}`;
  }
}

async function waitReady(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited early (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`);
    }
    try {
      const reply = await get(`https://${HOST}:${port}/healthz`);
      if (reply.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`server not ready after 30 s:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}
