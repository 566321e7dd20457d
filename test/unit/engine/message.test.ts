import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/engine/decision.ts';
import { decide, findingLine } from '../../../src/engine/message.ts';
import { REASON_FIX } from '../../../src/engine/reasons.ts';

const finding = (over: Partial<Finding> = {}): Finding => ({
  code: 'SIGNATURE_MISSING',
  fieldPath: 'spec.volumes[0].image.reference',
  reference: 'r.example/m@sha256:00',
  policy: 'prod',
  mode: 'Enforce',
  message: 'no signature found',
  fix: REASON_FIX.SIGNATURE_MISSING,
  ...over,
});

describe('decide', () => {
  it('allows with no findings', () => {
    expect(decide([], 'Pod ml/p')).toEqual({ allowed: true, warnings: [], findings: [] });
  });

  it('names the object, the count, and every failing reference with path, code, policy and fix', () => {
    const d = decide(
      [
        finding(),
        finding({ reference: 'r.example/n:v1', code: 'DIGEST_REQUIRED', fix: REASON_FIX.DIGEST_REQUIRED }),
      ],
      'Pod ml/p',
    );
    expect(d.allowed).toBe(false);
    expect(d.status).toBe(403);
    const lines = d.message?.split('\n') ?? [];
    expect(lines[0]).toBe('modelgate refused Pod ml/p: 2 model references failed verification');
    expect(lines[1]).toBe(`- ${findingLine(finding())}`);
    expect(lines[1]).toContain('spec.volumes[0].image.reference');
    expect(lines[1]).toContain('[policy prod]');
    expect(lines[2]).toContain('DIGEST_REQUIRED');
    expect(lines[2]).toContain('Fix: pin the model by digest');
  });

  it('counts a reference failing several checks once', () => {
    const d = decide([finding(), finding({ code: 'FORMAT_DENIED' })], 'Pod ml/p');
    expect(d.message).toContain('1 model reference failed');
  });

  it('turns Warn findings into warnings and keeps Audit findings out of the answer', () => {
    const d = decide([finding({ mode: 'Warn' }), finding({ mode: 'Audit' })], 'Pod ml/p');
    expect(d.allowed).toBe(true);
    expect(d.warnings).toEqual([`modelgate: ${findingLine(finding({ mode: 'Warn' }))}`]);
    expect(d.findings).toHaveLength(2);
  });

  it('bounds the message and the number of warnings', () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      finding({ reference: `r.example/m${i}:v1`, mode: i % 2 ? 'Warn' : 'Enforce' }),
    );
    const d = decide(many, 'Pod ml/p');
    expect(d.message?.length).toBeLessThanOrEqual(12_000);
    expect(d.message).toMatch(/\(truncated\)$/);
    expect(d.warnings).toHaveLength(41);
    expect(d.warnings.at(-1)).toContain('210 more warnings');
  });

  it('uses status 400 when only the request was unreadable', () => {
    expect(decide([finding({ code: 'REQUEST_INVALID' })], 'Pod').status).toBe(400);
  });
});
