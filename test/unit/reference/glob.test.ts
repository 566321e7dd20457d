import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob, GlobError, validateGlob } from '../../../src/reference/glob.ts';
import { repositoryOf } from '../../../src/reference/reference.ts';
import { modelReference, pathComponent, registry } from './arbitraries.ts';

describe('compileGlob: matching', () => {
  it.each<[string, string[], string[]]>([
    [
      'registry.example.com/models/**',
      ['registry.example.com/models/bert', 'registry.example.com/models/a/b/c'],
      [
        'registry.example.com/models',
        'registry.example.com/modelsx/bert',
        'registry.example.com/x/models/bert',
        'registry.example.com:5000/models/bert',
        'other.example.com/models/bert',
        'registry.example.com.evil.io/models/bert',
      ],
    ],
    [
      'registry.example.com/models/*',
      ['registry.example.com/models/bert', 'registry.example.com/models/b'],
      ['registry.example.com/models', 'registry.example.com/models/a/b'],
    ],
    [
      'registry.example.com/models/bert-*',
      ['registry.example.com/models/bert-', 'registry.example.com/models/bert-base'],
      ['registry.example.com/models/bert', 'registry.example.com/models/bert-a/b'],
    ],
    [
      'registry.example.com/**/bert',
      ['registry.example.com/bert', 'registry.example.com/a/bert', 'registry.example.com/a/b/bert'],
      ['registry.example.com/a/bertx', 'registry.example.com/bert/x', 'registry.example.com'],
    ],
    [
      'registry.example.com/a/**/b/**/c',
      ['registry.example.com/a/b/c', 'registry.example.com/a/x/b/y/z/c', 'registry.example.com/a/b/b/c/c'],
      ['registry.example.com/a/c', 'registry.example.com/a/b/c/d'],
    ],
    ['**', ['docker.io/library/bert', 'localhost:5000/x', '[::1]/a/b'], ['', 'a//b', '/a', 'a/']],
    ['**/bert', ['ghcr.io/bert', 'ghcr.io/a/bert', 'docker.io/library/bert'], ['ghcr.io/bertx']],
    ['*.example.com/**', ['a.example.com/x', 'a.b.example.com/x/y'], ['example.com/x', 'a.example.org/x']],
    ['ghcr.io/acme/bert-?', ['ghcr.io/acme/bert-1', 'ghcr.io/acme/bert-x'], ['ghcr.io/acme/bert-10']],
    ['ghcr.io/acme/?', ['ghcr.io/acme/a'], ['ghcr.io/acme/ab', 'ghcr.io/acme//']],
    ['ghcr.io/*/*-v?', ['ghcr.io/acme/bert-v1'], ['ghcr.io/acme/bert-v12', 'ghcr.io/bert-v1']],
    ['localhost:*/**', ['localhost:5000/x', 'localhost:1/a/b'], ['localhost/x', 'localhost5000/x']],
    // normalised hosts
    [
      'Registry.Example.COM/models/**',
      ['registry.example.com/models/bert'],
      ['Registry.Example.COM/models/bert'],
    ],
    ['index.docker.io/acme/**', ['docker.io/acme/bert'], ['index.docker.io/acme/bert']],
    ['registry-1.docker.io/acme/*', ['docker.io/acme/bert'], []],
    ['[::ABC]:5000/**', ['[::abc]:5000/bert'], ['[::ABC]:5000/bert', '[::abc]/bert']],
    ['localhost:5000/models/**', ['localhost:5000/models/bert'], ['localhost/models/bert']],
    // Docker Hub single segments mean library/
    ['docker.io/nginx', ['docker.io/library/nginx'], ['docker.io/nginx']],
    ['docker.io/*', ['docker.io/library/bert'], ['docker.io/acme/bert']],
    ['index.docker.io/bert*', ['docker.io/library/bert', 'docker.io/library/bert2'], ['docker.io/bert']],
    ['docker.io/**', ['docker.io/library/bert', 'docker.io/acme/bert'], ['ghcr.io/acme/bert']],
    ['docker.io/acme/*', ['docker.io/acme/bert'], ['docker.io/library/bert']],
    // oci:// and whitespace
    [' oci://ghcr.io/acme/** ', ['ghcr.io/acme/bert'], ['ghcr.io/acme']],
    // runs of ** collapse
    ['ghcr.io/a/**/**/b', ['ghcr.io/a/b', 'ghcr.io/a/x/y/b'], ['ghcr.io/a']],
    ['ghcr.io/a/**/**', ['ghcr.io/a/b', 'ghcr.io/a/x/y/b'], ['ghcr.io/a']],
    // a literal pattern is a plain comparison
    [
      'ghcr.io/acme/bert',
      ['ghcr.io/acme/bert'],
      ['ghcr.io/acme/bert2', 'ghcr.io/acme', 'ghcr.io/acme/bert/x'],
    ],
  ])('%j', (pattern, matching, notMatching) => {
    const matches = compileGlob(pattern);
    for (const repository of matching) expect(matches(repository), repository).toBe(true);
    for (const repository of notMatching) expect(matches(repository), repository).toBe(false);
  });

  it('matches nothing that is not a repository string', () => {
    const matches = compileGlob('**');
    for (const value of [undefined, null, 42, {}, ''])
      expect(matches(value as unknown as string)).toBe(false);
  });
});

