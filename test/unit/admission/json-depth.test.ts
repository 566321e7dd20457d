import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJsonDepth, MAX_JSON_DEPTH } from '../../../src/admission/review.ts';
import { review, UID } from './builders.ts';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

/** The nesting depth of a parsed value, the slow and obvious way. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('checkJsonDepth', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    expect(checkJsonDepth(bytes(nested(MAX_JSON_DEPTH)))).toEqual({ ok: true });
    const refused = checkJsonDepth(bytes(nested(MAX_JSON_DEPTH + 1)));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toBe(`body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('counts brackets outside strings only, escapes included', () => {
    const inString = JSON.stringify({ s: `${'['.repeat(500)}\\"\\\\"${'{'.repeat(500)}` });
    expect(checkJsonDepth(bytes(inString), 2)).toEqual({ ok: true });
    expect(checkJsonDepth(bytes('{"a\\"[[[": [[1]]}'), 3)).toEqual({ ok: true });
    expect(checkJsonDepth(bytes('{"a\\\\": [[[1]]]}'), 3).ok).toBe(false);
  });

  it('agrees with the depth of what JSON.parse reads', () => {
    const json = fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 7 }), (text, limit) => {
        const depth = depthOf(JSON.parse(text));
        expect(checkJsonDepth(bytes(text), limit).ok).toBe(depth <= limit);
      }),
      { numRuns: 2_000 },
    );
  });

  it('names the uid of an AdmissionReview v1 so the refusal can be a denial', () => {
    const deep = review({ object: { spec: JSON.parse(nested(200)) } });
    const refused = checkJsonDepth(bytes(JSON.stringify(deep)));
    expect(refused).toMatchObject({ ok: false, uid: UID });
  });

  it('names no uid outside a v1 envelope, or when uid is not at request.uid', () => {
    const cases = [
      { ...review({ object: JSON.parse(nested(200)) }), apiVersion: 'admission.k8s.io/v1beta1' },
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        uid: UID,
        request: JSON.parse(nested(200)),
      },
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { x: { uid: UID }, y: JSON.parse(nested(200)) },
      },
    ];
    for (const c of cases) {
      const refused = checkJsonDepth(bytes(JSON.stringify(c)));
      expect(refused.ok).toBe(false);
      expect(refused).not.toHaveProperty('uid');
    }
  });

  it('is linear: a 6 MB body is scanned in one pass and refused at the limit', () => {
    const body = bytes(nested(3_000_000));
    const start = performance.now();
    expect(checkJsonDepth(body).ok).toBe(false);
    const big = bytes(JSON.stringify({ s: 'x'.repeat(6_000_000) }));
    expect(checkJsonDepth(big).ok).toBe(true);
    // Generous: JSON.parse of the deep body alone takes ~3 s.
    expect(performance.now() - start).toBeLessThan(500);
  });
});
