import { describe, expect, it } from 'vitest';
import { compileFileGlobs } from '../../../src/verify/file-glob.ts';

describe('allowUnsignedFiles globs', () => {
  it.each([
    [['README.md'], 'README.md', true],
    [['README.md'], 'docs/README.md', true],
    [['*.md'], 'notes/x.md', true],
    [['docs/*.md'], 'docs/a.md', true],
    [['docs/*.md'], 'docs/sub/a.md', false],
    [['docs/**'], 'docs/sub/a.md', true],
    [['**/*.txt'], 'a/b/c.txt', true],
    [['**/*.txt'], 'c.txt', true],
    [['*.md'], 'weights.bin', false],
    [['model?.bin'], 'model1.bin', true],
    [['model?.bin'], 'model10.bin', false],
    [[], 'anything', false],
  ])('%j matches %s: %s', (patterns, path, want) => {
    expect(compileFileGlobs(patterns)(path)).toBe(want);
  });

  it('is linear on adversarial patterns', () => {
    const m = compileFileGlobs([`${'*a'.repeat(30)}b`]);
    const t = Date.now();
    expect(m('a'.repeat(5000))).toBe(false);
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
