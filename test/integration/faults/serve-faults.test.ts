// The real `modelgate serve` process behind registry faults (test/support/fault-proxy.ts in front of
// go-containerregistry): every admission is answered within the deadline, nothing unverified is admitted,
// and a transient failure is never kept: once the registry recovers, the same model is admitted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fault, type FaultProxy, startFaultProxy } from '../../support/fault-proxy.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { podReview, type ServeProcess, sample, startServe } from '../../support/serve.ts';
import { pushSignedModels, signedPolicy, writePolicies } from '../../support/signed-models.ts';

const DEADLINE_MS = 1_500;
const SLACK_MS = 1_000;

describe('modelgate serve under registry faults', () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let serve: ServeProcess;
  let dir: string;
  let signed: string[];
  let unsigned: string;
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-serve-faults-'));
    registry = await startRegistry('ggcr', { warningProbability: 0 });
    const models = await pushSignedModels({ host: registry.host }, { signed: 2, unsigned: 1 });
    proxy = await startFaultProxy(registry.host);
    signed = models.signed.map((r) => r.replace(registry.host, proxy.host));
    unsigned = models.unsigned[0]!.replace(registry.host, proxy.host);
    const policyFile = await writePolicies(dir, [signedPolicy(proxy.host, models.publicKey)]);
    // No decision cache: every admission goes to the registry through the faults.
    serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      proxy.host,
      '--deadline-ms',
      String(DEADLINE_MS),
      '--cache-ttl-ms',
      '0',
      '--negative-cache-ttl-ms',
      '0',
    ]);
  });

  afterAll(async () => {
    await serve?.stop();
    await proxy?.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const admit = (models: string[]) => serve.validate(podReview(`f-${++n}`, models));

  // 'refuses': the signed models cannot be verified through this fault. 'either': they may be, in time.
  it.each<[string, Fault, 'refuses' | 'either']>([
    ['hangs', { kind: 'hang' }, 'refuses'],
    [
      'answers 429 with Retry-After: 1 to everything',
      { kind: 'status', status: 429, retryAfter: '1' },
      'refuses',
    ],
    ['resets every connection', { kind: 'reset', at: 'connect' }, 'refuses'],
    ['trickles at 300 bytes/s', { kind: 'bandwidth', bytesPerSecond: 300 }, 'either'],
  ])(
    'answers 12 concurrent admissions in time while the registry %s, then admits once it recovers',
    async (_name, fault, expected) => {
      proxy.set(fault);
      const models = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? [unsigned] : signed));
      const answers = await Promise.all(models.map(admit));
      proxy.clear();
      answers.forEach((a, i) => {
        expect(a.status).toBe(200);
        expect(a.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
        if (models[i]![0] === unsigned) {
          expect(a.answer.allowed).toBe(false);
          return;
        }
        if (expected === 'refuses') expect(a.answer.allowed).toBe(false);
        // A refusal of the signed models can only be the fault's doing.
        if (!a.answer.allowed) expect(a.answer.message).toMatch(/REGISTRY_ERROR|DEADLINE_EXCEEDED/);
      });
      const after = await admit(signed);
      expect(after.answer).toMatchObject({ allowed: true });
      expect((await admit([unsigned])).answer.message).toContain('SIGNATURE_MISSING');
    },
  );

  it('reports the failures in /metrics by reason and registry status', async () => {
    const text = await serve.metrics();
    expect(
      sample(text, 'modelgate_verification_outcomes_total', { reason: 'DEADLINE_EXCEEDED' }),
    ).toBeGreaterThan(0);
    expect(
      sample(text, 'modelgate_registry_requests_total', { registry: proxy.host, status: '429' }),
    ).toBeGreaterThan(0);
    expect(
      sample(text, 'modelgate_registry_requests_total', { registry: proxy.host, status: 'error' }),
    ).toBeGreaterThan(0);
    expect(sample(text, 'modelgate_verifications_in_flight')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'modelgate_admission_requests_total', { result: 'error' })).toBe(0);
  });
});
