import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OCI_FIELDS } from '../../../src/oci/manifest.ts';
import {
  DEFAULT_MAX_DEPTH,
  foldKey,
  knownFields,
  parseStrictJson,
  type StrictJsonError,
  type StrictJsonOptions,
} from '../../../src/oci/strict-json.ts';

const enc = (s: string) => new TextEncoder().encode(s);

/** The error parseStrictJson throws, or undefined when it accepts. */
function refusal(input: string | Uint8Array, options: StrictJsonOptions = {}): StrictJsonError | undefined {
  try {
    parseStrictJson(input, options);
    return undefined;
  } catch (e) {
    return e as StrictJsonError;
  }
}

function expectRefused(
  input: string | Uint8Array,
  code: StrictJsonError['code'],
  reason: StrictJsonError['reason'],
  options: StrictJsonOptions = { known: OCI_FIELDS },
) {
  const e = refusal(input, options);
  expect(e, `accepted ${String(input).slice(0, 80)}`).toBeDefined();
  // Refused by the checker itself, not by its JSON.parse fallback.
  expect(e?.message).not.toContain('native parser');
  expect({ code: e?.code, reason: e?.reason }).toEqual({ code, reason });
}

describe('parseStrictJson refuses what consumers could read differently', () => {
  it('a duplicate key, at any depth', () => {
    expectRefused('{"layers":[],"layers":[]}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
    expectRefused('{"a":{"b":1,"b":2}}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
    expectRefused('{"a":[{"x":1},{"y":1,"y":1}]}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
    // The same key written with an escape is the same key.
    expectRefused('{"layers":[],"\\u006cayers":[]}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
  });

  it('two keys equal up to case, known fields or not (Go merges them into one field)', () => {
    expectRefused('{"layers":[],"Layers":[]}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
    expectRefused('{"unknownKey":1,"UNKNOWNKEY":2}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
    // Long s (U+017F) folds to s, the Kelvin sign (U+212A) to k.
    expectRefused('{"layers":[],"layer\u017f":[]}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
    expectRefused('{"kind":1,"\u212aind":2}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key', {});
    // A large object switches to a set: still found.
    const many = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',');
    expectRefused(`{${many},"K39":0}`, 'ARTIFACT_AMBIGUOUS', 'duplicate-key', {});
  });

  it('a key that is another spelling of a known field, alone', () => {
    for (const key of [
      'Layers',
      'LAYERS',
      'layer\u017f',
      'lAyErS',
      'MediaType',
      'media_type',
      'schema-version',
    ]) {
      expectRefused(`{"${key}":[]}`, 'ARTIFACT_AMBIGUOUS', 'case-variant');
    }
    // Inside descriptors too, and written with escapes.
    expectRefused('{"layers":[{"Digest":"x"}]}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
    expectRefused('{"\\u004cayers":[]}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
    // Kelvin sign: `\u212a` folds to k, so "\u212aind" is the field "kind".
    expectRefused('{"\u212aind":1}', 'ARTIFACT_AMBIGUOUS', 'case-variant', { known: knownFields(['kind']) });
    // Dotless i: Go 1.21 matched it to I; refused whichever Go reads the document.
    expectRefused('{"annotat\u0131ons":{}}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
  });

  it('accepts the exact spellings, and unrelated keys', () => {
    expect(parseStrictJson('{"layers":[],"os.version":"1","x-Layers":1}', { known: OCI_FIELDS })).toEqual({
      layers: [],
      'os.version': '1',
      'x-Layers': 1,
    });
    // A leading underscore is part of the name: `_type` (in-toto) is not `type` (CycloneDX).
    expect(parseStrictJson('{"_type":"a","type":"b"}', { known: knownFields(['_type', 'type']) })).toEqual({
      _type: 'a',
      type: 'b',
    });
  });

  it('bytes that are not UTF-8, and escapes that leave a lone surrogate', () => {
    expectRefused(
      new Uint8Array([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d]),
      'ARTIFACT_AMBIGUOUS',
      'invalid-utf8',
    );
    // An overlong encoding of '/' and an encoded surrogate are not UTF-8 either.
    expectRefused(
      new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]),
      'ARTIFACT_AMBIGUOUS',
      'invalid-utf8',
    );
    expectRefused(
      new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]),
      'ARTIFACT_AMBIGUOUS',
      'invalid-utf8',
    );
    expectRefused('{"a":"\\ud800"}', 'ARTIFACT_AMBIGUOUS', 'lone-surrogate');
    expectRefused('{"a":"\\udc00\\ud800"}', 'ARTIFACT_AMBIGUOUS', 'lone-surrogate');
    expectRefused('{"\\ud800layers":1}', 'ARTIFACT_AMBIGUOUS', 'lone-surrogate');
    expectRefused('{"a":"\ud800"}', 'ARTIFACT_AMBIGUOUS', 'lone-surrogate');
    expect(parseStrictJson('{"a":"\\ud83d\\ude00"}')).toEqual({ a: '\u{1f600}' });
  });

  it('with integersOnly, a number written with a fraction or an exponent', () => {
    for (const n of ['1.0', '1e3', '1E3', '1.0e3', '-0.0', '2e+0']) {
      expectRefused(`{"size":${n}}`, 'ARTIFACT_AMBIGUOUS', 'non-integer', { integersOnly: true });
      expect(parseStrictJson(`{"size":${n}}`)).toEqual({ size: Number(n) });
    }
    expect(parseStrictJson('{"size":-12}', { integersOnly: true })).toEqual({ size: -12 });
  });

  it('nesting deeper than the bound, fast, even in a 4 MiB document', () => {
    const limit = `${'['.repeat(DEFAULT_MAX_DEPTH)}${']'.repeat(DEFAULT_MAX_DEPTH)}`;
    expect(parseStrictJson(limit, { topLevel: 'any' })).toBeDefined();
    expectRefused(`[${limit}]`, 'ARTIFACT_AMBIGUOUS', 'too-deep', { topLevel: 'any' });
    const hostile = enc(`{"a":${'['.repeat(4 * 1024 * 1024 - 10)}`);
    const start = performance.now();
    expectRefused(hostile, 'ARTIFACT_AMBIGUOUS', 'too-deep');
    // The refusal comes at depth 65, not after reading 4 MiB.
    expect(performance.now() - start).toBeLessThan(500);
    expectRefused('{"a":[[1]]}', 'ARTIFACT_AMBIGUOUS', 'too-deep', { maxDepth: 2 });
  });

  it('input larger than the bound', () => {
    expectRefused(enc(`{"a":"${'x'.repeat(100)}"}`), 'ARTIFACT_AMBIGUOUS', 'too-large', { maxBytes: 64 });
    expectRefused(`{"a":"${'x'.repeat(100)}"}`, 'ARTIFACT_AMBIGUOUS', 'too-large', { maxBytes: 64 });
  });

  it('syntax errors and a top-level value that is not an object are JSON_INVALID', () => {
    for (const bad of [
      '',
      '{',
      '{"a":1,}',
      '{"a":01}',
      '{"a":.5}',
      '{"a":1.}',
      '{"a":"\\x"}',
      "{'a':1}",
      '{"a":1} x',
      '{"a":"\t"}',
      '{"a":tru}',
      '{"a":-}',
      '{a:1}',
    ]) {
      expectRefused(bad, 'JSON_INVALID', 'syntax', {});
    }
    for (const bad of ['[]', '"x"', '1', 'null']) expectRefused(bad, 'JSON_INVALID', 'not-object', {});
    // Go refuses a byte order mark; a document whose consumers accept one may allow it.
    expectRefused(enc('\ufeff{}'), 'JSON_INVALID', 'syntax', {});
    expectRefused(enc('\ufeff[]'), 'JSON_INVALID', 'syntax', { topLevel: 'any' });
    expect(parseStrictJson(enc('\ufeff{"a":1}'), { allowBom: true })).toEqual({ a: 1 });
  });
});

describe('foldKey', () => {
  it('folds as Go does for the letters that reach ASCII field names', () => {
    expect(foldKey('LaYeRs')).toBe('layers');
    expect(foldKey('layer\u017f')).toBe('layers');
    expect(foldKey('\u212aind')).toBe('kind');
    expect(foldKey('\u03a3\u03c2')).toBe(foldKey('\u03c3\u03c3'));
    // Dotted capital I is its own letter in Go's simple folding.
    expect(foldKey('\u0130')).not.toBe(foldKey('i'));
  });
});

// JSON values as JSON.parse returns them, with keys that never collide up to case (so never refused).
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'grapheme' }),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc
    .uniqueArray(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 8 }), tie('value')), {
      selector: ([k]) => foldKey(k),
      maxLength: 5,
    })
    .map((entries) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries)
        Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
}));

