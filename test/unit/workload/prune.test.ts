// The pruned object that crosses back from the decode worker must read exactly like the whole object:
// the same pod templates, the same references at the same field paths (whatever images a policy
// covers), the same pull context, the same name for Events. Generated objects mix the shapes the
// extractor reads with wrong types, holes and noise.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { podPullContexts } from '../../../src/kube/credentials.ts';
import { extractModelReferences, MODELS_ANNOTATION } from '../../../src/workload/extract.ts';
import { podTemplatesOf } from '../../../src/workload/podspecs.ts';
import { pruneAdmittedObject } from '../../../src/workload/prune.ts';

const KINDS = [
  { group: '', version: 'v1', kind: 'Pod' },
  { group: 'apps', version: 'v1', kind: 'Deployment' },
  { group: 'apps', version: 'v1', kind: 'StatefulSet' },
  { group: 'batch', version: 'v1', kind: 'Job' },
  { group: 'batch', version: 'v1', kind: 'CronJob' },
  { group: '', version: 'v1', kind: 'ReplicationController' },
  { group: '', version: 'v1', kind: 'ConfigMap' },
];

const odd = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}));
const text = fc.oneof(
  fc.constantFrom(
    'reg.example/models/m@sha256:' + 'a'.repeat(64),
    'oci://reg.example/m:v1',
    '--model=OCI://reg.example/x  oci://b/c;oci://d/e',
    ' nginx ',
    '',
    'python serve.py',
  ),
  fc.string({ maxLength: 12 }),
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof({ arbitrary: a, weight: 6 }, { arbitrary: odd, weight: 1 });
const list = <T>(a: fc.Arbitrary<T>) => maybe(fc.array(maybe(a), { maxLength: 5 }));

const container = fc.record(
  {
    name: text,
    image: maybe(text),
    command: list(text),
    args: list(text),
    env: list(fc.record({ name: text, value: maybe(text) }, { requiredKeys: ['name'] })),
    resources: fc.constant({ limits: { cpu: '1' } }),
  },
  { requiredKeys: [] },
);
const spec = fc.record(
  {
    containers: list(container),
    initContainers: list(container),
    ephemeralContainers: list(container),
    volumes: list(
      fc.oneof(
        fc.record({ name: text, image: maybe(fc.record({ reference: maybe(text), pullPolicy: text })) }),
        fc.record({ name: text, emptyDir: fc.constant({}) }),
      ),
    ),
    imagePullSecrets: list(fc.record({ name: maybe(text) }, { requiredKeys: [] })),
    serviceAccountName: maybe(text),
    serviceAccount: maybe(text),
    nodeName: text,
  },
  { requiredKeys: [] },
);
const annotations = fc.dictionary(
  fc.oneof(fc.constant(MODELS_ANNOTATION), fc.constant('__proto__'), fc.string({ maxLength: 6 })),
  maybe(text),
  { maxKeys: 4 },
);
const pod = fc.record(
  {
    metadata: maybe(
      fc.record(
        { name: text, generateName: text, uid: text, annotations: maybe(annotations), labels: annotations },
        { requiredKeys: [] },
      ),
    ),
    spec: maybe(spec),
  },
  { requiredKeys: [] },
);
// A pod, or the same wrapped as each kind wraps its template (sometimes broken on the way).
const object = fc.oneof(
  { arbitrary: pod, weight: 3 },
  fc.record({ metadata: fc.constant({ name: 'd' }), spec: maybe(fc.record({ template: maybe(pod) })) }),
  fc.record({
    spec: maybe(
      fc.record({ jobTemplate: maybe(fc.record({ spec: maybe(fc.record({ template: maybe(pod) })) })) }),
    ),
  }),
  { arbitrary: odd, weight: 1 },
);

/** Any image predicate a policy set could be: decided by the text, the same for both objects. */
const predicate = (salt: number) => (image: string) => (image.length + salt) % 3 !== 0;

describe('pruneAdmittedObject', () => {
  it('reads like the whole object for templates, references, pull contexts and the Event name', () => {
    let withReferences = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        object,
        fc.constantFrom(undefined, '', 'ephemeralcontainers', 'status'),
        fc.nat(2),
        (kind, obj, sub, salt) => {
          // JSON round trip: the decoder's object, own properties only (`__proto__` a plain key).
          const whole: unknown = JSON.parse(JSON.stringify(obj) ?? 'null');
          const pruned = structuredClone(pruneAdmittedObject(kind, whole, sub));
          const a = podTemplatesOf(kind, whole, sub);
          const b = podTemplatesOf(kind, pruned, sub);
          expect(b.ok).toBe(a.ok);
          if (!a.ok || !b.ok) return;
          expect(b.templates.map((t) => [t.path, t.specPath, t.annotations])).toEqual(
            a.templates.map((t) => [t.path, t.specPath, t.annotations]),
          );
          a.templates.forEach((t, i) => {
            if (extractModelReferences(t, () => true).references.length > 0) withReferences++;
            expect(extractModelReferences(b.templates[i]!, predicate(salt))).toEqual(
              extractModelReferences(t, predicate(salt)),
            );
          });
          const req = { kind, operation: 'CREATE', namespace: 'ml', object: whole, subResource: sub };
          expect(podPullContexts({ ...req, object: pruned })).toEqual(podPullContexts(req));
          const meta = (o: unknown) => (o as { metadata?: Record<string, unknown> } | null)?.metadata;
          for (const k of ['name', 'generateName', 'uid']) {
            const v = meta(whole)?.[k];
            if (typeof v === 'string') expect(meta(pruned)?.[k]).toBe(v);
          }
        },
      ),
      { numRuns: 10_000 },
    );
    // The generator reaches the extractor: a good share of the objects name models.
    expect(withReferences).toBeGreaterThan(500);
  });

  it('drops what modelgate never reads: a 2 MB env of plain values crosses back as nulls', () => {
    const env = Array.from({ length: 20_000 }, (_, i) => ({ name: `V${i}`, value: 'x'.repeat(100) }));
    env[12_345] = { name: 'M', value: 'oci://reg.example/m:v1' };
    const whole = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', env }] } };
    const pruned = pruneAdmittedObject(KINDS[0]!, whole) as {
      spec: { containers: { env: unknown[] }[] };
    };
    expect(JSON.stringify(pruned).length).toBeLessThan(120_000);
    expect(pruned.spec.containers[0]!.env[12_345]).toEqual({ value: 'oci://reg.example/m:v1' });
    const t = podTemplatesOf(KINDS[0]!, pruned);
    expect(t.ok && extractModelReferences(t.templates[0]!, () => false).references).toEqual([
      { raw: 'oci://reg.example/m:v1', fieldPath: 'spec.containers[0].env[12345].value', source: 'env' },
    ]);
  });
});
