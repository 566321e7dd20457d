/**
 * Cold verification of one cosign-signed model with an ML-BOM on a loopback registry (go-containerregistry,
 * referrers API): the policy requires the signature, the ML-BOM with a hash match, and the default formats
 * rule (pickle refused), so every check runs. Each round uses a fresh verifier (no cache, no pooled
 * connection, no token) and reports the round trips made, the sequential round trips on the critical path
 * (from the client's onRequest timings), bytes read and wall time. Baseline in the same run: one
 * `GET /v2/` round trip on a fresh connection, so that the wall time reads as a multiple of the loopback
 * round trip on this machine now.
 *
 * Usage: npm run bench -- cold [--rounds 20]
 */
import { verifierFrom } from '../src/cli/setup.ts';
import { parseReference } from '../src/reference/reference.ts';
import { startRegistry } from '../test/support/registries.ts';
import { pushSignedModels, signedPolicy } from '../test/support/signed-models.ts';
import {
  compile,
  criticalPath,
  intFlag,
  machineLine,
  median,
  printTable,
  requestRecorder,
} from './support.ts';

const rounds = intFlag('rounds', 20);

async function main(): Promise<void> {
  console.log(machineLine());
  const registry = await startRegistry('ggcr', { warningProbability: 0 });
  try {
    const models = await pushSignedModels({ host: registry.host }, { signed: 1, mlbom: true });
    const raw = models.signed[0]!;
    const parsed = parseReference(raw);
    if (!parsed.ok) throw new Error(parsed.error);
    const policy = compile(signedPolicy(registry.host, models.publicKey, { mlbom: true }));

    const walls: number[] = [];
    const counts: number[] = [];
    const depths: number[] = [];
    const bytes: number[] = [];
    const rtts: number[] = [];
    let first: ReturnType<typeof criticalPath> | undefined;
    let firstRequests: ReturnType<typeof requestRecorder>['requests'] = [];
    for (let i = 0; i < rounds; i++) {
      rtts.push(await pingRoundTrip(registry.host));
      const rec = requestRecorder();
      const { verifier, close } = verifierFrom(
        { insecureRegistry: [registry.host] },
        { onRequest: rec.onRequest },
      );
      const started = performance.now();
      const outcome = await verifier.verify(parsed.ref, policy, AbortSignal.timeout(30_000));
      const wall = performance.now() - started;
      await close();
      if (outcome.failures.length > 0) throw new Error(`not verified: ${JSON.stringify(outcome.failures)}`);
      const path = criticalPath(rec.requests);
      walls.push(wall);
      counts.push(rec.requests.length);
      depths.push(path.depth);
      bytes.push(rec.requests.reduce((n, r) => n + r.bytes, 0));
      if (i === rounds - 1) {
        first = path;
        firstRequests = rec.requests;
      }
    }

    console.log(`\none model (${raw.split('@')[0]}), signature + ML-BOM + formats, ${rounds} cold rounds\n`);
    console.log('requests of the last round (start, duration, depth on the critical path):');
    const onPath = new Set(first?.chain);
    const t0 = Math.min(...firstRequests.map((r) => r.start));
    for (const r of [...firstRequests].sort((a, b) => a.start - b.start)) {
      const mark = onPath.has(r) ? `  <- ${first!.chain.indexOf(r) + 1}` : '';
      console.log(
        `  +${(r.start - t0).toFixed(1).padStart(6)} ms ${r.ms.toFixed(1).padStart(6)} ms  ${r.method} ${r.path} ${r.status} ${r.bytes} B${mark}`,
      );
    }
    console.log('');
    const rtt = median(rtts);
    printTable([
      ['metric (median of rounds)', 'value'],
      ['requests made', String(median(counts))],
      ['sequential round trips (critical path)', String(median(depths))],
      ['bytes read', String(median(bytes))],
      ['wall time', `${median(walls).toFixed(1)} ms`],
      ['baseline: one GET /v2/ on a new connection', `${rtt.toFixed(2)} ms`],
      ['wall time / baseline round trip', `${(median(walls) / rtt).toFixed(1)}x`],
    ]);
    console.log(`\naim: <= 4 sequential round trips; measured ${median(depths)}`);
  } finally {
    await registry.stop();
  }
}

/** One GET /v2/ on a fresh connection, as the verifier's first request would be. */
async function pingRoundTrip(host: string): Promise<number> {
  const { Agent, fetch } = await import('undici');
  const agent = new Agent();
  const started = performance.now();
  const res = await fetch(`http://${host}/v2/`, { dispatcher: agent });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  await agent.close();
  return ms;
}

await main();
