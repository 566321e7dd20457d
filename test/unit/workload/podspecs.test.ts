import { describe, expect, it } from 'vitest';
import { isPodBearingKind, podTemplatesOf } from '../../../src/workload/podspecs.ts';
import { container, KIND_CASES, podTemplate } from './builders.ts';

const POD = { group: '', version: 'v1', kind: 'Pod' };
const DEPLOYMENT = { group: 'apps', version: 'v1', kind: 'Deployment' };

describe('podTemplatesOf', () => {
  describe.each(KIND_CASES)('$name', (c) => {
    const spec = { containers: [container()] };
    const object = c.wrap(
      podTemplate({ annotations: { team: 'ml', 'modelgate.dev/models': 'r/m:1' }, spec }),
    );

    it('is a pod-bearing kind', () => {
      expect(isPodBearingKind(c.gvk, c.subResource)).toBe(true);
    });

    it('finds the one pod template, its path, annotations and spec', () => {
      const result = podTemplatesOf(c.gvk, object, c.subResource);
      expect(result).toEqual({
        ok: true,
        templates: [
          {
            path: c.path,
            specPath: c.specPath,
            annotations: { team: 'ml', 'modelgate.dev/models': 'r/m:1' },
            spec,
          },
        ],
      });
      expect(result.ok && result.templates[0]?.spec).toBe(spec);
    });

    it.each(['v1beta1', 'v1beta2', 'v2', ''])('accepts version %j (matchPolicy Equivalent)', (version) => {
      const result = podTemplatesOf({ ...c.gvk, version }, object, c.subResource);
      expect(result.ok && result.templates.map((t) => t.specPath)).toEqual([c.specPath]);
    });

    it.each([null, [], 'pod', 42, true, undefined])('refuses the non-object %j', (bad) => {
      const result = podTemplatesOf(c.gvk, bad, c.subResource);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toMatch(/not a JSON object/);
    });

    it('gives no template when the template is missing', () => {
      expect(podTemplatesOf(c.gvk, {}, c.subResource)).toEqual(
        c.path === ''
          ? { ok: true, templates: [{ path: '', specPath: 'spec', annotations: {}, spec: undefined }] }
          : { ok: true, templates: [] },
      );
    });
  });

  it.each([
    ['no spec', {}],
    ['a string spec', { spec: 'x' }],
    ['a null template', { spec: { template: null } }],
    ['an array template', { spec: { template: [{ spec: {} }] } }],
  ])('gives no template for a Deployment with %s', (_name, object) => {
    expect(podTemplatesOf(DEPLOYMENT, object)).toEqual({ ok: true, templates: [] });
  });

  it.each([
    ['no jobTemplate', { spec: { schedule: '* * * * *' } }],
    ['a jobTemplate without spec', { spec: { jobTemplate: {} } }],
    ['a jobTemplate.spec without template', { spec: { jobTemplate: { spec: { parallelism: 2 } } } }],
    ['a numeric jobTemplate.spec', { spec: { jobTemplate: { spec: 3 } } }],
  ])('gives no template for a CronJob with %s', (_name, object) => {
    expect(podTemplatesOf({ group: 'batch', version: 'v1', kind: 'CronJob' }, object)).toEqual({
      ok: true,
      templates: [],
    });
  });

  it('keeps a template without spec (its annotations still name models)', () => {
    const object = { spec: { template: { metadata: { annotations: { 'modelgate.dev/models': 'r/m' } } } } };
    expect(podTemplatesOf(DEPLOYMENT, object)).toEqual({
      ok: true,
      templates: [
        {
          path: 'spec.template',
          specPath: 'spec.template.spec',
          annotations: { 'modelgate.dev/models': 'r/m' },
          spec: undefined,
        },
      ],
    });
  });

  it('passes an odd Pod spec through as received', () => {
    for (const spec of ['x', 7, null, [1, 2]]) {
      const result = podTemplatesOf(POD, { spec });
      expect(result.ok && result.templates[0]?.spec).toBe(spec);
    }
  });

  it('keeps string annotations only', () => {
    const object = {
      metadata: { annotations: { a: 'x', b: 1, c: null, d: { e: 'f' }, g: ['h'], i: '', j: true } },
    };
    const result = podTemplatesOf(POD, object);
    expect(result.ok && result.templates[0]?.annotations).toEqual({ a: 'x', i: '' });
  });

  it.each([
    ['no metadata', {}],
    ['a string metadata', { metadata: 'm' }],
    ['null annotations', { metadata: { annotations: null } }],
    ['array annotations', { metadata: { annotations: ['modelgate.dev/models=r/m'] } }],
  ])('gives empty annotations for %s', (_name, object) => {
    const result = podTemplatesOf(POD, object);
    expect(result.ok && result.templates[0]?.annotations).toEqual({});
  });

  it('keeps a __proto__ annotation as a plain key', () => {
    const object = JSON.parse('{"metadata":{"annotations":{"__proto__":"x","k":"v"}}}') as unknown;
    const result = podTemplatesOf(POD, object);
    const annotations = result.ok ? result.templates[0]?.annotations : undefined;
    expect(annotations && Object.keys(annotations)).toEqual(['__proto__', 'k']);
    expect(annotations && Object.getPrototypeOf(annotations)).toBe(Object.prototype);
  });

  it('reads the pod template, not the workload, metadata', () => {
    const object = {
      metadata: { annotations: { 'modelgate.dev/models': 'outer/m' } },
      spec: { template: { metadata: { annotations: { 'modelgate.dev/models': 'inner/m' } }, spec: {} } },
    };
    const result = podTemplatesOf(DEPLOYMENT, object);
    expect(result.ok && result.templates[0]?.annotations).toEqual({ 'modelgate.dev/models': 'inner/m' });
  });
});

