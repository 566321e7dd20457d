import { describe, expect, it } from 'vitest';
import { parseLinkNext, parseRetryAfter, parseWwwAuthenticate } from '../../../src/oci/headers.ts';

describe('parseWwwAuthenticate', () => {
  it('reads a distribution bearer challenge', () => {
    const r = parseWwwAuthenticate(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:models/llm:pull"',
    );
    expect(r).toEqual({
      ok: true,
      value: [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example.com/token',
            service: 'registry.example.com',
            scope: 'repository:models/llm:pull',
          },
        },
      ],
    });
  });

  it('reads several challenges, token values, escapes and spacing', () => {
    const r = parseWwwAuthenticate(
      'Basic realm="a \\"quoted\\" realm", charset=UTF-8 ,  Bearer realm="r", error=invalid_token',
    );
    expect(r.ok && r.value).toEqual([
      { scheme: 'basic', params: { realm: 'a "quoted" realm', charset: 'UTF-8' } },
      { scheme: 'bearer', params: { realm: 'r', error: 'invalid_token' } },
    ]);
  });

  it('accepts a bare scheme and token68 credentials', () => {
    expect(parseWwwAuthenticate('Negotiate, Basic realm="x"')).toMatchObject({
      ok: true,
      value: [{ scheme: 'negotiate' }, { scheme: 'basic', params: { realm: 'x' } }],
    });
    expect(parseWwwAuthenticate('Negotiate abc123==')).toMatchObject({
      ok: true,
      value: [{ scheme: 'negotiate' }],
    });
  });

  it.each([
    ['empty', ''],
    ['unterminated quote', 'Bearer realm="https://auth'],
    ['parameter without value', 'Bearer realm=,service="x"'],
    ['empty quoted-string never closed by escapes', 'Bearer realm="x\\"'],
    ['garbage before the scheme', '"Bearer" realm="x"'],
    ['repeated parameter', 'Bearer realm="a",realm="b"'],
    ['missing comma between parameters', 'Bearer realm="a" service="b"'],
    ['stray character after scheme', 'Bearer;realm="x"'],
  ])('refuses a malformed header: %s', (_name, header) => {
    expect(parseWwwAuthenticate(header).ok).toBe(false);
  });
});

describe('parseLinkNext', () => {
  it('finds the next link', () => {
    expect(parseLinkNext('</v2/a/referrers/sha256:x?n=2&last=b>; rel="next"')).toBe(
      '/v2/a/referrers/sha256:x?n=2&last=b',
    );
    expect(parseLinkNext('<https://r/prev>; rel="prev", <https://r/next>; rel=next')).toBe('https://r/next');
    expect(parseLinkNext('<https://r/n>; type="x"; rel="first next"')).toBe('https://r/n');
  });

  it('returns undefined without a next link', () => {
    expect(parseLinkNext(null)).toBeUndefined();
    expect(parseLinkNext('<https://r/prev>; rel="prev"')).toBeUndefined();
    expect(parseLinkNext('garbage')).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
  });
});

describe('header parsers on arbitrary input', () => {
  it('never throw', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = parseWwwAuthenticate(s);
        expect(typeof r.ok).toBe('boolean');
        parseLinkNext(s);
        parseRetryAfter(s);
      }),
      { numRuns: 2000 },
    );
  });
});
