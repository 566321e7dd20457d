// Expected and found keys are written the same way (`sha256:<hex>` of the DER SPKI), so that an
// operator can see at a glance whether the bundle names the key the policy trusts.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hintNotation, keyFingerprint } from '../../../src/verify/crypto.ts';
import { ecKey, hintOf } from './builders.ts';

describe('key hints in messages', () => {
  it("renders cosign's base64 hint as the key's fingerprint", () => {
    const k = ecKey();
    expect(hintNotation(hintOf(k))).toBe(keyFingerprint(k.publicKey));
  });

  it("says what model_signing's PEM hash is, since it cannot be the DER fingerprint", () => {
    const k = ecKey();
    const pem = k.publicKey.export({ format: 'pem', type: 'spki' });
    const hex = createHash('sha256').update(pem).digest('hex');
    expect(hintNotation(hex)).toBe(`sha256:${hex} of its PEM text (model_signing's hint)`);
  });

  it("shows any other hint cut and printable (it is the bundle author's text)", () => {
    expect(hintNotation('evil\n\u001b[31mred')).toBe('"evil??[31mred"');
    expect(hintNotation('x'.repeat(500))).toHaveLength(83);
  });
});
