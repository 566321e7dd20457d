import { describe, expect, it } from 'vitest';
import {
  invalidMessage,
  MAX_CONDITION_MESSAGE,
  readyCondition,
  statusUpdate,
} from '../../../src/kube/status.ts';

const NOW = new Date('2026-01-02T03:04:05.678Z');
const LATER = new Date('2026-01-03T00:00:00Z');
const errors = [
  { path: 'spec.models[0]', message: 'must be lower-case' },
  { path: 'spec.signatures', message: 'threshold must not exceed the number of authorities' },
];

describe('policy status', () => {
  it('says Ready True/Valid for a valid policy and False/Invalid with every error and path', () => {
    expect(readyCondition({ ok: true })).toMatchObject({ status: 'True', reason: 'Valid' });
    const bad = readyCondition({ ok: false, errors });
    expect(bad).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(bad.message).toContain('spec.models[0]: must be lower-case');
    expect(bad.message).toContain('spec.signatures: threshold must not exceed');
    expect(bad.message).toContain('POLICY_INVALID');
  });

  it('writes a first status with observedGeneration and a whole-second transition time', () => {
    const s = statusUpdate(undefined, { ok: true }, 3, NOW);
    expect(s).toEqual({
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Valid',
          message: 'the policy is valid and in force',
          observedGeneration: 3,
          lastTransitionTime: '2026-01-02T03:04:05Z',
        },
      ],
    });
  });

  it('writes nothing when the object already says it (no write storm, no ping-pong between replicas)', () => {
    const s = statusUpdate(undefined, { ok: false, errors }, 2, NOW);
    // What the API server hands back after the write, seen by this replica or the other one.
    expect(statusUpdate(structuredClone(s), { ok: false, errors }, 2, LATER)).toBeUndefined();
  });

  it('writes again for a new generation, keeping the transition time when the status stays the same', () => {
    const s1 = statusUpdate(undefined, { ok: true }, 1, NOW);
    const s2 = statusUpdate(s1, { ok: true }, 2, LATER);
    expect(s2?.observedGeneration).toBe(2);
    expect((s2!.conditions[0] as { lastTransitionTime: string }).lastTransitionTime).toBe(
      '2026-01-02T03:04:05Z',
    );
    const s3 = statusUpdate(s2, { ok: false, errors }, 3, LATER);
    expect(s3?.conditions[0]).toMatchObject({ status: 'False', lastTransitionTime: '2026-01-03T00:00:00Z' });
  });

  it('keeps conditions of other types that someone else wrote, and ignores malformed ones', () => {
    const other = { type: 'Audited', status: 'True', reason: 'X', message: '', lastTransitionTime: 'T' };
    const s = statusUpdate(
      { conditions: [other, 'junk', { type: 'Ready', status: 'Maybe' }] },
      { ok: true },
      1,
      NOW,
    );
    expect(s?.conditions).toContainEqual(other);
    expect(s?.conditions.filter((c) => (c as { type?: string }).type === 'Ready')).toHaveLength(1);
  });

  it('caps a long list of errors and says how many were left out', () => {
    const many = Array.from({ length: 500 }, (_, i) => ({
      path: `spec.models[${i}]`,
      message: 'x'.repeat(40),
    }));
    const m = invalidMessage(many);
    expect(m.length).toBeLessThanOrEqual(MAX_CONDITION_MESSAGE);
    expect(m).toMatch(/\(and \d+ more\)$/);
    expect(m).toContain('spec.models[0]: ');
  });
});