describe('isPodBearingKind', () => {
  it.each([
    { group: '', version: 'v1', kind: 'ConfigMap' },
    { group: '', version: 'v1', kind: 'Service' },
    { group: '', version: 'v1', kind: 'PodTemplate' },
    { group: 'apps', version: 'v1', kind: 'ControllerRevision' },
    { group: 'apps', version: 'v1', kind: 'Pod' },
    { group: '', version: 'v1', kind: 'Deployment' },
    { group: 'example.com', version: 'v1', kind: 'Deployment' },
    { group: 'batch', version: 'v1', kind: 'Deployment' },
    { group: 'apps', version: 'v1', kind: 'CronJob' },
    { group: '', version: 'v1', kind: 'pod' },
    { group: 'autoscaling', version: 'v1', kind: 'Scale' },
    { group: 'policy', version: 'v1', kind: 'Eviction' },
  ])('is false for $group/$kind', (gvk) => {
    expect(isPodBearingKind(gvk)).toBe(false);
    expect(podTemplatesOf(gvk, { spec: { template: { spec: {} } } })).toEqual({ ok: true, templates: [] });
    expect(podTemplatesOf(gvk, null)).toEqual({ ok: true, templates: [] });
  });

  it.each(['status', 'binding', 'eviction', 'exec', 'attach', 'log', 'portforward', 'proxy', 'resize'])(
    'is false for the pods/%s subresource',
    (subResource) => {
      expect(isPodBearingKind(POD, subResource)).toBe(false);
      expect(podTemplatesOf(POD, { spec: { containers: [] } }, subResource)).toEqual({
        ok: true,
        templates: [],
      });
    },
  );

  it.each(['status', 'scale', 'ephemeralcontainers'])('is false for deployments/%s', (subResource) => {
    expect(isPodBearingKind(DEPLOYMENT, subResource)).toBe(false);
  });

  it('treats an empty subresource as the main resource', () => {
    expect(isPodBearingKind(POD, '')).toBe(true);
    expect(isPodBearingKind(DEPLOYMENT, '')).toBe(true);
  });
});
