import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { parsePolicyYaml } from '../../../src/policy/load.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/policy/${name}`, import.meta.url), 'utf8');

describe('validateModelPolicy', () => {
  it('accepts the example policies and fills in defaults', () => {
    const { policies, errors } = parsePolicyYaml(readFileSync('examples/policies.yaml', 'utf8'), 'examples');
    expect(errors).toEqual([]);
    expect(policies.map((p) => p.metadata.name)).toEqual(['production-models', 'research-models']);
    const research = policies[1]!;
    expect(research.spec.mode).toBe('Warn');
    const prod = policies[0]!;
    expect(prod.spec.signatures?.threshold).toBe(1);
    expect(prod.spec.mlbom).toEqual({ required: true, requireHashMatch: true });
  });

  it('defaults mode to Enforce and requireDigest to true', () => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p' },
      spec: { models: ['r.example/**'], signatures: { required: false } },
    });
    expect(v.ok && v.policy.spec).toEqual({
      models: ['r.example/**'],
      signatures: { required: false, threshold: 1 },
      mode: 'Enforce',
      requireDigest: true,
    });
  });

  describe('a policy says what signatures it requires', () => {
    const lint = (spec: Record<string, unknown>) => {
      const v = validateModelPolicy({
        apiVersion: 'modelgate.dev/v1alpha1',
        kind: 'ModelPolicy',
        metadata: { name: 'p' },
        spec: { models: ['r.example/**'], ...spec },
      });
      return v.ok ? [] : v.errors;
    };
    const authority = { name: 'a', keyless: { issuer: 'https://issuer.example', subject: 'me@example.com' } };

    it('refuses a policy without signatures, saying how to write either form', () => {
      const errors = lint({});
      expect(errors).toHaveLength(1);
      expect(errors[0]!.path).toBe('spec.signatures');
      expect(errors[0]!.message).toContain('signatures: {required: false}');
      expect(errors[0]!.message).toContain('authorities');
    });

    it('refuses signatures that require a signature (the default) but name no authority', () => {
      for (const signatures of [{}, { required: true }, { threshold: 1 }]) {
        const errors = lint({ signatures });
        expect(errors.map((e) => e.path)).toEqual(['spec.signatures.authorities']);
        expect(errors[0]!.message).toMatch(
          /required is true \(the default\).*signatures: \{required: false\}/,
        );
      }
    });

    it('refuses authorities or allowUnsignedFiles under required: false', () => {
      const errors = lint({
        signatures: { required: false, authorities: [authority], allowUnsignedFiles: ['README.md'] },
      });
      expect(errors.map((e) => e.path).sort()).toEqual([
        'spec.signatures.allowUnsignedFiles',
        'spec.signatures.authorities',
      ]);
    });

    it('accepts either form, and signedBy needs authorities', () => {
      expect(lint({ signatures: { required: false } })).toEqual([]);
      expect(lint({ signatures: { authorities: [authority] } })).toEqual([]);
      expect(
        lint({ signatures: { required: false }, mlbom: { signedBy: ['a'] } }).map((e) => e.path),
      ).toEqual(['spec.mlbom.signedBy[0]']);
    });
  });

  const docs = parseAllDocuments(fixture('invalid.yaml')).map((d) => d.toJS() as Record<string, any>);
  it.each(docs.map((d) => [d.metadata.name as string, d] as const))(
    'reports every error of %s',
    (_name, doc) => {
      const v = validateModelPolicy(doc);
      expect(v.ok).toBe(false);
      if (v.ok) return;
      const expected = (doc.metadata.annotations.expect as string).split(' ').sort();
      expect([...new Set(v.errors.map((e) => e.path))].sort()).toEqual(expected);
      for (const e of v.errors) expect(e.message.length).toBeGreaterThan(3);
    },
  );

  it('names allowed values for an enum field', () => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p' },
      spec: { models: ['r.example/**'], mode: 'enforce' },
    });
    expect(v.ok).toBe(false);
    if (!v.ok)
      expect(v.errors).toContainEqual({ path: 'spec.mode', message: 'must be one of: Enforce, Warn, Audit' });
  });

  it('never throws and never accepts junk', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const v = validateModelPolicy(value);
        expect(v.ok).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on junk specs; a refusal always names a field, an acceptance has the required fields', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('mode', 'models', 'signatures', 'formats', 'match', 'mlbom'),
          fc.jsonValue(),
        ),
        (spec) => {
          const v = validateModelPolicy({
            apiVersion: 'modelgate.dev/v1alpha1',
            kind: 'ModelPolicy',
            metadata: { name: 'p' },
            spec,
          });
          if (v.ok) {
            expect(v.policy.spec.models.length).toBeGreaterThan(0);
            expect(['Enforce', 'Warn', 'Audit']).toContain(v.policy.spec.mode);
          } else {
            expect(v.errors.length).toBeGreaterThan(0);
            for (const e of v.errors) expect(e.path).toMatch(/^spec/);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('reports YAML syntax errors and duplicate-free multi-document files', () => {
    const r = parsePolicyYaml('a: [unclosed\n', 'bad.yaml');
    expect(r.policies).toEqual([]);
    expect(r.errors[0]?.source).toBe('bad.yaml#0');
    expect(r.errors[0]?.errors[0]?.message).toMatch(/^YAML:/);
  });
});