describe('compileGlob: invalid patterns', () => {
  it.each<[string, RegExp]>([
    ['', /empty/],
    ['  ', /empty/],
    ['oci://', /empty/],
    ['ghcr.io/bert:v1', /names a tag/],
    ['ghcr.io/*:*', /names a tag/],
    ['localhost:5000/bert:latest', /names a tag/],
    [`ghcr.io/bert@sha256:${'a'.repeat(64)}`, /names a digest/],
    ['ghcr.io/bert@*', /names a digest/],
    ['ghcr.io', /names no repository path/],
    ['localhost:5000', /names no repository path/],
    ['*', /names no repository path/],
    ['ghcr.io/Models/**', /must be lower-case/],
    ['acme/bert', /must start with a registry host/],
    ['models/**', /must start with a registry host/],
    ['ghcr.io/a**', /"\*\*" must be a whole segment/],
    ['ghcr.io/***', /"\*\*" must be a whole segment/],
    ['**.example.com/x', /"\*\*" must be a whole segment/],
    ['ghcr.io//a', /empty segment/],
    ['/ghcr.io/a', /empty segment/],
    ['ghcr.io/a/', /empty segment/],
    ['ghcr.io/a b', /invalid character/],
    ['ghcr.io/a[bc]', /invalid character/],
    ['ghcr.io/{a,b}', /invalid character/],
    ['ghcr.io/a\\*', /invalid character/],
    ['ghcr.io/a+', /invalid character/],
    ['*.exa mple.com/x', /invalid character in its host/],
    ['*.ex\u212Ample.com/x', /invalid character in its host/],
    ['ghcr.io/a..b', /can never match/],
    ['ghcr.io/-a', /can never match/],
    ['localhost:0/**', /port "0"/],
    ['localhost:05000/**', /leading zeros/],
    ['regi_stry.example.com/**', /is invalid/],
    ['[::1/**', /no closing/],
    [`ghcr.io/${'a'.repeat(510)}`, /longer than 512 characters/],
  ])('%j', (pattern, message) => {
    expect(validateGlob(pattern)).toMatch(message);
    expect(() => compileGlob(pattern)).toThrow(GlobError);
  });

  it('throws a GlobError that carries the pattern as written', () => {
    let caught: unknown;
    try {
      compileGlob(' ghcr.io/bert:v1 ');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GlobError);
    expect(caught).toBeInstanceOf(Error);
    const error = caught as GlobError;
    expect(error.name).toBe('GlobError');
    expect(error.pattern).toBe(' ghcr.io/bert:v1 ');
    expect(error.message).toBe(validateGlob(' ghcr.io/bert:v1 '));
  });

  it('refuses what is not a string', () => {
    expect(validateGlob(42 as unknown as string)).toMatch(/must be a string/);
  });

  it('accepts every valid pattern above without error', () => {
    for (const pattern of [
      '**',
      'ghcr.io/**',
      '*.example.com/*/bert-?',
      '[::1]:5000/**',
      'docker.io/nginx',
    ]) {
      expect(validateGlob(pattern)).toBeUndefined();
    }
  });
});

/** A slow, obviously correct matcher with the same semantics, to compare the compiled one against. */
function referenceMatch(pattern: readonly string[], input: readonly string[]): boolean {
  const [head, ...rest] = pattern;
  if (head === undefined) return input.length === 0;
  if (head === '**') {
    if (rest.length === 0) return input.length >= 1; // a trailing ** matches one or more segments
    for (let k = 0; k <= input.length; k += 1) if (referenceMatch(rest, input.slice(k))) return true;
    return false;
  }
  const [first, ...others] = input;
  return first !== undefined && segmentMatch(head, first) && referenceMatch(rest, others);
}

