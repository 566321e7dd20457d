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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BARE,
  describeAnswer,
  HOST,
  load,
  type Measurement,
  measure,
  medianOf,
  post,
  type Running,
  ratio,
  startServer,
  stopServer,
  type Target,
} from './harness.ts';

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
const logLevel = flags['log-level'];

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
      if (warmup > 0) await load(server.url, bodyFile, { seconds: warmup, connections, rate });
    }
    // Rounds alternate the order, so that a slow spell of the machine does not land on one server only.
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const m = await measure(running[i]!, bodyFile, { seconds: duration, connections, rate });
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
