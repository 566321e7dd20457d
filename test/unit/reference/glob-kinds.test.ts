import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import {
  compileFileGlobs,
  compileGlob,
  compileNamespaceGlob,
  GlobError,
  matchSteps,
  matchWildcard,
  resetMatchSteps,
  validateFileGlob,
  validateNamespaceGlob,
} from '../../../src/reference/glob.ts';

// References built on RegExp, the way the matchers used to be written: fine on the short inputs below,
// catastrophic on long ones (which is why the real matchers do not use them).
const escapeChar = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const charClass = (segment: string, any: string) =>
  [...segment].map((c) => (c === '*' ? `${any}*` : c === '?' ? any : escapeChar(c))).join('');

function namespaceReference(pattern: string, namespace: string): boolean {
  return new RegExp(`^${charClass(pattern, '.')}$`, 's').test(namespace);
}

/** Segments written as "/seg" each: `**` is any number of them, zero included. */
function fileReference(pattern: string, path: string): boolean {
  const source = pattern
    .split('/')
    .map((s) => (s === '**' ? '(?:/[^/]+)*' : `/${charClass(s, '[^/]')}`))
    .join('');
  const re = new RegExp(`^${source}$`);
  const segments = path.split('/');
  return (
    re.test(`/${path}`) || (!pattern.includes('/') && segments.length > 1 && re.test(`/${segments.at(-1)}`))
  );
}

/** Model globs: the same, but a trailing `**` needs one segment or more. */
function modelReference(pattern: string, repository: string): boolean {
  const segments = pattern.split('/');
  const source = segments
    .map((s, i) =>
      s === '**' ? (i === segments.length - 1 ? '(?:/[^/]+)+' : '(?:/[^/]+)*') : `/${charClass(s, '[^/]')}`,
    )
    .join('');
  return new RegExp(`^${source}$`).test(`/${repository}`);
}

const wildcardSegment = fc
  .string({ unit: fc.constantFrom('a', 'b', '*', '?'), minLength: 1, maxLength: 4 })
  .filter((s) => !s.includes('**'));
const patternSegment = fc.oneof(fc.constant('**'), wildcardSegment);
const inputSegment = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 1, maxLength: 4 });

