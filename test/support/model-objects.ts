/**
 * Generators for the matchConditions property tests (unit: test/unit/kube/match-conditions.test.ts; e2e:
 * e2e/match-conditions.test.ts): raw container images written every way parseReference reads them,
 * pod-bearing objects of every kind the webhook handles, valid for the API server, and two readings of
 * each object to compare with what the API server does: the extractor's (must be sent) and a JavaScript
 * mirror of the CEL expression (is sent).
 */
import fc from 'fast-check';
import { HANDLED_KINDS, type ImageTest, imageTestSends } from '../../src/kube/match-conditions.ts';
import { compileGlob, validateGlob } from '../../src/reference/glob.ts';
import { parseReference, repositoryOf } from '../../src/reference/reference.ts';
import { extractModelReferences, MODELS_ANNOTATION } from '../../src/workload/extract.ts';
import { type GroupVersionKind, podTemplatesOf } from '../../src/workload/podspecs.ts';

/** Hosts as pods write them: Docker Hub in its spellings, ports, wildcard-able names, IPv6. */
const HOSTS = [
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.example.com',
  'registry.example.com:5000',
  'localhost',
  'localhost:5000',
  'a.models.example',
  'b.c.models.example',
  'models.example',
  'ghcr.io',
  'quay.io',
  '127.0.0.1:5000',
  '[::1]:5000',
] as const;

/** Path components, some named by the e2e policies' globs, some near misses. */
const COMPONENTS = [
  'library',
  'llama',
  'llama3',
  'llamas',
  'nginx',
  'acme',
  'models',
  'model',
  'team',
  'v1',
  'v10',
  'evil',
  'x',
  'a.b',
  'a_b',
  'm-1',
  'Upper',
] as const;

/** Characters parseReference's trim() drops and the API server's validation keeps (it trims Go spaces only). */
const LEADING = ['', '', '', '\uFEFF'] as const;

/** Random ASCII letter case, as a pod author may write a host or scheme. */
function recase(text: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
}

const hexDigit = fc.constantFrom(...'0123456789abcdef');
const digest = fc.array(hexDigit, { minLength: 64, maxLength: 64 }).map((h) => `@sha256:${h.join('')}`);
const tag = fc.constantFrom(':v1', ':latest', ':8b-instruct', ':1.0.0');

/** A raw container image: maybe a leading BOM, maybe `oci://` in any case, maybe a host in any case, 1-3 components, maybe a tag and a digest. */
export const rawImage: fc.Arbitrary<string> = fc
  .record({
    leading: fc.constantFrom(...LEADING),
    scheme: fc.oneof({ weight: 5, arbitrary: fc.constant('') }, { weight: 1, arbitrary: recase('oci://') }),
    host: fc.oneof(
      { weight: 1, arbitrary: fc.constant('') },
      { weight: 3, arbitrary: fc.constantFrom(...HOSTS).chain((h) => fc.oneof(fc.constant(h), recase(h))) },
    ),
    path: fc.array(fc.constantFrom(...COMPONENTS), { minLength: 1, maxLength: 3 }),
    tag: fc.option(tag, { nil: '' }),
    digest: fc.option(digest, { nil: '' }),
  })
  .map(
    (p) =>
      `${p.leading}${p.scheme}${p.host === '' ? '' : `${p.host}/`}${p.path.join('/')}${p.tag}${p.digest}`,
  );

/** The policies of the e2e test, one per shape of glob the image test handles; the last is invalid. */
export const E2E_POLICIES: readonly { readonly name: string; readonly models: readonly string[] }[] = [
  { name: 'hub-library', models: ['docker.io/library/llama*'] },
  { name: 'hub-org', models: ['index.docker.io/acme/**'] },
  { name: 'wildcard-host', models: ['*.models.example/**'] },
  { name: 'port', models: ['localhost:5000/models/**'] },
  { name: 'exact', models: ['registry.example.com/team/model', 'registry.example.com/v?/**'] },
  // Passes the CRD, fails modelgate's validation (upper case after the host): an invalid policy still
  // governs what its valid globs cover.
  { name: 'invalid', models: ['ghcr.io/Evil/**', 'ghcr.io/evil/**'] },
];

/** Whether any of `globs` governs the normalised repository of `image`: the engine's isModelImage, for every namespace. */
export function modelImagePredicate(globs: readonly string[]): (image: string) => boolean {
  const matchers = globs.filter((g) => validateGlob(g) === undefined).map((g) => compileGlob(g));
  return (image) => {
    const parsed = parseReference(image);
    return parsed.ok && matchers.some((m) => m(repositoryOf(parsed.ref)));
  };
}