describe('compilePolicy', () => {
  const compile = (spec: Record<string, unknown>) => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p' },
      spec: { signatures: { required: false }, ...spec },
    });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return compilePolicy(v.policy);
  };

  it('compiles signatures: {required: false} to exactly what an absent section compiled to', () => {
    const explicit = compile({ models: ['r.example/**'] });
    expect(explicit.spec.signatures).toBeUndefined();
    const absent = compilePolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'p' },
      spec: { models: ['r.example/**'], mode: 'Enforce', requireDigest: true },
    });
    expect(explicit.contentKey).toBe(absent.contentKey);
    expect(explicit.spec).toEqual(absent.spec);
    const signed = compile({
      models: ['r.example/**'],
      signatures: { authorities: [{ name: 'a', keyless: { issuer: 'https://i.example', subject: 's' } }] },
    });
    expect(signed.spec.signatures?.required).toBe(true);
    expect(signed.contentKey).not.toBe(explicit.contentKey);
  });

  it('matches namespaces by glob and selector; unknown labels apply the policy (fail closed)', () => {
    const p = compile({
      models: ['r.example/m/**'],
      match: { namespaces: ['prod-*', 'ml'], namespaceSelector: { matchLabels: { env: 'prod' } } },
    });
    expect(p.appliesToNamespace('prod-a', { env: 'prod' })).toBe(true);
    expect(p.appliesToNamespace('prod-a', { env: 'dev' })).toBe(false);
    expect(p.appliesToNamespace('dev', { env: 'prod' })).toBe(false);
    expect(p.appliesToNamespace('ml', undefined)).toBe(true);
  });

  it('evaluates matchExpressions', () => {
    const p = compile({
      models: ['r.example/m/**'],
      match: {
        namespaceSelector: {
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['gold', 'silver'] },
            { key: 'sandbox', operator: 'DoesNotExist' },
          ],
        },
      },
    });
    expect(p.appliesToNamespace('a', { tier: 'gold' })).toBe(true);
    expect(p.appliesToNamespace('a', { tier: 'bronze' })).toBe(false);
    expect(p.appliesToNamespace('a', { tier: 'gold', sandbox: '' })).toBe(false);
  });

  it('admits only the data formats by default (fail closed), and exactly an allow list when one is set', () => {
    const p = compile({ models: ['r.example/**'] });
    expect([...(p.allowedFormats ?? [])].sort()).toEqual(
      ['gguf', 'image', 'json', 'numpy', 'onnx', 'safetensors', 'text', 'tokenizer'].sort(),
    );
    expect(p.deniedFormats.has('unknown')).toBe(true);
    expect(p.deniedFormats.has('pickle')).toBe(true);
    const q = compile({ models: ['r.example/**'], formats: { allow: ['safetensors'] } });
    expect(q.deniedFormats.size).toBe(0);
    expect([...(q.allowedFormats ?? [])]).toEqual(['safetensors']);
  });

  it('keys cache entries by uid and generation; a local policy uid changes with its spec', () => {
    const a = compile({ models: ['r.example/**'] });
    const b = compile({ models: ['r.example/**'], requireDigest: false });
    expect(a.uid).not.toBe(b.uid);
    expect(a.generation).toBe(1);
    expect(a.governs('r.example/x/y')).toBe(true);
    expect(a.governs('other.example/x')).toBe(false);
  });
});

describe('policy lint reports every error in one pass', () => {
  it('an invalid mode does not hide the threshold, regexp and key errors of the same policy', () => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'many-errors' },
      spec: {
        mode: 'Enforcing',
        models: ['registry.example.com/**'],
        signatures: {
          threshold: 3,
          authorities: [
            { name: 'ci', keyless: { issuer: 'https://issuer.example', subjectRegExp: '(unclosed' } },
            { name: 'release', key: { pem: 'not a key' } },
          ],
        },
      },
    });
    expect(v.ok).toBe(false);
    const paths = v.ok ? [] : v.errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'spec.mode',
        'spec.signatures',
        'spec.signatures.authorities[0].keyless.subjectRegExp',
        'spec.signatures.authorities[1].key.pem',
      ]),
    );
  });

  it('a rule finding in a section with a schema error is left out (it may only follow from it)', () => {
    const v = validateModelPolicy({
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'shape' },
      spec: { models: ['registry.example.com/**'], signatures: { threshold: 2, authorities: 'nope' } },
    });
    const errors = v.ok ? [] : v.errors;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.path.startsWith('spec.signatures'))).toBe(true);
    expect(errors.map((e) => e.message)).not.toContain('threshold must not exceed the number of authorities');
  });
});
