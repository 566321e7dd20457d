import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  admissionResult,
  createAdmissionMetrics,
  FINDINGS_TOTAL,
  MAX_POLICY_LABELS,
  observeAdmission,
  REQUESTS_TOTAL,
} from '../../../src/admission/metrics.ts';
import type { Decision, Finding } from '../../../src/engine/decision.ts';
import type { PolicyMode } from '../../../src/policy/schema.ts';

const finding = (
  mode: PolicyMode,
  policy?: string,
  code: Finding['code'] = 'SIGNATURE_MISSING',
): Finding => ({
  code,
  fieldPath: 'spec.volumes[0].image.reference',
  reference: 'r.example/m@sha256:00',
  mode,
  message: 'm',
  fix: 'f',
  ...(policy === undefined ? {} : { policy }),
});

async function values(registry: Registry, name: string) {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).map((v) => ({ labels: v.labels, value: v.value }));
}

describe('admissionResult', () => {
  it('counts an admission with Audit findings only as audited, not allowed', () => {
    const allowed = (findings: Finding[], warnings: string[] = []): Decision => ({
      allowed: true,
      warnings,
      findings,
    });
    expect(admissionResult(allowed([]), false)).toBe('allowed');
    expect(admissionResult(allowed([finding('Audit', 'p')]), false)).toBe('audited');
    expect(admissionResult(allowed([finding('Warn', 'p'), finding('Audit', 'q')], ['w']), false)).toBe(
      'warned',
    );
    expect(
      admissionResult({ allowed: false, warnings: [], findings: [finding('Enforce', 'p')] }, false),
    ).toBe('denied');
    expect(admissionResult(allowed([]), true)).toBe('error');
  });
});

describe('observeAdmission', () => {
  it('counts findings by mode, policy and reason; a finding without a policy as policy "none"', async () => {
    const registry = new Registry();
    const m = createAdmissionMetrics(registry, { defaultMetrics: false });
    const d: Decision = {
      allowed: true,
      warnings: ['w'],
      findings: [
        finding('Warn', 'rollout'),
        finding('Audit', 'preview', 'MLBOM_MISSING'),
        finding('Audit', 'preview', 'MLBOM_MISSING'),
        finding('Warn', undefined, 'MODEL_UNGOVERNED'),
      ],
    };
    observeAdmission(m, admissionResult(d, false), 0.01, d);
    const found = await values(registry, FINDINGS_TOTAL);
    expect(found).toEqual(
      expect.arrayContaining([
        { labels: { mode: 'Warn', policy: 'rollout', reason: 'SIGNATURE_MISSING' }, value: 1 },
        { labels: { mode: 'Audit', policy: 'preview', reason: 'MLBOM_MISSING' }, value: 2 },
        { labels: { mode: 'Warn', policy: 'none', reason: 'MODEL_UNGOVERNED' }, value: 1 },
      ]),
    );
    expect(found).toHaveLength(3);
    const requests = await values(registry, REQUESTS_TOTAL);
    expect(requests.find((v) => v.labels.result === 'warned')?.value).toBe(1);
    // The audited series exists before anything was audited.
    expect(requests.find((v) => v.labels.result === 'audited')?.value).toBe(0);
  });

  it('keeps the policy label bounded', async () => {
    const registry = new Registry();
    const m = createAdmissionMetrics(registry, { defaultMetrics: false });
    const findings = Array.from({ length: MAX_POLICY_LABELS + 10 }, (_, i) => finding('Audit', `p${i}`));
    const d: Decision = { allowed: true, warnings: [], findings };
    observeAdmission(m, 'audited', 0.01, d);
    const found = await values(registry, FINDINGS_TOTAL);
    expect(found).toHaveLength(MAX_POLICY_LABELS + 1);
    expect(found.find((v) => v.labels.policy === 'other')?.value).toBe(10);
  });
});
