import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILES, renderCrdYaml } from '../../../src/policy/crd-files.ts';

describe('ModelPolicy CRD', () => {
  it.each(CRD_FILES)(
    '%s is what scripts/gen-crd.ts generates from the schema (run it after a schema change)',
    (file) => {
      expect(readFileSync(file, 'utf8')).toBe(renderCrdYaml());
    },
  );

  it('is a structural schema: no additionalProperties:false, no anyOf, every node typed', () => {
    const crd = parse(renderCrdYaml());
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    const walk = (node: any, path: string) => {
      expect(node.anyOf, path).toBeUndefined();
      expect(node.additionalProperties === false, path).toBe(false);
      if (!node['x-kubernetes-preserve-unknown-fields']) expect(typeof node.type, path).toBe('string');
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
    };
    walk(schema, '');
    expect(schema.properties.spec.properties.mode.enum).toEqual(['Enforce', 'Warn', 'Audit']);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
  });
});
