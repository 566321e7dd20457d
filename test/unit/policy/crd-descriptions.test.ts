// `kubectl explain modelpolicy.spec...` shows each field's description: every spec field has one. And the
// CRD refuses a policy that does not say what signatures it requires, in the words `policy lint` uses.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCrdYaml } from '../../../src/policy/crd-files.ts';
import {
  AUTHORITIES_REQUIRED_MESSAGE,
  NOT_REQUIRED_EXTRAS_MESSAGE,
  SIGNATURES_ABSENT_MESSAGE,
} from '../../../src/policy/schema.ts';

type Node = any;
const crd = parse(renderCrdYaml());
const spec: Node = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;

/** Every field `kubectl explain` can show under spec, as a dotted path, with its schema node. */
function fields(node: Node, path: string, out: [string, Node][] = []): [string, Node][] {
  out.push([path, node]);
  const props = node.properties ?? node.items?.properties ?? {};
  for (const [k, v] of Object.entries(props)) fields(v, `${path}.${k}`, out);
  return out;
}

describe('ModelPolicy CRD descriptions', () => {
  const all = fields(spec, 'spec');

  it('covers the nested fields (the walk reaches authorities, keys and selectors)', () => {
    const paths = all.map(([p]) => p);
    expect(paths).toContain('spec.signatures.authorities.key.secretRef.namespace');
    expect(paths).toContain('spec.match.namespaceSelector.matchExpressions.operator');
    expect(paths.length).toBeGreaterThan(50);
  });

  it.each(all.map(([p, n]) => [p, n] as const))('%s has a description', (_path, node) => {
    expect(typeof node.description).toBe('string');
    expect((node.description as string).length).toBeGreaterThan(8);
  });
});

describe('ModelPolicy CRD rules on signatures', () => {
  const rules = (node: Node) =>
    (node['x-kubernetes-validations'] ?? []) as { rule: string; message: string; fieldPath?: string }[];

  it('refuses a spec without signatures, at spec.signatures, saying how to write either form', () => {
    const r = rules(spec).find((x) => x.rule === 'has(self.signatures)');
    expect(r).toMatchObject({ message: SIGNATURES_ABSENT_MESSAGE, fieldPath: '.signatures' });
    expect(SIGNATURES_ABSENT_MESSAGE).toContain('signatures: {required: false}');
  });

  it('needs authorities unless required is false, and none when it is', () => {
    const sig = spec.properties.signatures;
    expect(sig.properties.required.default).toBe(true);
    expect(rules(sig).map((x) => x.message)).toEqual(
      expect.arrayContaining([AUTHORITIES_REQUIRED_MESSAGE, NOT_REQUIRED_EXTRAS_MESSAGE]),
    );
    expect(sig.required).toBeUndefined();
  });
});
