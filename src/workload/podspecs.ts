/**
 * Unwraps an admitted object to the pod template(s) it carries. Pure: reads the
 * untrusted object defensively and never throws on an odd shape.
 */

import { isRecord } from './json.ts';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface PodTemplate {
  /** Path of the pod template's object in the admitted object, '' for a Pod itself, 'spec.template' for a Deployment, 'spec.jobTemplate.spec.template' for a CronJob. */
  readonly path: string;
  /** metadata.annotations of the pod (template), strings only. */
  readonly annotations: Readonly<Record<string, string>>;
  /** The pod spec, as received (unknown shape: read defensively). */
  readonly spec: unknown;
  /** Field path prefix of the spec: 'spec', 'spec.template.spec', ... */
  readonly specPath: string;
}

export type PodTemplates = { ok: true; templates: PodTemplate[] } | { ok: false; error: string };

/** Subresource whose admitted object is the whole Pod and whose update can add containers. */
const EPHEMERAL_CONTAINERS = 'ephemeralcontainers';

/**
 * Where each pod-bearing kind keeps its pod template, keyed by `group/kind`.
 * The version is ignored: with matchPolicy Equivalent the API server may send
 * any served version, and every version keeps the template at the same place.
 */
const TEMPLATE_PATHS: ReadonlyMap<string, readonly string[]> = new Map([
  ['/Pod', []],
  ['/ReplicationController', ['spec', 'template']],
  ['apps/Deployment', ['spec', 'template']],
  ['apps/ReplicaSet', ['spec', 'template']],
  ['apps/StatefulSet', ['spec', 'template']],
  ['apps/DaemonSet', ['spec', 'template']],
  ['batch/Job', ['spec', 'template']],
  ['batch/CronJob', ['spec', 'jobTemplate', 'spec', 'template']],
]);

/** The keys leading to the pod template of `kind` (`[]` for a Pod), or undefined when it carries none. */
export function templatePathOf(kind: GroupVersionKind, subResource?: string): readonly string[] | undefined {
  const path = TEMPLATE_PATHS.get(`${kind.group}/${kind.kind}`);
  if (path === undefined) return undefined;
  // Other subresources (status, scale, binding, eviction, resize, exec...) either
  // carry another kind or cannot change what a pod runs; checking them would only
  // block the kubelet and controllers from updating status.
  if (subResource === undefined || subResource === '') return path;
  if (kind.group === '' && kind.kind === 'Pod' && subResource === EPHEMERAL_CONTAINERS) return path;
  return undefined;
}

/** True when objects of this kind (and subresource) carry a pod template that modelgate must check. */
export function isPodBearingKind(kind: GroupVersionKind, subResource?: string): boolean {
  return templatePathOf(kind, subResource) !== undefined;
}

/**
 * The pod templates of an admitted object. A kind that bears no pod gives no
 * template; so does a pod-bearing object without its template (the API server's
 * own validation refuses it). Only an object that is not a JSON object is an error.
 */
export function podTemplatesOf(kind: GroupVersionKind, object: unknown, subResource?: string): PodTemplates {
  const path = templatePathOf(kind, subResource);
  if (path === undefined) return { ok: true, templates: [] };
  if (!isRecord(object)) {
    return { ok: false, error: `the admitted ${kind.kind} is not a JSON object (got ${describe(object)})` };
  }
  let template: Record<string, unknown> = object;
  for (const key of path) {
    const next = template[key];
    if (!isRecord(next)) return { ok: true, templates: [] };
    template = next;
  }
  const templatePath = path.join('.');
  return {
    ok: true,
    templates: [
      {
        path: templatePath,
        annotations: stringAnnotations(template['metadata']),
        spec: template['spec'],
        specPath: templatePath === '' ? 'spec' : `${templatePath}.spec`,
      },
    ],
  };
}

function stringAnnotations(metadata: unknown): Readonly<Record<string, string>> {
  if (!isRecord(metadata)) return Object.freeze({});
  const annotations = metadata['annotations'];
  if (!isRecord(annotations)) return Object.freeze({});
  // fromEntries defines own properties, so a '__proto__' key stays a plain key.
  return Object.freeze(
    Object.fromEntries(Object.entries(annotations).filter((entry) => typeof entry[1] === 'string')),
  ) as Readonly<Record<string, string>>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
