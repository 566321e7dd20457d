import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/engine/decision.ts';
import {
  clause,
  compactFinding,
  cutTo,
  decide,
  findingLine,
  MAX_WARNING_RUNES,
  runes,
  utf8Bytes,
  withFix,
} from '../../../src/engine/message.ts';
import { REASON_CODES, REASON_FIX } from '../../../src/verdict/reasons.ts';

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
    expect(d.warnings).toEqual([
      'SIGNATURE_MISSING r.example/m@sha256:00 (modelgate policy prod, spec.volumes[0].image.reference): no signature found. Fix: ' +
        REASON_FIX.SIGNATURE_MISSING,
    ]);
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

describe('punctuation', () => {
  // Messages come from many checks, some ending in a full stop; fixes may be an operator's own text.
  const endings = ['', '.', '..', ' . ', '.\n'];

  it('composes every code with exactly one full stop before "Fix:", whatever message and fix end with', () => {
    for (const code of REASON_CODES) {
      for (const end of endings) {
        const f = finding({ code, message: `the check failed${end}`, fix: `${REASON_FIX[code]}${end}` });
        const texts = [
          findingLine(f),
          decide([f], 'Pod ml/p').message ?? '',
          compactFinding(f, MAX_WARNING_RUNES),
          compactFinding(f, 1024, utf8Bytes),
          withFix(f.message, f.fix),
        ];
        for (const t of texts) {
          expect(t, `${code} with ending ${JSON.stringify(end)}`).not.toMatch(/\.\s*\.\s*Fix:/);
          expect(t).toContain('the check failed. Fix: ');
          expect(t).not.toMatch(/[.\s]$/);
        }
      }
    }
  });

  it('clause drops trailing stops and space only', () => {
    expect(clause(' authority.. ')).toBe('authority');
    expect(clause('v1.2 is old')).toBe('v1.2 is old');
  });
});

describe('warnings', () => {
  const longReference = `r.example/${'team/'.repeat(30)}model@sha256:${'a'.repeat(64)}`;

  it('lead with the code and the reference and keep the whole fix within the API server limit, for every code', () => {
    for (const code of REASON_CODES) {
      const f = finding({ code, mode: 'Warn', fix: REASON_FIX[code], message: `detail ${'x'.repeat(2000)}` });
      const [w] = decide([f], 'Pod ml/p').warnings;
      expect(runes(w!)).toBeLessThanOrEqual(MAX_WARNING_RUNES);
      expect(w!.startsWith(`${code} ${f.reference} (modelgate policy prod`)).toBe(true);
      expect(w!.endsWith(`. Fix: ${REASON_FIX[code]}`)).toBe(true);
      // The message gave way, visibly.
      expect(w).toContain('detail x');
      expect(w).toContain('…');
    }
  });

  it('cut a very long reference before the fix, and say when no policy governs', () => {
    const f = finding({
      code: 'MODEL_UNGOVERNED',
      mode: 'Warn',
      reference: longReference,
      fix: REASON_FIX.MODEL_UNGOVERNED,
    });
    const { policy: _, ...ungoverned } = f;
    const w = compactFinding(ungoverned, MAX_WARNING_RUNES);
    expect(runes(w)).toBeLessThanOrEqual(MAX_WARNING_RUNES);
    expect(w.startsWith('MODEL_UNGOVERNED r.example/team/')).toBe(true);
    expect(w).toContain('… (modelgate, no policy)');
    expect(w.endsWith(`Fix: ${REASON_FIX.MODEL_UNGOVERNED}`)).toBe(true);
  });

  it('keep a short finding whole, field path included', () => {
    const w = compactFinding(finding({ mode: 'Warn' }), MAX_WARNING_RUNES);
    expect(w).toBe(
      `SIGNATURE_MISSING r.example/m@sha256:00 (modelgate policy prod, spec.volumes[0].image.reference): no signature found. Fix: ${REASON_FIX.SIGNATURE_MISSING}`,
    );
  });

  it('cutTo never splits a character and marks the cut', () => {
    expect(cutTo('ééééé', 7, utf8Bytes)).toBe('éé…');
    expect(cutTo('short', 10)).toBe('short');
  });
});