function segmentMatch(pattern: string, text: string): boolean {
  if (pattern === '') return text === '';
  const [p, ...ps] = pattern;
  const rest = ps.join('');
  if (p === '*') {
    for (let k = 0; k <= text.length; k += 1) if (segmentMatch(rest, text.slice(k))) return true;
    return false;
  }
  return text !== '' && (p === '?' || p === text[0]) && segmentMatch(rest, text.slice(1));
}

describe('compileGlob properties', () => {
  const repository = modelReference.map(repositoryOf);

  it('a literal pattern matches exactly its own repository', () => {
    fc.assert(
      fc.property(repository, repository, (a, b) => {
        expect(compileGlob(a)(a)).toBe(true);
        expect(compileGlob(a)(b)).toBe(a === b);
      }),
      { numRuns: 2_000 },
    );
  });

  it('prefix/** matches every repository strictly under prefix, and only those', () => {
    const withPrefix = fc.tuple(modelReference, fc.nat(), repository).map(([ref, cut, other]) => {
      const path = ref.repository.split('/');
      const prefix = [ref.registry, ...path.slice(0, cut % path.length)].join('/');
      return { prefix, inside: repositoryOf(ref), other };
    });
    fc.assert(
      fc.property(withPrefix, ({ prefix, inside, other }) => {
        const matches = compileGlob(`${prefix}/**`);
        expect(matches(inside)).toBe(true);
        expect(matches(prefix)).toBe(false);
        expect(matches(other)).toBe(other.startsWith(`${prefix}/`));
      }),
      { numRuns: 2_000 },
    );
  });

  it('* never crosses a "/"', () => {
    const host = registry.filter((r) => r !== 'docker.io');
    fc.assert(
      fc.property(host, fc.string({ unit: 'binary' }), (h, rest) => {
        const expected = rest !== '' && !rest.includes('/');
        expect(compileGlob(`${h}/*`)(`${h}/${rest}`)).toBe(expected);
        expect(compileGlob(`${h}/x*`)(`${h}/x${rest}`)).toBe(!rest.includes('/'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('prefix/* matches exactly the repositories one segment under prefix', () => {
    fc.assert(
      fc.property(
        registry.filter((r) => r !== 'docker.io'),
        fc.array(pathComponent, { maxLength: 3 }),
        fc.array(pathComponent, { minLength: 1, maxLength: 3 }),
        (host, prefixPath, below) => {
          const prefix = [host, ...prefixPath].join('/');
          expect(compileGlob(`${prefix}/*`)(`${prefix}/${below.join('/')}`)).toBe(below.length === 1);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('agrees with a slow reference matcher on small patterns', () => {
    const patternSegment = fc.oneof(
      fc.constant('**'),
      fc
        .string({ unit: fc.constantFrom('a', 'b', '*', '?'), minLength: 1, maxLength: 4 })
        .filter((s) => !s.includes('**')),
    );
    const inputSegment = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(patternSegment, { minLength: 1, maxLength: 5 }),
        fc.array(inputSegment, { minLength: 0, maxLength: 6 }),
        (pattern, input) => {
          const matches = compileGlob(['h.io', ...pattern].join('/'));
          expect(matches(['h.io', ...input].join('/'))).toBe(referenceMatch(pattern, input));
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe('compileGlob on hostile input', () => {
  const cases: [string, string, string][] = [
    ['many * in a segment', `h.io/${'*a'.repeat(30)}*b`, `h.io/${'a'.repeat(100_000)}`],
    ['alternating *?', `h.io/${'*?'.repeat(250)}b`, `h.io/${'a'.repeat(100_000)}`],
    ['many **', `h.io/${'**/a/'.repeat(20)}b`, `h.io/${'a/'.repeat(50_000)}c`],
    ['** and * together', `h.io/${'**/*a*/'.repeat(20)}b`, `h.io/${'aa/'.repeat(30_000)}c`],
    ['leading **', '**/b', `h.io/${'a/'.repeat(100_000)}c`],
  ];

  it.each(cases)('%s answers quickly', (_name, pattern, input) => {
    const matches = compileGlob(pattern);
    const start = performance.now();
    expect(matches(input)).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });
});
