/** fast-check generators for valid, already-normalised model references and their parts. */
import fc from 'fast-check';
import type { ModelReference } from '../../../src/reference/reference.ts';

const lowerAlnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const anyAlnum = fc.constantFrom(
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''),
);
const hexDigit = fc.constantFrom(...'0123456789abcdef'.split(''));

function join(chars: fc.Arbitrary<string>, min: number, max: number): fc.Arbitrary<string> {
  return fc.array(chars, { minLength: min, maxLength: max }).map((cs) => cs.join(''));
}

/** One DNS-style label as written: letters (either case), digits and inner '-'. */
export const domainLabel: fc.Arbitrary<string> = fc
  .tuple(anyAlnum, join(fc.oneof(anyAlnum, fc.constant('-')), 0, 8), anyAlnum)
  .map(([first, middle, last]) => (middle === '' ? first : `${first}${middle}${last}`));

export const port: fc.Arbitrary<number> = fc.integer({ min: 1, max: 65535 });

const ipv6: fc.Arbitrary<string> = fc.oneof(
  fc.array(join(hexDigit, 1, 4), { minLength: 8, maxLength: 8 }).map((groups) => groups.join(':')),
  fc
    .tuple(
      fc.array(join(hexDigit, 1, 4), { minLength: 0, maxLength: 3 }),
      fc.array(join(hexDigit, 1, 4), { minLength: 0, maxLength: 3 }),
    )
    .map(([left, right]) => `${left.join(':')}::${right.join(':')}`),
);

/** A registry in canonical form (lower case, no Docker Hub alias). */
export const registry: fc.Arbitrary<string> = fc
  .oneof(
    fc.constant('docker.io'),
    fc.constant('localhost'),
    fc.tuple(fc.constant('localhost'), port).map(([h, p]) => `${h}:${p}`),
    fc
      .tuple(fc.array(domainLabel, { minLength: 2, maxLength: 4 }), fc.option(port))
      .map(([labels, p]) => `${labels.join('.').toLowerCase()}${p === null ? '' : `:${p}`}`),
    fc.tuple(domainLabel, port).map(([label, p]) => `${label.toLowerCase()}:${p}`),
    fc.tuple(ipv6, fc.option(port)).map(([address, p]) => `[${address}]${p === null ? '' : `:${p}`}`),
  )
  .filter((r) => r !== 'index.docker.io' && r !== 'registry-1.docker.io');

const separator = fc.constantFrom('.', '_', '__', '-', '--', '---');

/** One repository path component: lower-case alphanumeric runs joined by the grammar's separators. */
export const pathComponent: fc.Arbitrary<string> = fc
  .tuple(join(lowerAlnum, 1, 6), fc.array(fc.tuple(separator, join(lowerAlnum, 1, 6)), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([sep, run]) => sep + run).join(''));

export const tag: fc.Arbitrary<string> = fc.stringMatching(/^[\w][\w.-]{0,127}$/);

export const digest: fc.Arbitrary<string> = fc.oneof(
  join(hexDigit, 64, 64).map((hex) => `sha256:${hex}`),
  join(hexDigit, 128, 128).map((hex) => `sha512:${hex}`),
);

/** A valid, normalised ModelReference: what parseReference returns, so formatting round-trips. */
export const modelReference: fc.Arbitrary<ModelReference> = fc
  .record(
    {
      registry,
      components: fc.array(pathComponent, { minLength: 1, maxLength: 4 }),
      tag,
      digest,
    },
    { requiredKeys: ['registry', 'components'] },
  )
  .map(({ registry: r, components, tag: t, digest: d }) => {
    const path = r === 'docker.io' && components.length === 1 ? ['library', ...components] : components;
    const ref: ModelReference = {
      registry: r,
      repository: path.join('/'),
      ...(t !== undefined && { tag: t }),
      ...(d !== undefined && { digest: d }),
    };
    return ref;
  })
  .filter((ref) => ref.registry.length + 1 + ref.repository.length <= 255);
