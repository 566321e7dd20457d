import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderCycloneDxValidator, VALIDATOR_FILE } from '../../../scripts/cyclonedx-validator.ts';
import { validateCycloneDx } from '../../../src/evidence/mlbom/schema.ts';

describe('the precompiled CycloneDX validator', () => {
  it(`${VALIDATOR_FILE} is what scripts/gen-cyclonedx-validator.ts renders (rerun it after an upgrade)`, () => {
    expect(readFileSync(VALIDATOR_FILE, 'utf8') === renderCycloneDxValidator()).toBe(true);
  }, 60_000);

  it('validates without compiling: the first call is fast and schema errors keep their paths', () => {
    const start = performance.now();
    expect(validateCycloneDx({ bomFormat: 'CycloneDX', specVersion: '1.6' })).toEqual([]);
    // Compiling the schema took ~1 s; the generated code answers in milliseconds.
    expect(performance.now() - start).toBeLessThan(200);
    const errors = validateCycloneDx({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      metadata: { timestamp: 'yesterday' },
      components: [{ type: 'machine-learning-model', name: 'm', hashes: [{ alg: 'SHA-256', content: 'x' }] }],
      extra: 1,
    });
    expect(errors.map((e) => e.path)).toEqual(
      expect.arrayContaining(['$', '$.metadata.timestamp', '$.components[0].hashes[0].content']),
    );
  });

  it('checks the formats the library checks (date-time, idn-email) and accepts any iri-reference', () => {
    const bom = (contact: Record<string, unknown>) => ({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      metadata: { authors: [contact] },
    });
    expect(validateCycloneDx(bom({ email: 'ops@example.com' }))).toEqual([]);
    expect(validateCycloneDx(bom({ email: 'not an email' })).map((e) => e.path)).toEqual([
      '$.metadata.authors[0].email',
    ]);
    expect(
      validateCycloneDx({ ...bom({ name: 'a' }), externalReferences: [{ type: 'website', url: 'x y' }] }),
    ).toEqual([]);
  });
});
