import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReference, parseReference, repositoryOf } from '../../../src/reference/reference.ts';
import { digest, domainLabel, modelReference, pathComponent, port, tag } from './arbitraries.ts';

/** Any UTF-16 code unit, lone surrogates included: what a JSON string in a pod spec can hold. */
const codeUnitString = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  maxLength: 200,
});

/** Strings built from the characters the grammar gives meaning to, where parser bugs hide. */
const grammarString = fc.string({
  unit: fc.constantFrom(
    'a',
    'Z',
    '0',
    'f',
    '-',
    '.',
    '_',
    '/',
    ':',
    '@',
    '[',
    ']',
    ' ',
    's',
    'h',
    '2',
    '5',
    '6',
  ),
  maxLength: 120,
});

/** Never throws, explains every refusal, and what it accepts is canonical (formatting then parsing is stable). */
const neverThrows = (input: string): void => {
  const result = parseReference(input);
  expect(typeof result.ok).toBe('boolean');
  if (result.ok) {
    expect(parseReference(formatReference(result.ref))).toStrictEqual(result);
  } else {
    expect(result.error.length).toBeGreaterThan(0);
  }
};

describe('parseReference properties', () => {
  it('round-trips every valid normalised reference through formatReference', () => {
    fc.assert(
      fc.property(modelReference, (ref) => {
        expect(parseReference(formatReference(ref))).toStrictEqual({ ok: true, ref });
      }),
      { numRuns: 2_000 },
    );
  });

  it('accepts the same reference with oci://, surrounding whitespace and an upper-case host', () => {
    const written = fc.tuple(
      modelReference,
      fc.boolean(),
      fc.constantFrom('', ' ', '\t', '\n '),
      fc.constantFrom('', ' ', '\r\n'),
    );
    fc.assert(
      fc.property(written, ([ref, prefixed, before, after]) => {
        const host = ref.registry.toUpperCase();
        const text = `${before}${prefixed ? 'oci://' : ''}${formatReference({ ...ref, registry: host })}${after}`;
        expect(parseReference(text)).toStrictEqual({ ok: true, ref });
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string(), neverThrows), { numRuns: 10_000 });
  });

  it('never throws on arbitrary full-Unicode strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), neverThrows), { numRuns: 10_000 });
  });

  it('never throws on strings with lone surrogates and control characters', () => {
    fc.assert(fc.property(codeUnitString, neverThrows), { numRuns: 10_000 });
  });

  it('never throws on strings made of the grammar characters', () => {
    fc.assert(fc.property(grammarString, neverThrows), { numRuns: 10_000 });
  });

  it('never throws on near-valid references with one character changed', () => {
    const mutated = fc
      .tuple(modelReference, fc.nat(), fc.string({ unit: 'binary', minLength: 0, maxLength: 2 }))
      .map(([ref, at, insert]) => {
        const text = formatReference(ref);
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + 1);
      });
    fc.assert(fc.property(mutated, neverThrows), { numRuns: 5_000 });
  });

  it('keeps the registry a pod author wrote: no reference with a host parses to another host', () => {
    const hostAndPath = fc.tuple(
      fc.array(domainLabel, { minLength: 2, maxLength: 3 }),
      fc.option(port),
      fc.array(pathComponent, { minLength: 1, maxLength: 3 }),
      fc.option(tag),
      fc.option(digest),
    );
    fc.assert(
      fc.property(hostAndPath, ([labels, p, components, t, d]) => {
        const host = `${labels.join('.')}${p === null ? '' : `:${p}`}`;
        const text = `${host}/${components.join('/')}${t === null ? '' : `:${t}`}${d === null ? '' : `@${d}`}`;
        const result = parseReference(text);
        if (!result.ok) return; // e.g. over the 255-character name limit
        const expectedHost = host.toLowerCase();
        if (expectedHost === 'index.docker.io' || expectedHost === 'registry-1.docker.io') {
          expect(result.ref.registry).toBe('docker.io');
        } else {
          expect(result.ref.registry).toBe(expectedHost);
          expect(repositoryOf(result.ref)).toBe(`${expectedHost}/${components.join('/')}`);
        }
        expect(result.ref.tag).toBe(t ?? undefined);
        expect(result.ref.digest).toBe(d ?? undefined);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseReference on hostile input', () => {
  const chunks = [
    'a',
    'a-',
    'a.',
    'a_',
    'a__',
    'a--',
    'a/',
    '-',
    '.',
    '_',
    ':',
    '/',
    '@',
    '[',
    ':1',
    '[::',
    'A',
    '0',
    'sha256:',
    'a:',
    '\u212A',
  ];
  const suffixes = ['', '!', '/', ':', '@', '-', 'A', '/A', '@sha256:x', ':-'];
  const inputs: string[] = [];
  for (const chunk of chunks) {
    for (const suffix of suffixes) {
      const body = chunk.repeat(Math.floor((1024 - suffix.length) / chunk.length));
      inputs.push(body + suffix, `ghcr.io/${body}`.slice(0, 1024 - suffix.length) + suffix);
    }
  }
  inputs.push(
    `localhost:5000/${'a-'.repeat(500)}`,
    `[${'0:'.repeat(500)}]/a`,
    `a@sha256:${'f'.repeat(1000)}`,
  );

  it('answers every long hostile string quickly', () => {
    for (const input of inputs) {
      expect(input.length).toBeLessThanOrEqual(1024);
      const start = performance.now();
      parseReference(input);
      expect(performance.now() - start, JSON.stringify(input.slice(0, 40))).toBeLessThan(50);
    }
  });

  it('refuses a huge input without looking at it', () => {
    const huge = 'a'.repeat(10_000_000);
    const start = performance.now();
    expect(parseReference(huge)).toStrictEqual({
      ok: false,
      error: 'reference is longer than 1024 characters',
    });
    expect(performance.now() - start).toBeLessThan(50);
  });
});