describe('parseStrictJson agrees with JSON.parse', () => {
  it('on documents without duplicate or case-variant keys (10,000 runs)', () => {
    fc.assert(
      fc.property(jsonValue.object, fc.constantFrom('', ' ', '\n\t', '\r\n  '), (doc, space) => {
        // Formatting with whitespace between every token, or none.
        const text = JSON.stringify(doc, null, space === '' ? undefined : space);
        expect(parseStrictJson(enc(text))).toEqual(JSON.parse(text));
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 10_000 },
    );
  });

  it('on what it accepts among arbitrary texts: never a value JSON.parse would not give', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(...'{}[]":,\\ -0123456789.eE+tuefalsnrbx\n'.split('')),
          maxLength: 40,
        }),
        (text) => {
          let native: unknown;
          let nativeOk = true;
          try {
            native = JSON.parse(text);
          } catch {
            nativeOk = false;
          }
          const e = refusal(text, { topLevel: 'any' });
          if (e === undefined) {
            expect(nativeOk).toBe(true);
            expect(parseStrictJson(text, { topLevel: 'any' })).toEqual(native);
          } else if (!nativeOk) {
            expect(e.code).toBe('JSON_INVALID');
            expect(e.message).not.toContain('native parser');
          } else {
            // Both grammars agree: a text JSON.parse reads is refused only for what it carries.
            expect(['duplicate-key', 'too-deep']).toContain(e.reason);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe('map-valued fields (annotations, labels, digest sets) hold keys of the author', () => {
  const known = { known: OCI_FIELDS };
  it('an annotation named like a descriptor field is not a case variant of it', () => {
    expect(refusal('{"layers":[],"annotations":{"Size":"7b","MediaType":"x"}}', known)).toBeUndefined();
    expect(refusal('{"config":{"annotations":{"Digest":"x"}},"layers":[]}', known)).toBeUndefined();
  });

  it('the exemption ends with the map: a case variant after it, or beside an empty one, is refused', () => {
    expectRefused('{"annotations":{"Size":"1"},"Layers":[]}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
    expectRefused('{"annotations":{},"Layers":[]}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
    expectRefused('{"annotations":[],"Layers":[]}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
    expectRefused('{"layers":[{"annotations":{"a":"b"},"Size":1}]}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
  });

  it('only the exact field name opens a map (Go would match `Annotations` to the field, not a map)', () => {
    expectRefused('{"Annotations":{"Size":"1"}}', 'ARTIFACT_AMBIGUOUS', 'case-variant');
  });

  it('SLSA parameters are not a free map: modelgate reads fields in them that Go decodes into structs', () => {
    const known = { known: knownFields(['externalParameters', 'workflow', 'repository', 'source']) };
    expectRefused(
      '{"externalParameters":{"Workflow":{"repository":"https://github.com/evil/x"}}}',
      'ARTIFACT_AMBIGUOUS',
      'case-variant',
      known,
    );
  });

  it('duplicates inside a map are still refused', () => {
    expectRefused('{"annotations":{"a":"1","a":"2"}}', 'ARTIFACT_AMBIGUOUS', 'duplicate-key');
  });
});
