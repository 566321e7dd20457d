/**
 * A burst of pod admissions naming the same models, on a cold webhook: 1,000 Pods, each naming the same
 * 20 cosign-signed models with ML-BOMs (go-containerregistry on loopback), sent to the real
 * `modelgate serve` over 100 connections at once. Coalescing should turn the 20,000 (model, policy)
 * verifications into about one verification per model. Reported: registry requests made (from the
 * server's /metrics), verifications run, waiters coalesced, admissions answered and their latency, and
 * the server's peak resident memory. Baselines in the same run: the requests one cold verification of
 * one model makes (so the ideal is 20 times that), and the server's memory when idle.
 *
 * Usage: npm run bench -- burst [--pods 1000] [--models 20] [--connections 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifierFrom } from '../src/cli/setup.ts';
import { parseReference } from '../src/reference/reference.ts';
import { startRegistry } from '../test/support/registries.ts';
import { podReview, sample, startServe } from '../test/support/serve.ts';
import { pushSignedModels, signedPolicy, writePolicies } from '../test/support/signed-models.ts';
import { compile, intFlag, machineLine, mib, printTable, quantile, requestRecorder } from './support.ts';

const pods = intFlag('pods', 1000);
const modelCount = intFlag('models', 20);
const connections = intFlag('connections', 100);

async function main(): Promise<void> {
  console.log(machineLine());
  const work = mkdtempSync(join(tmpdir(), 'modelgate-burst-'));
  const registry = await startRegistry('ggcr', { warningProbability: 0 });
  try {
    console.log(`pushing and signing ${modelCount} models...`);
    const models = await pushSignedModels({ host: registry.host }, { signed: modelCount, mlbom: true });
    const policy = signedPolicy(registry.host, models.publicKey, { mlbom: true });
    const policyFile = await writePolicies(work, [policy]);

    // Baseline: one cold verification of one model, in-process.
    const rec = requestRecorder();
    const one = verifierFrom({ insecureRegistry: [registry.host] }, { onRequest: rec.onRequest });
    const parsed = parseReference(models.signed[0]!);
    if (!parsed.ok) throw new Error(parsed.error);
    const outcome = await one.verifier.verify(parsed.ref, compile(policy), AbortSignal.timeout(30_000));
    await one.close();
    if (outcome.failures.length > 0)
      throw new Error(`baseline not verified: ${JSON.stringify(outcome.failures)}`);
    const perModel = rec.requests.length;

    const serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      registry.host,
      '--log-level',
      'warn',
      '--deadline-ms',
      '25000',
    ]);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const idle = serve.memory().rss;
      let next = 0;
      let allowed = 0;
      const times: number[] = [];
      const started = performance.now();
      const worker = async () => {
        while (next < pods) {
          const i = next++;
          const r = await serve.validate(podReview(`burst-${i}`, models.signed, 'ml'));
          times.push(r.ms);
          if (r.answer.allowed) allowed += 1;
        }
      };
      await Promise.all(Array.from({ length: connections }, worker));
      const wall = performance.now() - started;
      const text = await serve.metrics();
      const memory = serve.memory();
      const requests = sample(text, 'modelgate_registry_requests_total');
      const verifications = sample(text, 'modelgate_verification_duration_seconds_count');
      const coalesced = sample(text, 'modelgate_verifications_coalesced_total');
      console.log(
        `\n${pods} Pods x ${modelCount} signed models (signature + ML-BOM + formats), ${connections} connections, cold start\n`,
      );
      printTable([
        ['metric', 'value'],
        ['admissions answered / allowed', `${times.length} / ${allowed}`],
        ['burst wall time', `${(wall / 1000).toFixed(2)} s`],
        [
          'admission latency p50 / p99',
          `${quantile(times, 0.5).toFixed(1)} / ${quantile(times, 0.99).toFixed(1)} ms`,
        ],
        ['(model, policy) verdicts asked for', String(pods * modelCount)],
        ['verifications run', String(verifications)],
        ['waiters coalesced into a running verification', String(coalesced)],
        ['registry requests made', String(requests)],
        ['baseline: requests of one cold verification', String(perModel)],
        ['registry requests / (models x baseline)', `${(requests / (modelCount * perModel)).toFixed(2)}x`],
        ['server RSS idle / peak (VmHWM)', `${mib(idle)} / ${mib(memory.peak)}`],
      ]);
      console.log(
        `\naims: about one verification per model (measured ${verifications} for ${modelCount}); peak RSS < 200 MiB`,
      );
      if (allowed !== pods) process.exitCode = 1;
    } finally {
      await serve.stop();
    }
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