describe('one glob matcher agrees with a RegExp reference', () => {
  it('namespace globs (10,000 cases)', () => {
    const pattern = fc
      .string({ unit: fc.constantFrom('a', 'b', '-', '*', '?'), minLength: 1, maxLength: 8 })
      .filter((p) => validateNamespaceGlob(p) === undefined);
    const namespace = fc.string({ unit: fc.constantFrom('a', 'b', '-'), minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(pattern, namespace, (p, ns) => {
        expect(compileNamespaceGlob(p)(ns)).toBe(namespaceReference(p, ns));
      }),
      { numRuns: 10_000 },
    );
  });

  it('file globs (10,000 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(patternSegment, { minLength: 1, maxLength: 4 }),
        fc.array(inputSegment, { minLength: 1, maxLength: 5 }),
        (pattern, path) => {
          const p = pattern.join('/');
          expect(compileFileGlobs([p])(path.join('/'))).toBe(fileReference(p, path.join('/')));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('model globs (10,000 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(patternSegment, { minLength: 1, maxLength: 4 }),
        fc.array(inputSegment, { minLength: 0, maxLength: 5 }),
        (pattern, path) => {
          const p = ['h.io', ...pattern].join('/');
          const repository = ['h.io', ...path].join('/');
          expect(compileGlob(p)(repository)).toBe(modelReference(p, repository));
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe('file globs', () => {
  it.each([
    [['README.md'], 'README.md', true],
    [['README.md'], 'docs/README.md', true],
    [['README.md'], './README.md', true],
    [['*.md'], 'notes/x.md', true],
    [['docs/*.md'], 'docs/a.md', true],
    [['docs/*.md'], 'docs/sub/a.md', false],
    [['docs/**'], 'docs/sub/a.md', true],
    [['docs/**'], 'docs', true],
    [['**/*.txt'], 'a/b/c.txt', true],
    [['**/*.txt'], 'c.txt', true],
    [['*.md'], 'weights.bin', false],
    [['model?.bin'], 'model1.bin', true],
    [['model?.bin'], 'model10.bin', false],
    [[], 'anything', false],
    [['*'], '', false],
  ])('%j matches %j: %s', (patterns, path, want) => {
    expect(compileFileGlobs(patterns)(path)).toBe(want);
  });

  it.each([
    ['', /empty/],
    ['/etc/passwd', /relative/],
    ['docs//a', /empty segment/],
    ['docs/', /empty segment/],
    ['a**/b', /whole segment/],
    ['a\nb', /control character/],
    ['x'.repeat(513), /longer than 512/],
  ])('refuses %j', (pattern, message) => {
    expect(validateFileGlob(pattern)).toMatch(message);
    expect(() => compileFileGlobs([pattern])).toThrow(GlobError);
  });
});

describe('namespace globs', () => {
  it.each([
    ['prod', 'prod', true],
    ['prod', 'prod-1', false],
    ['prod-*', 'prod-eu', true],
    ['prod-*', 'prod-', true],
    ['prod-*', 'staging', false],
    ['team-?', 'team-a', true],
    ['team-?', 'team-ab', false],
    ['*', 'anything', true],
    ['**', 'x', true],
  ])('%j matches %j: %s', (pattern, namespace, want) => {
    expect(compileNamespaceGlob(pattern)(namespace)).toBe(want);
  });

  it.each([
    ['', /empty/],
    ['Prod', /can never match/],
    ['-prod', /can never match/],
    ['prod/*', /can never match/],
    ['a.b', /can never match/],
    ['a'.repeat(64), /at most 63/],
    [`${'?'.repeat(64)}*`, /at most 63/],
    ['*'.repeat(129), /longer than 128/],
  ])('refuses %j', (pattern, message) => {
    expect(validateNamespaceGlob(pattern)).toMatch(message);
    expect(() => compileNamespaceGlob(pattern)).toThrow(GlobError);
  });
});

describe('policy lint reports invalid globs with their path', () => {
  const policy = (spec: Record<string, unknown>) => ({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: 'p' },
    spec: { models: ['h.io/**'], signatures: { required: false }, ...spec },
  });
  const key = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----';

  it.each<[Record<string, unknown>, string, RegExp]>([
    [
      { match: { namespaces: ['prod', 'Team_A'] } },
      'spec.match.namespaces[1]',
      /can never match a namespace/,
    ],
    [{ match: { namespaces: ['a'.repeat(64)] } }, 'spec.match.namespaces[0]', /at most 63/],
    [{ models: ['h.io/x y'] }, 'spec.models[0]', /invalid character/],
    [{ models: ['h.io/a**b'] }, 'spec.models[0]', /whole segment/],
    [
      {
        signatures: {
          authorities: [{ name: 'k', key: { pem: key } }],
          allowUnsignedFiles: ['docs//README.md'],
        },
      },
      'spec.signatures.allowUnsignedFiles[0]',
      /empty segment/,
    ],
  ])('%j', (spec, path, message) => {
    const v = validateModelPolicy(policy(spec));
    expect(v.ok).toBe(false);
    if (v.ok) return;
    const at = v.errors.find((e) => e.path === path);
    expect(at?.message).toMatch(message);
  });
});

describe('matching cost is bounded by pattern x input, counted in steps', () => {
  const steps = (run: () => void) => {
    resetMatchSteps();
    run();
    return matchSteps();
  };

  it('the namespace glob that blocked the event loop for ~100 s', () => {
    const pattern = '*a*a*a*a*a*a*a*b';
    const matches = compileNamespaceGlob(pattern);
    const taken = steps(() => expect(matches('a'.repeat(63))).toBe(false));
    expect(taken).toBeLessThanOrEqual(pattern.length * 64);
    // Linear in the input: doubling it at most doubles the work.
    const n = 50_000;
    const once = steps(() => expect(matchWildcard(pattern, 'a'.repeat(n))).toBe(false));
    const twice = steps(() => expect(matchWildcard(pattern, 'a'.repeat(2 * n))).toBe(false));
    expect(once).toBeLessThanOrEqual(pattern.length * (n + 1));
    expect(twice / once).toBeLessThan(2.1);
  });

  it.each<[string, () => boolean, number]>([
    [
      'model glob, many * in a segment',
      () => compileGlob(`h.io/${'*a'.repeat(200)}*b`)(`h.io/${'a'.repeat(20_000)}`),
      402 * 20_006,
    ],
    [
      'model glob, many ** and *',
      () => compileGlob(`h.io/${'**/*a*/'.repeat(20)}b`)(`h.io/${'aa/'.repeat(5_000)}c`),
      // segments x tokens, each segment compare at most |token| x |segment|
      (41 + 2) * 5_002 * 5 * 3,
    ],
    [
      'file glob, many **',
      () => compileFileGlobs([`${'**/a/'.repeat(50)}b`])(`${'a/'.repeat(10_000)}c`),
      101 * 10_001 * 2,
    ],
  ])('%s', (_name, run, bound) => {
    let result: boolean | undefined;
    const taken = steps(() => {
      result = run();
    });
    expect(result).toBe(false);
    expect(taken).toBeLessThanOrEqual(bound);
  });

  it('a policy with a pathological namespace glob compiles and decides in bounded steps', () => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p' },
      spec: {
        models: ['h.io/**'],
        signatures: { required: false },
        match: { namespaces: ['*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b'] },
      },
    });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const policy = compilePolicy(v.policy);
    const taken = steps(() => expect(policy.appliesToNamespace('a'.repeat(63), {})).toBe(false));
    expect(taken).toBeLessThanOrEqual(32 * 64);
  });
});
