/**
 * `POST /validate` throughput and latency: modelgate (the real CLI, `modelgate serve`) side by side with a
 * bare node:https server answering a fixed AdmissionReview. Each server runs in its own child process and
 * the load generator (autocannon, bench/load.ts) in a third, one server at a time, on loopback only. The request is a Pod
 * naming one model that no policy governs, which `--unmatched deny` refuses without any network call:
 * the cost measured is the webhook's own (TLS, HTTP, parsing, extraction, matching, answer, log line).
 *
 * Usage: node bench/validate-bench.ts [--duration 10] [--warmup 3] [--connections 20] [--rounds 3]
 *                                     [--rate 0] [--stub] [--log-level info]
 *   --rate    offered load in requests/s (all connections together); default 0, as fast as each server
 *             goes. A rate both servers sustain compares latency and CPU per request at equal load.
 *   --rounds  measured runs per server, alternating between the servers; the table shows the median round.
 *             The machine is shared: figures from one round alone swing with whatever else runs.
 *   --stub  adds a row for the admission server alone around a decide() that denies at once
 *           (bench/modelgate-stub.ts), to tell the server's cost from the engine's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '0' },
    stub: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
  },
});
const duration = positive('--duration', flags.duration, 120);
const warmup = positive('--warmup', flags.warmup, 60, true);
const connections = positive('--connections', flags.connections, 200);
const rounds = positive('--rounds', flags.rounds, 20);
const rate = positive('--rate', flags.rate, 1_000_000, true);
// USER_HZ: 100 on every Linux this runs on (sysconf is not reachable from Node).
const CLOCK_TICKS = 100;
const logLevel = flags['log-level'];

interface Target {
  readonly name: string;
  readonly argv: (port: number) => string[];
}

const BARE: Target = { name: 'bare node:https', argv: (port) => ['bench/bare-server.ts', String(port)] };
const MODELGATE: Target = {
  name: 'modelgate serve',
  argv: (port) => [
    'src/cli/main.ts',
    'serve',
    '--policy-file',
    'bench/fixtures/policies.yaml',
    '--port',
    String(port),
    '--host',
    HOST,
    '--unmatched',
    'deny',
    '--log-level',
    logLevel,
  ],
};
const STUB: Target = {
  name: 'admission server, stub decide',
  argv: (port) => ['bench/modelgate-stub.ts', String(port), logLevel],
};

/** The AdmissionReview every request sends: a Pod naming one model outside the bench policy's globs. */
function reviewBody(): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '3f2c9a6e-0d8b-4f4e-9a53-7b1c2d3e4f50',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'bench',
      name: 'inference-0',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:bench:deployer', groups: ['system:serviceaccounts'] },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'inference-0',
          namespace: 'bench',
          labels: { app: 'inference' },
          annotations: { 'modelgate.dev/models': 'models.elsewhere.example/acme/llm:v1' },
        },
        spec: {
          containers: [
            {
              name: 'server',
              image: 'ghcr.io/acme/inference-server:1.4.2',
              args: ['--model-dir', '/models'],
              ports: [{ containerPort: 8080 }],
              resources: { requests: { cpu: '2', memory: '8Gi' } },
            },
          ],
        },
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

interface Measurement {
  readonly name: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Server CPU time (user + system) per answered request, in microseconds; NaN where /proc is missing. */
  readonly cpuUs: number;
}

