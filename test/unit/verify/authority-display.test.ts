// Messages show a keyless subjectRegExp as the operator wrote it, not wrapped in the anchors it is applied with.
import { describe, expect, it } from 'vitest';
import { compileAuthority } from '../../../src/verify/authority.ts';
import { publicGoodTrustedRoot } from '../../../src/verify/trust.ts';
import type { TrustContext } from '../../../src/verify/trust-context.ts';

const ctx: TrustContext = {
  trustedRoot: async () => publicGoodTrustedRoot(),
  secret: async () => {
    throw new Error('no secrets here');
  },
};

describe('authority display', () => {
  it.each([
    '^https://github\\.com/acme/models/\\.github/workflows/train\\.yml@refs/heads/main$',
    'https://github\\.com/acme/.*',
  ])('shows subjectRegExp %s as written, and still anchors it', async (re) => {
    const a = await compileAuthority(
      { name: 'ci', keyless: { issuer: 'https://token.actions.githubusercontent.com', subjectRegExp: re } },
      ctx,
      AbortSignal.timeout(5_000),
    );
    expect(a.expected).toContain(`subject matching ${re} `);
    expect(a.expected).not.toContain('^(?:');
    expect(a.kind).toBe('keyless');
    if (a.kind !== 'keyless' || !('pattern' in a.subject)) throw new Error('expected a pattern');
    expect(a.subject.pattern.test('xhttps://github.com/acme/x')).toBe(false);
  });
});
