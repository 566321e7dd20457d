/**
 * Warm-cache `POST /validate` for a Pod naming 3 cosign-signed models, against a bare node:https server
 * answering a fixed AdmissionReview, side by side in one run. The bench pushes the models to a loopback
 * registry (go-containerregistry) with oras, signs them with cosign, and starts the real `modelgate serve`
 * with a policy requiring the signature; one request warms the cache (and is checked to be allowed), then
 * each server is loaded in turn by autocannon in another process (bench/load.ts), rounds alternating.
 * A second pass offers both servers a fixed 500 requests/s and reports p50/p99 at that load.
 *
 * Usage: npm run bench -- warm [--duration 10] [--warmup 3] [--connections 20] [--rounds 3] [--rate 500]
 *                               [--log-level info] [--stub]
 *   --stub  adds the admission server alone around a decide() that answers at once (bench/modelgate-stub.ts),
 *           to tell the server's cost from the engine's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRegistry } from '../test/support/registries.ts';
import { podReview } from '../test/support/serve.ts';
import { pushSignedModels, signedPolicy, writePolicies } from '../test/support/signed-models.ts';
import {
  BARE,
  describeAnswer,
  HOST,
  type Measurement,
  measure,
  medianOf,
  paced,
  post,
  type Running,
  ratio,
  startServer,
  stopServer,
  type Target,
} from './harness.ts';
import { machineLine, printTable } from './support.ts';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '500' },
    'log-level': { type: 'string', default: 'info' },
    stub: { type: 'boolean', default: false },
  },
});
const duration = Number(flags.duration);
const warmup = Number(flags.warmup);
const connections = Number(flags.connections);
const rounds = Number(flags.rounds);
const fixedRate = Number(flags.rate);

async function main(): Promise<void> {
  console.log(machineLine());
  const work = mkdtempSync(join(tmpdir(), 'modelgate-warm-'));
  const registry = await startRegistry('ggcr', { warningProbability: 0 });
  const running: Running[] = [];
  try {
    const models = await pushSignedModels({ host: registry.host }, { signed: 3 });
    const policyFile = await writePolicies(work, [signedPolicy(registry.host, models.publicKey)]);
    const bodyFile = join(work, 'review.json');
    const body = JSON.stringify(podReview('3f2c9a6e-0d8b-4f4e-9a53-7b1c2d3e4f50', models.signed, 'bench'));
    writeFileSync(bodyFile, body);
    const modelgate: Target = {
      name: 'modelgate serve (3 signed models, warm)',
      argv: (port) => [
        'src/cli/main.ts',
        'serve',
        '--policy-file',
        policyFile,
        '--insecure-registry',
        registry.host,
        '--port',
        String(port),
        '--host',
        HOST,
        '--log-level',
        flags['log-level'],
      ],
    };
    console.log(
      `POST /validate over HTTPS on ${HOST}: ${connections} connections, ${warmup} s warm-up, ${rounds} round(s) of ${duration} s per server, one server loaded at a time\n`,
    );
    const stub: Target = {
      name: 'admission server, stub decide',
      argv: (port) => ['bench/modelgate-stub.ts', String(port), flags['log-level']],
    };
    const targets = flags.stub ? [BARE, stub, modelgate] : [BARE, modelgate];
    for (const t of targets) running.push(await startServer(t, work));
    for (const server of running) {
      const answer = await post(server.url, body);
      console.log(`${server.target.name}: ${describeAnswer(answer)}`);
      if (server.target === modelgate && !answer.body.includes('"allowed":true'))
        throw new Error('modelgate did not admit the signed models: the bench would measure something else');
      if (warmup > 0) await measure(server, bodyFile, { seconds: warmup, connections, rate: 0 });
    }

    const open: Measurement[][] = running.map(() => []);
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const m = await measure(running[i]!, bodyFile, { seconds: duration, connections, rate: 0 });
        open[i]!.push(m);
        console.log(`  round ${round + 1}: ${m.name}: ${m.rps.toFixed(0)} req/s, p99 ${m.p99.toFixed(2)} ms`);
      }
    }
    const fixed = [];
    for (const server of running)
      fixed.push(await paced(server, bodyFile, { rate: fixedRate, seconds: duration }));
    report('as fast as each server goes (median round)', open.map(medianOf));
    console.log(`\nat a fixed ${fixedRate} requests/s, evenly spaced (open loop, bench/paced-load.ts)`);
    const rows: string[][] = [
      ['server', 'sent', 'answered', 'p50 ms', 'p99 ms', 'max ms', 'server CPU us/req', 'errors'],
    ];
    fixed.forEach((f, i) => {
      rows.push([
        running[i]!.target.name,
        String(f.sent),
        String(f.ok),
        f.p50.toFixed(2),
        f.p99.toFixed(2),
        f.max.toFixed(2),
        Number.isNaN(f.cpuUs) ? 'n/a' : f.cpuUs.toFixed(0),
        String(f.errors + f.non2xx),
      ]);
    });
    const bareFixed = fixed[0];
    const mgFixed = fixed.at(-1);
    rows.push([
      'modelgate/bare',
      '',
      '',
      ratio(mgFixed!.p50, bareFixed!.p50),
      ratio(mgFixed!.p99, bareFixed!.p99),
      '',
      ratio(mgFixed!.cpuUs, bareFixed!.cpuUs),
      '',
    ]);
    printTable(rows);
    console.log(
      `\naims: throughput >= 0.50x the bare server (measured ${ratio(medianOf(open.at(-1)!).rps, medianOf(open[0]!).rps)}); p99 < 10 ms at ${fixedRate} req/s (measured ${mgFixed!.p99.toFixed(2)} ms)`,
    );
  } finally {
    await Promise.all(running.map((r) => stopServer(r.child)));
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function report(title: string, results: readonly Measurement[]): void {
  console.log(`\n${title}`);
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
  const bare = results[0];
  const mg = results.at(-1);
  if (bare && mg)
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
  printTable(rows);
  if (results.some((r) => r.non2xx > 0 || r.errors > 0)) {
    console.log('warning: non-2xx answers or errors');
    process.exitCode = 1;
  }
}

await main();
