// The real `modelgate serve` verifies cosign-signed models on a loopback registry; /metrics then shows
// verification outcomes by reason code, the caches, registry requests and the in-flight gauge, in the same
// registry as the admission metrics.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { podReview, type ServeProcess, sample, startServe } from '../../support/serve.ts';
import {
  pushSignedModels,
  type SignedModels,
  signedPolicy,
  writePolicies,
} from '../../support/signed-models.ts';

describe('modelgate serve: /metrics', () => {
  let registry: TestRegistry;
  let models: SignedModels;
  let serve: ServeProcess;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-metrics-'));
    registry = await startRegistry('ggcr', { warningProbability: 0 });
    models = await pushSignedModels({ host: registry.host }, { signed: 2, unsigned: 1, mlbom: true });
    const policyFile = await writePolicies(dir, [
      signedPolicy(registry.host, models.publicKey, { mlbom: true }),
    ]);
    serve = await startServe(['--policy-file', policyFile, '--insecure-registry', registry.host]);
  });

  afterAll(async () => {
    await serve?.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('counts outcomes by reason, cache hits and misses, and registry requests by host and status', async () => {
    const [a, b] = models.signed;
    const first = await serve.validate(podReview('m-1', [a!, b!]));
    expect(first.answer).toMatchObject({ allowed: true });
    const again = await serve.validate(podReview('m-2', [a!, b!]));
    expect(again.answer.allowed).toBe(true);
    const refused = await serve.validate(podReview('m-3', [models.unsigned[0]!]));
    expect(refused.answer.allowed).toBe(false);
    expect(refused.answer.message).toContain('SIGNATURE_MISSING');

    const text = await serve.metrics();
    expect(
      sample(text, 'modelgate_verification_outcomes_total', { result: 'verified', reason: 'none' }),
    ).toBe(4);
    expect(
      sample(text, 'modelgate_verification_outcomes_total', {
        result: 'failed',
        reason: 'SIGNATURE_MISSING',
      }),
    ).toBe(1);
    expect(sample(text, 'modelgate_cache_misses_total', { cache: 'decision' })).toBe(3);
    expect(sample(text, 'modelgate_cache_hits_total', { cache: 'decision' })).toBe(2);
    expect(sample(text, 'modelgate_cache_entries', { cache: 'decision' })).toBe(2);
    expect(sample(text, 'modelgate_cache_entries', { cache: 'negative' })).toBe(1);
    expect(
      sample(text, 'modelgate_registry_requests_total', { registry: registry.host, status: '200' }),
    ).toBeGreaterThan(5);
    expect(
      sample(text, 'modelgate_registry_request_duration_seconds_count', { registry: registry.host }),
    ).toBe(sample(text, 'modelgate_registry_requests_total', { registry: registry.host }));
    expect(
      sample(text, 'modelgate_registry_response_bytes_total', { registry: registry.host }),
    ).toBeGreaterThan(0);
    expect(sample(text, 'modelgate_verification_duration_seconds_count', { result: 'verified' })).toBe(2);
    expect(text).toContain('# TYPE modelgate_verifications_in_flight gauge');
    expect(sample(text, 'modelgate_verifications_in_flight')).toBe(0);
    // The admission metrics live in the same registry.
    expect(sample(text, 'modelgate_admission_requests_total', { result: 'allowed' })).toBe(2);
    expect(sample(text, 'modelgate_admission_requests_total', { result: 'denied' })).toBe(1);
  });

  it('names every modelgate metric by the Prometheus conventions', async () => {
    const text = await serve.metrics();
    const types = [...text.matchAll(/^# TYPE (modelgate_\w+) (\w+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(types.length).toBeGreaterThanOrEqual(14);
    for (const [name, type] of types) {
      expect(name).toMatch(/^modelgate_[a-z][a-z0-9_]*$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
      if (type === 'histogram') expect(name).toMatch(/_seconds$/);
    }
  });
});
