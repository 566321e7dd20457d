import { describe, expect, it } from 'vitest';
import { digestOf, digestToTag, isDigest, matchesDigest, parseDigest } from '../../../src/oci/digest.ts';

const HELLO_SHA256 = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

describe('digests', () => {
  it('computes and checks sha256 and sha512', () => {
    const bytes = new TextEncoder().encode('hello');
    expect(digestOf(bytes)).toBe(HELLO_SHA256);
    expect(matchesDigest(bytes, HELLO_SHA256)).toBe(true);
    const sha512 = digestOf(bytes, 'sha512');
    expect(sha512).toMatch(/^sha512:[a-f0-9]{128}$/);
    expect(matchesDigest(bytes, sha512)).toBe(true);
    expect(matchesDigest(new TextEncoder().encode('hellO'), HELLO_SHA256)).toBe(false);
  });

  it('parses only well-formed digests', () => {
    expect(parseDigest(HELLO_SHA256)).toEqual({ algorithm: 'sha256', hex: HELLO_SHA256.slice(7) });
    for (const bad of [
      'sha256:abc',
      HELLO_SHA256.toUpperCase(),
      `md5:${'a'.repeat(32)}`,
      `sha512:${'a'.repeat(64)}`,
      `${HELLO_SHA256}/../x`,
      '',
    ]) {
      expect(isDigest(bad)).toBe(false);
      expect(matchesDigest(new Uint8Array(), bad)).toBe(false);
    }
  });

  it('maps a digest to its referrers tag', () => {
    expect(digestToTag(HELLO_SHA256)).toBe(`sha256-${HELLO_SHA256.slice(7)}`);
    expect(() => digestToTag('latest')).toThrow(TypeError);
  });
});
