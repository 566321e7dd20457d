import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REASON_CODES, REASON_FIX } from '../../../src/verdict/reasons.ts';

describe('reason codes', () => {
  const doc = readFileSync(new URL('../../../docs/reasons.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  it('docs/reasons.md documents exactly the codes in src/verdict/reasons.ts, in order', () => {
    expect(documented).toEqual([...REASON_CODES]);
  });

  it('every code has a one-line fix', () => {
    for (const code of REASON_CODES) {
      expect(REASON_FIX[code].length).toBeGreaterThan(10);
      expect(REASON_FIX[code]).not.toContain('\n');
    }
  });
});
