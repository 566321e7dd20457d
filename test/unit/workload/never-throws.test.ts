/** Property tests: the admitted object is untrusted JSON, so no shape may make unwrapping or extraction throw. */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractModelReferences, MAX_REFERENCES, MODELS_ANNOTATION } from '../../../src/workload/extract.ts';
import { type GroupVersionKind, podTemplatesOf } from '../../../src/workload/podspecs.ts';
import { KIND_CASES } from './builders.ts';

const NUM_RUNS = 10_000;

const junk = fc.jsonValue({ maxDepth: 3 });
/** Mostly the expected shape, sometimes junk in its place. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary }, { weight: 1, arbitrary: junk });

/** Strings that sometimes hold references, separators and near-misses. */
const text = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'oci://r/m:1',
    ' oci://a oci://b,',
    'OCI://x;y',
    'oci://',
    '"oci://"',
    'r/a, r/b\n\tr/c',
    '  ',
  ),
  fc.string().map((s) => `--model=oci://${s}`),
  fc
    .array(fc.constantFrom('oci://', 'r/m', ' ', ',', ';', '"', '\n', '@sha256:', 'x'), { maxLength: 12 })
    .map((parts) => parts.join('')),
);
const textList = maybe(fc.array(maybe(text), { maxLength: 5 }));

const container = maybe(
  fc.record(
    {
      name: maybe(fc.string()),
      image: maybe(text),
      command: textList,
      args: textList,
      env: maybe(
        fc.array(maybe(fc.record({ name: maybe(fc.string()), value: maybe(text) }, { requiredKeys: [] })), {
          maxLength: 5,
        }),
      ),
    },
    { requiredKeys: [] },
  ),
);
const containers = maybe(fc.array(container, { maxLength: 4 }));
const volume = maybe(
  fc.record(
    { name: maybe(fc.string()), image: maybe(fc.record({ reference: maybe(text) }, { requiredKeys: [] })) },
    { requiredKeys: [] },
  ),
);
const spec = maybe(
  fc.record(
    {
      volumes: maybe(fc.array(volume, { maxLength: 4 })),
      containers,
      initContainers: containers,
      ephemeralContainers: containers,
    },
    { requiredKeys: [] },
  ),
);
const annotations = maybe(
  fc.dictionary(fc.oneof(fc.string(), fc.constant(MODELS_ANNOTATION)), maybe(text), { maxKeys: 4 }),
);
const template = maybe(
  fc.record(
    { metadata: maybe(fc.record({ annotations }, { requiredKeys: [] })), spec },
    { requiredKeys: [] },
  ),
);

/** The template placed at `path` ('' for a Pod), with junk siblings or junk in place of a level. */
function nest(path: string, inner: unknown): fc.Arbitrary<unknown> {
  if (path === '') return fc.constant(inner);
  const keys = path.split('.');
  let object: fc.Arbitrary<unknown> = fc.constant(inner);
  for (const key of keys.reverse()) {
    const level = object;
    object = fc.oneof(
      {
        weight: 9,
        arbitrary: fc
          .tuple(level, fc.dictionary(fc.string(), junk, { maxKeys: 2 }))
          .map(([v, extra]) => ({ ...extra, [key]: v })),
      },
      { weight: 1, arbitrary: junk },
    );
  }
  return object;
}

const gvk: fc.Arbitrary<GroupVersionKind> = fc.oneof(
  fc.constantFrom(...KIND_CASES.map((c) => c.gvk)),
  fc.record({ group: fc.string(), version: fc.string(), kind: fc.string() }),
);
const subResource = fc.option(fc.constantFrom('', 'ephemeralcontainers', 'status', 'scale'), {
  nil: undefined,
});

const podShaped = fc
  .tuple(fc.constantFrom(...KIND_CASES), template)
  .chain(([c, t]) => nest(c.path, t).map((object) => ({ c, object })));

/** Unwraps and extracts, checking what must hold for any input. */
function check(kind: GroupVersionKind, object: unknown, sub: string | undefined): void {
  const result = podTemplatesOf(kind, object, sub);
  if (!result.ok) {
    expect(typeof object !== 'object' || object === null || Array.isArray(object)).toBe(true);
    return;
  }
  for (const t of result.templates) {
    for (const value of Object.values(t.annotations)) expect(typeof value).toBe('string');
    const asked: unknown[] = [];
    const extraction = extractModelReferences(t, (image) => {
      asked.push(image);
      return image.length % 2 === 0;
    });
    for (const image of asked) expect(typeof image).toBe('string');
    expect(extraction.references.length).toBeLessThanOrEqual(MAX_REFERENCES);
    const metadataPath = t.path === '' ? 'metadata' : `${t.path}.metadata`;
    const seen = new Set<string>();
    for (const r of extraction.references) {
      expect(r.raw).not.toBe('');
      expect(r.raw).toBe(r.raw.trim());
      expect(
        r.fieldPath.startsWith(`${t.specPath}.`) || r.fieldPath.startsWith(`${metadataPath}.annotations[`),
      ).toBe(true);
      if (r.source === 'argument' || r.source === 'command' || r.source === 'env') {
        expect(r.raw).toMatch(/^oci:\/\/[^\s'"`,;]+$/i);
      }
      if (r.source === 'annotation') expect(r.raw).not.toMatch(/[\s,]/);
      const key = `${r.fieldPath}\u0000${r.raw}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  }
}

describe('never throws', () => {
  it('on arbitrary JSON of any kind', () => {
    fc.assert(
      fc.property(gvk, fc.jsonValue(), subResource, (kind, object, sub) => check(kind, object, sub)),
      { numRuns: NUM_RUNS },
    );
  });

  it('on pod-shaped objects with junk in every field', () => {
    fc.assert(
      fc.property(podShaped, subResource, ({ c, object }, sub) => check(c.gvk, object, sub ?? c.subResource)),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('properties', () => {
  const referenceChars = fc.constantFrom(...'abcxyz019./:@-_+=[]'.split(''));
  const reference = fc.string({ unit: referenceChars, minLength: 1, maxLength: 30 });
  const separator = fc
    .array(fc.constantFrom(' ', ',', '\n', '\t', '\r'), { minLength: 1, maxLength: 3 })
    .map((s) => s.join(''));

  it('the annotation gives back every distinct reference, in order, whatever the separators', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(reference, separator), { maxLength: 20 }),
        separator,
        fc.boolean(),
        (pairs, lead, withLead) => {
          const value = (withLead ? lead : '') + pairs.map(([r, s]) => r + s).join('');
          const extraction = extractModelReferences(
            {
              path: 'spec.template',
              annotations: { [MODELS_ANNOTATION]: value },
              spec: {},
              specPath: 'spec.template.spec',
            },
            () => false,
          );
          expect(extraction.references.map((r) => r.raw)).toEqual([...new Set(pairs.map(([r]) => r))]);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('an oci:// token embedded between terminators is found', () => {
    const terminator = fc.constantFrom(' ', '\n', '\t', '"', "'", '`', ',', ';');
    fc.assert(
      fc.property(
        fc.string(),
        terminator,
        reference,
        terminator,
        fc.string(),
        (before, open, ref, close, after) => {
          const value = `${before}${open}oci://${ref}${close}${after}`;
          const extraction = extractModelReferences(
            { path: '', annotations: {}, spec: { containers: [{ args: [value] }] }, specPath: 'spec' },
            () => false,
          );
          const raws = extraction.references.map((r) => r.raw);
          expect(raws).toContain(`oci://${ref}`);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
