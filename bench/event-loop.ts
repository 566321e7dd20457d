/**
 * Event-loop stalls: hostile inputs driven through the real admission path (the HTTPS server, the
 * AdmissionReview codec, the Engine, the registry-bound verifier against a loopback go-containerregistry
 * with cosign-signed models and their ML-BOMs), with `perf_hooks.monitorEventLoopDelay` sampling the
 * server's loop at 1 ms. The client runs in a worker thread (bench/event-loop-client.ts): its JSON and
 * TLS work stays off the measured loop. Each phase reports the loop's worst delay while it ran, and its
 * ratio to the baseline phase (benign, warm Pods) of the same run, and the CPU time the server's thread
 * spent per request (which the machine's load stretches less than it stretches delays). Aim: every
 * worst delay below 50 ms.
 *
 * Phases: the first ML-BOM check of the process (cold verification: signature, ML-BOM schema, formats),
 * a second model verified cold once the process is warm, benign warm Pods (baseline), pathological
 * namespace and model globs in a policy met by matching names, a 6 MB deeply nested AdmissionReview,
 * 3 MB and 6 MB flat ones, and an 8,000-reference annotation. Four requests in flight throughout.
 *
 * Usage: npm run bench -- event-loop [--requests 200]
 */
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startAdmissionServer } from '../src/admission/server.ts';
import { verifierFrom } from '../src/cli/setup.ts';
import { Engine } from '../src/engine/engine.ts';
import { warmUpCycloneDxValidator } from '../src/evidence/mlbom/index.ts';
import type { PolicySnapshot } from '../src/policy/snapshot.ts';
import { publicGoodTrustedRoot } from '../src/verify/trust.ts';
import { startRegistry } from '../test/support/registries.ts';
import { pushSignedModels, signedPolicy } from '../test/support/signed-models.ts';
import type { ClientSetup, FromClient } from './event-loop-client.ts';
import { compile, intFlag, machineLine, printTable } from './support.ts';

const requests = intFlag('requests', 200);
const AIM_MS = 50;

interface PhaseResult {
  readonly name: string;
  readonly requests: number;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly wallMs: number;
  /** CPU time of the server's thread (the event loop) during the phase, per request. */
  readonly cpuMsPerRequest: number;
}

async function main(): Promise<void> {
  console.log(machineLine());
  const registry = await startRegistry('ggcr', { warningProbability: 0 });
  try {
    const models = await pushSignedModels({ host: registry.host }, { signed: 2, mlbom: true });
    const snapshot: PolicySnapshot = {
      policies: [
        compile(signedPolicy(registry.host, models.publicKey, { mlbom: true })),
        compile({
          apiVersion: 'modelgate.dev/v1alpha1',
          kind: 'ModelPolicy',
          metadata: { name: 'hostile-globs' },
          spec: {
            // What a RegExp matcher backtracks on for minutes; the segment-greedy matcher is linear.
            match: { namespaces: [`*${'a*'.repeat(15)}b`, `${'?*'.repeat(40)}b`] },
            models: [`evil.example.com/${'*a'.repeat(120)}*b/**`, `*.evil.example.com/${'*?'.repeat(100)}b`],
            signatures: { required: false },
            formats: { deny: ['pickle'] },
          },
        }),
      ],
      invalid: [],
    };
    const pipeline = verifierFrom({ insecureRegistry: [registry.host] });
    const engine = new Engine({
      unmatched: 'allow',
      deadlineMs: 8_000,
      policies: () => snapshot,
      namespaceLabels: () => ({}),
      verifier: pipeline.verifier,
    });
    // As `modelgate serve` does before it is ready.
    warmUpCycloneDxValidator();
    publicGoodTrustedRoot();
    const server = await startAdmissionServer({
      host: '127.0.0.1',
      port: 0,
      tls: {},
      maxBodyBytes: 8 * 1024 * 1024,
      requestTimeoutMs: 10_000,
      decide: (req, signal) => engine.review(req, signal),
      ready: () => true,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
    });
    const setup: ClientSetup = {
      url: server.url,
      ...(server.caPem ? { caPem: server.caPem } : {}),
      signed: models.signed,
      requests,
    };
    const client = new Worker(new URL('./event-loop-client.ts', import.meta.url), { workerData: setup });
    const next = async (): Promise<FromClient> => (await once(client, 'message'))[0] as FromClient;
    const ready = await next();
    if (!('phases' in ready)) throw new Error('the client did not list its phases');

    const results: PhaseResult[] = [];
    for (const [i, phase] of ready.phases.entries()) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const started = performance.now();
      const cpu = process.threadCpuUsage();
      client.postMessage({ run: i });
      const done = await next();
      const wallMs = performance.now() - started;
      const used = process.threadCpuUsage(cpu);
      h.disable();
      if ('error' in done && done.error !== undefined) throw new Error(done.error);
      results.push({
        ...phase,
        maxMs: h.max / 1e6,
        p99Ms: h.percentile(99) / 1e6,
        wallMs,
        cpuMsPerRequest: (used.user + used.system) / 1000 / phase.requests,
      });
    }
    await client.terminate();
    await server.close();
    await pipeline.close();

    const base = results.find((r) => r.name.startsWith('baseline'))!;
    console.log(`\nserver event-loop delay per phase (monitorEventLoopDelay, 1 ms); aim < ${AIM_MS} ms\n`);
    printTable([
      [
        'phase',
        'requests',
        'worst delay ms',
        'p99 delay ms',
        'worst / baseline',
        'loop CPU ms/req',
        'wall ms',
        'aim',
      ],
      ...results.map((r) => [
        r.name,
        String(r.requests),
        r.maxMs.toFixed(1),
        r.p99Ms.toFixed(1),
        `${(r.maxMs / base.maxMs).toFixed(1)}x`,
        r.cpuMsPerRequest.toFixed(2),
        r.wallMs.toFixed(0),
        r.maxMs < AIM_MS ? 'ok' : 'OVER',
      ]),
    ]);
  } finally {
    await registry.stop();
  }
}

await main();
