import { describe, expect, it } from 'vitest';
import { compileFormatRules, rulesAdmitEverything } from '../../../src/policy/formats.ts';
import {
  DEFAULT_ALLOWED_FORMATS,
  DEFAULT_DENIED_FORMATS,
  MODEL_FORMATS,
} from '../../../src/policy/schema.ts';

describe('formats rules', () => {
  it('fails closed without formats: only the data formats, unknown and every code format refused', () => {
    for (const formats of [undefined, {}]) {
      const r = compileFormatRules(formats);
      expect(r.source).toBe('default');
      expect([...(r.allowed ?? [])]).toEqual([...DEFAULT_ALLOWED_FORMATS]);
      expect([...r.denied].sort()).toEqual([...DEFAULT_DENIED_FORMATS].sort());
    }
    expect(DEFAULT_DENIED_FORMATS).toEqual(
      expect.arrayContaining([
        'unknown',
        'pickle',
        'pytorch-zip',
        'torchscript',
        'keras-lambda',
        'archive',
        'code',
      ]),
    );
    // Every format is either admitted or refused by default: nothing falls between.
    expect([...DEFAULT_ALLOWED_FORMATS, ...DEFAULT_DENIED_FORMATS].sort()).toEqual([...MODEL_FORMATS].sort());
  });

  it('keeps unknown refused under a deny-only rule, and denying pickle denies the pickle family', () => {
    const r = compileFormatRules({ deny: ['pickle'] });
    expect(r.source).toBe('deny');
    expect(r.allowed).toBeUndefined();
    expect([...r.denied].sort()).toEqual(['pickle', 'pytorch-zip', 'torchscript', 'unknown']);
    expect([...compileFormatRules({ deny: [] }).denied]).toEqual(['unknown']);
  });

  it('admits exactly an allow list, which may name unknown', () => {
    const r = compileFormatRules({ allow: ['safetensors', 'unknown'] });
    expect(r).toMatchObject({ source: 'allow' });
    expect([...(r.allowed ?? [])]).toEqual(['safetensors', 'unknown']);
    expect(r.denied.size).toBe(0);
  });

  it('admits every format (and reads nothing) only with an allow list of all of them', () => {
    expect(rulesAdmitEverything(compileFormatRules({ allow: [...MODEL_FORMATS] }))).toBe(true);
    expect(rulesAdmitEverything(compileFormatRules({ deny: [] }))).toBe(false);
    expect(rulesAdmitEverything(compileFormatRules(undefined))).toBe(false);
  });
});