/** The extractor's reading: whether modelgate would take any reference from the object (or refuse it as too large). */
export function namesModel(
  kind: GroupVersionKind,
  object: unknown,
  isModelImage: (image: string) => boolean,
): boolean {
  const templates = podTemplatesOf(kind, object);
  if (!templates.ok) return true;
  return templates.templates.some((t) => {
    const found = extractModelReferences(t, isModelImage);
    return found.truncated || found.references.length > 0;
  });
}

type Json = Record<string, unknown>;
const OCI = /oci:\/\//i;

function record(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The CEL expression of src/kube/match-conditions.ts, read in JavaScript: whether the API server calls modelgate. */
export function conditionSends(test: ImageTest, kind: GroupVersionKind, object: unknown): boolean {
  const obj = record(object);
  if (obj === undefined) return true;
  if (!HANDLED_KINDS.includes(`${kind.group}/${kind.kind}`)) return true;
  const spec = record(obj['spec']);
  const jobSpec = record(record(spec?.['jobTemplate'])?.['spec']);
  const templates = [obj, record(spec?.['template']), record(jobSpec?.['template'])].filter(
    (t): t is Json => t !== undefined,
  );
  return templates.some((t) => {
    const annotations = record(record(t['metadata'])?.['annotations']);
    if (annotations !== undefined && Object.hasOwn(annotations, MODELS_ANNOTATION)) return true;
    const podSpec = record(t['spec']);
    if (podSpec === undefined) return false;
    if (list(podSpec['volumes']).some((v) => record(v)?.['image'] !== undefined)) return true;
    const containers = ['initContainers', 'containers', 'ephemeralContainers'].flatMap((k) =>
      list(podSpec[k]),
    );
    return containers.some((c) => {
      const container = record(c) ?? {};
      const image = container['image'];
      if (typeof image === 'string' && imageTestSends(test, image)) return true;
      const strings = [...list(container['command']), ...list(container['args'])];
      if (strings.some((s) => typeof s === 'string' && OCI.test(s))) return true;
      return list(container['env']).some((e) => {
        const value = record(e)?.['value'];
        return typeof value === 'string' && OCI.test(value);
      });
    });
  });
}

/** A pod-bearing kind as the webhook's rules register it, with its apiVersion and a stub for its spec. */
export interface WorkloadKind {
  readonly gvk: GroupVersionKind;
  readonly apiVersion: string;
  /** The object's `spec` around a pod template (the Pod's spec is the pod spec itself). */
  wrap(template: Json, labels: Record<string, string>): Json;
}

const withSelector = (template: Json, labels: Record<string, string>): Json => ({
  selector: { matchLabels: labels },
  template,
});

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  { gvk: { group: '', version: 'v1', kind: 'Pod' }, apiVersion: 'v1', wrap: (t) => t },
  {
    gvk: { group: '', version: 'v1', kind: 'ReplicationController' },
    apiVersion: 'v1',
    wrap: (t, labels) => ({ selector: labels, template: t }),
  },
  { gvk: { group: 'apps', version: 'v1', kind: 'Deployment' }, apiVersion: 'apps/v1', wrap: withSelector },
  { gvk: { group: 'apps', version: 'v1', kind: 'ReplicaSet' }, apiVersion: 'apps/v1', wrap: withSelector },
  { gvk: { group: 'apps', version: 'v1', kind: 'StatefulSet' }, apiVersion: 'apps/v1', wrap: withSelector },
  { gvk: { group: 'apps', version: 'v1', kind: 'DaemonSet' }, apiVersion: 'apps/v1', wrap: withSelector },
  {
    gvk: { group: 'batch', version: 'v1', kind: 'Job' },
    apiVersion: 'batch/v1',
    wrap: (t) => ({ template: t }),
  },
  {
    gvk: { group: 'batch', version: 'v1', kind: 'CronJob' },
    apiVersion: 'batch/v1',
    wrap: (t) => ({ schedule: '0 * * * *', jobTemplate: { spec: { template: t } } }),
  },
];