interface Running {
  readonly target: Target;
  readonly child: ChildProcess;
  readonly url: string;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
  const bodyFile = join(work, 'review.json');
  writeFileSync(bodyFile, reviewBody());
  const targets = flags.stub ? [BARE, STUB, MODELGATE] : [BARE, MODELGATE];
  console.log(
    `POST /validate over HTTPS on ${HOST}: ${connections} connections, ${warmup} s warm-up, ` +
      `${rounds} round(s) of ${duration} s per server${rate > 0 ? ` at ${rate} req/s` : ''}, one server loaded at a time (log level ${logLevel}); ` +
      `load average before: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
  );
  const running: Running[] = [];
  const rows: Measurement[][] = targets.map(() => []);
  try {
    for (const target of targets) running.push(await startServer(target, work));
    for (const server of running) {
      const sample = await post(server.url, readFileSync(bodyFile, 'utf8'));
      console.log(`${server.target.name}: ${describeAnswer(sample)}`);
      if (warmup > 0) await load(server.url, bodyFile, warmup);
    }
    // Rounds alternate the order, so that a slow spell of the machine does not land on one server only.
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const m = await measure(running[i]!, bodyFile);
        rows[i]!.push(m);
        if (rounds > 1) console.log(`  round ${round + 1}: ${m.name}: ${m.rps.toFixed(0)} req/s`);
      }
    }
  } finally {
    await Promise.all(running.map((r) => stopServer(r.child)));
    rmSync(work, { recursive: true, force: true });
  }
  printTable(rows.map(medianOf));
}

async function startServer(target: Target, work: string): Promise<Running> {
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
  return { target, child, url: `https://${HOST}:${port}/validate` };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function measure(server: Running, bodyFile: string): Promise<Measurement> {
  const before = cpuSeconds(server.child.pid);
  const r = await load(server.url, bodyFile, duration);
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

/** The round with the median throughput, and the error counts of all rounds. */
function medianOf(ms: readonly Measurement[]): Measurement {
  const sorted = [...ms].sort((a, b) => a.rps - b.rps);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  return {
    ...mid,
    non2xx: ms.reduce((n, m) => n + m.non2xx, 0),
    errors: ms.reduce((n, m) => n + m.errors, 0),
  };
}

/** User + system CPU seconds of a process, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Runs the load generator (bench/load.ts, autocannon) in its own process and returns its result. */
async function load(url: string, bodyFile: string, seconds: number): Promise<LoadResult> {
  const args = ['bench/load.ts', url, bodyFile, String(connections), String(seconds), String(rate)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the load generator exited with ${code}: ${Buffer.concat(err).toString()}`);
  return JSON.parse(Buffer.concat(out).toString()) as LoadResult;
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

interface Reply {
  status: number;
  body: string;
}

function get(url: string): Promise<Reply> {
  return send(url, 'GET');
}

function post(url: string, body: string): Promise<Reply> {
  return send(url, 'POST', body);
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
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

function describeAnswer(reply: Reply): string {
  try {
    const { response } = JSON.parse(reply.body) as {
      response: { allowed: boolean; status?: { code: number; message: string } };
    };
    const first = response.status?.message.split('\n').slice(0, 2).join(' / ') ?? '';
    return `HTTP ${reply.status}, allowed=${response.allowed}, code ${response.status?.code}: ${first.slice(0, 140)}`;
  } catch {
    return `HTTP ${reply.status}: ${reply.body.slice(0, 140)}`;
  }
}

function printTable(results: readonly Measurement[]): void {
  const rows: string[][] = [
    ['server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU us/req', 'requests', 'non-2xx', 'errors'],
  ];
  for (const r of results) {
    rows.push([
      r.name,
      r.rps.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      Number.isNaN(r.cpuUs) ? 'n/a' : r.cpuUs.toFixed(0),
      `${r.requests}`,
      `${r.non2xx}`,
      `${r.errors}`,
    ]);
  }
  const bare = results.find((r) => r.name === BARE.name);
  const mg = results.find((r) => r.name === MODELGATE.name);
  if (bare && mg) {
    rows.push([
      'modelgate/bare',
      ratio(mg.rps, bare.rps),
      ratio(mg.p50, bare.p50),
      ratio(mg.p99, bare.p99),
      ratio(mg.cpuUs, bare.cpuUs),
      '',
      '',
      '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  console.log('');
  for (const [n, row] of rows.entries()) {
    console.log(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    );
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const failed = results.filter((r) => r.non2xx > 0 || r.errors > 0);
  if (failed.length > 0) {
    console.log(`\nwarning: non-2xx answers or errors from ${failed.map((r) => r.name).join(', ')}`);
    process.exitCode = 1;
  }
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

function freePort(): Promise<number> {
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

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

function positive(flag: string, value: string, max: number, zeroOk = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1) || n > max) {
    throw new Error(
      `${flag} must be an integer from ${zeroOk ? 0 : 1} to ${max} (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

await main();
