// Warn and Audit made visible, through the real `modelgate serve` and a loopback registry holding an
// unsigned model: a Warn policy's warning leads with the code and the reference and keeps the whole fix;
// an Audit finding is counted as `audited`, not `allowed`; findings are counted by mode and policy; and a
// refusal answered from the negative cache says so, and until when.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_FIX } from '../../../src/verdict/reasons.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { podReview, type ServeProcess, sample, startServe } from '../../support/serve.ts';
import {
  pushSignedModels,
  type SignedModels,
  signedPolicy,
  writePolicies,
} from '../../support/signed-models.ts';

describe('modelgate serve: Warn and Audit findings, cached refusals', () => {
  let registry: TestRegistry;
  let models: SignedModels;
  let serve: ServeProcess;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-warn-audit-'));
    registry = await startRegistry('ggcr', { warningProbability: 0 });
    models = await pushSignedModels({ host: registry.host }, { signed: 1, unsigned: 1 });
    const scoped = (name: string, mode: string, namespace: string) =>
      signedPolicy(registry.host, models.publicKey, {
        name,
        mode: mode as 'Enforce' | 'Warn' | 'Audit',
        spec: { match: { namespaces: [namespace] } },
      });
    const policyFile = await writePolicies(dir, [
      scoped('rollout', 'Warn', 'team-warn'),
      scoped('preview', 'Audit', 'team-audit'),
      scoped('gate', 'Enforce', 'team-enforce'),
    ]);
    serve = await startServe([
      '--policy-file',
      policyFile,
      '--insecure-registry',
      registry.host,
      '--negative-cache-ttl-ms',
      '60000',
    ]);
  });

  afterAll(async () => {
    await serve?.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('warns with the code and reference first and the whole fix; audits silently; counts both', async () => {
    const unsigned = models.unsigned[0]!;
    const warned = await serve.validate(podReview('w-1', [unsigned], 'team-warn'));
    expect(warned.answer.allowed).toBe(true);
    const [warning] = warned.answer.warnings ?? [];
    // A digest-pinned reference and this fix fill most of the 256 runes: the reference's tail gives way,
    // never its start or the fix.
    expect(warning!.startsWith(`SIGNATURE_MISSING ${unsigned.slice(0, 64)}`)).toBe(true);
    expect(warning).toContain('(modelgate policy rollout)');
    expect(warning!.endsWith(`. Fix: ${REASON_FIX.SIGNATURE_MISSING}`)).toBe(true);
    expect(Array.from(warning!).length).toBeLessThanOrEqual(256);

    const audited = await serve.validate(podReview('a-1', [unsigned], 'team-audit'));
    expect(audited.answer).toMatchObject({ allowed: true });
    expect(audited.answer.warnings ?? []).toEqual([]);

    const text = await serve.metrics();
    expect(sample(text, 'modelgate_admission_requests_total', { result: 'warned' })).toBe(1);
    expect(sample(text, 'modelgate_admission_requests_total', { result: 'audited' })).toBe(1);
    expect(sample(text, 'modelgate_admission_requests_total', { result: 'allowed' })).toBe(0);
    expect(
      sample(text, 'modelgate_admission_findings_total', {
        mode: 'Warn',
        policy: 'rollout',
        reason: 'SIGNATURE_MISSING',
      }),
    ).toBe(1);
    expect(
      sample(text, 'modelgate_admission_findings_total', {
        mode: 'Audit',
        policy: 'preview',
        reason: 'SIGNATURE_MISSING',
      }),
    ).toBe(1);
  });

  it('a refusal from the negative cache says it is cached and when it is checked again', async () => {
    const unsigned = models.unsigned[0]!;
    const first = await serve.validate(podReview('e-1', [unsigned], 'team-enforce'));
    expect(first.answer.allowed).toBe(false);
    expect(first.answer.message).toContain('SIGNATURE_MISSING');
    expect(first.answer.message).not.toContain('cached refusal');
    const again = await serve.validate(podReview('e-2', [unsigned], 'team-enforce'));
    expect(again.answer.allowed).toBe(false);
    expect(again.answer.message).toContain('SIGNATURE_MISSING');
    expect(again.answer.message).toMatch(/\(cached refusal, re-checked after \d\d:\d\d:\d\dZ\)\. Fix: /);
    const text = await serve.metrics();
    expect(
      sample(text, 'modelgate_admission_findings_total', {
        mode: 'Enforce',
        policy: 'gate',
        reason: 'SIGNATURE_MISSING',
      }),
    ).toBe(2);
  });
});