/** A string for `command`, `args` or an env value: plain, or with an `oci://` token somewhere. */
const commandString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 24,
    arbitrary: fc.constantFrom('serve', '--port=8080', 'sh', '-c', 'echo ok', 'python', 'main.py'),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('', '--model=', 'pull ', 'x '), recase('oci://'), rawImage)
      .map(([before, scheme, image]) => `${before}${scheme}${image.replace(/^\uFEFF/, '')}`),
  },
  { weight: 2, arbitrary: fc.constantFrom('ocii://x', 'oci:/x', 'oci:', 'https://example.com/m') },
);

interface ContainerShape {
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

const containerShape: fc.Arbitrary<ContainerShape> = fc.record(
  {
    image: fc.oneof(
      { weight: 4, arbitrary: rawImage },
      { weight: 1, arbitrary: fc.constantFrom('busybox', 'nginx:1.27', 'registry.example.com/app/server:1') },
    ),
    command: fc.array(commandString, { maxLength: 2 }),
    args: fc.array(commandString, { maxLength: 2 }),
    env: fc
      .array(
        fc.oneof(
          commandString.map((value) => ({ value })),
          fc.constant({}),
        ),
        { maxLength: 2 },
      )
      .map((vars) => vars.map((v, i) => ({ name: `VAR_${i}`, ...v }))),
  },
  { requiredKeys: ['image'] },
);

/** Present now and then: a field that always sends the object would hide what the others do. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
}

/** Where an annotation goes: the pod (template), the workload's own metadata (not read by the extractor), nowhere. */
const annotationShape = fc.record({
  models: sometimes(
    fc.oneof(
      rawImage.map((i) => i.replace(/^\uFEFF/, '')),
      fc.constant(''),
    ),
  ),
  onWorkload: fc.boolean(),
  other: fc.boolean(),
});

export interface GeneratedObject {
  readonly kind: WorkloadKind;
  readonly object: Json;
}

/**
 * A pod-bearing object of any handled kind, valid for the API server, named `name` in `namespace`:
 * 1-3 containers, maybe init containers, maybe an image volume, maybe the models annotation.
 */
export function workloadObject(namespace: string, name: fc.Arbitrary<string>): fc.Arbitrary<GeneratedObject> {
  return fc
    .record({
      kind: fc.constantFrom(...WORKLOAD_KINDS),
      name,
      containers: fc.array(containerShape, { minLength: 1, maxLength: 2 }),
      init: fc.array(containerShape, { maxLength: 1 }),
      volume: sometimes(rawImage.map((i) => i.replace(/^\uFEFF/, ''))),
      annotation: annotationShape,
    })
    .map((g) => {
      const labels = { app: g.name };
      const annotations: Record<string, string> = {};
      if (g.annotation.other) annotations['example.com/note'] = 'oci://not-a-model-field';
      const modelsOnPod = g.annotation.models !== undefined && !g.annotation.onWorkload;
      if (modelsOnPod) annotations[MODELS_ANNOTATION] = g.annotation.models!;
      const toContainer = (prefix: string) => (c: ContainerShape, i: number) => ({
        name: `${prefix}${i}`,
        ...c,
        ...(g.volume !== undefined && prefix === 'c' && i === 0
          ? { volumeMounts: [{ name: 'model', mountPath: '/model' }] }
          : {}),
      });
      const isPod = g.kind.gvk.kind === 'Pod';
      const restart = ['Job', 'CronJob'].includes(g.kind.gvk.kind) ? { restartPolicy: 'Never' } : {};
      const podSpec: Json = {
        ...restart,
        containers: g.containers.map(toContainer('c')),
        ...(g.init.length > 0 ? { initContainers: g.init.map(toContainer('i')) } : {}),
        ...(g.volume !== undefined ? { volumes: [{ name: 'model', image: { reference: g.volume } }] } : {}),
      };
      const templateMetadata: Json = {
        labels,
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      };
      const workloadAnnotations =
        g.annotation.models !== undefined && g.annotation.onWorkload
          ? { annotations: { [MODELS_ANNOTATION]: g.annotation.models } }
          : {};
      const object: Json = isPod
        ? {
            apiVersion: g.kind.apiVersion,
            kind: 'Pod',
            metadata: { name: g.name, namespace, ...templateMetadata, ...workloadAnnotations },
            spec: podSpec,
          }
        : {
            apiVersion: g.kind.apiVersion,
            kind: g.kind.gvk.kind,
            metadata: { name: g.name, namespace, ...workloadAnnotations },
            spec: g.kind.wrap({ metadata: templateMetadata, spec: podSpec }, labels),
          };
      return { kind: g.kind, object };
    });
}
