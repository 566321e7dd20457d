/**
 * Reduces an admitted object to what modelgate reads of it, so that a large object parsed off the event
 * loop (src/admission/decode.ts) crosses back to it small: the pod template's annotations, image volume
 * references, container images, the `command`, `args` and `env` strings that hold an `oci://` token,
 * and the pull context (image pull secrets, service account). Array lengths are kept, so every field
 * path a reference is reported at is the same as in the whole object.
 *
 * The contract, checked by a property test against the extractor: for every object, kind and
 * subresource, `podTemplatesOf` and `extractModelReferences` (with any image predicate) and
 * `podPullContexts` give the same answers on the pruned object as on the whole one. Pure.
 */

import { CONTAINER_LISTS, hasOciToken } from './extract.ts';
import { isRecord } from './json.ts';
import { type GroupVersionKind, templatePathOf } from './podspecs.ts';

/** The pruned form of `object`, as admitted as `kind` (and `subResource`). */
export function pruneAdmittedObject(kind: GroupVersionKind, object: unknown, subResource?: string): unknown {
  const path = templatePathOf(kind, subResource);
  // Kinds without a pod template, and objects that are not objects, are read for nothing else.
  if (path === undefined || !isRecord(object)) return isRecord(object) ? head(object) : object;
  const out = head(object);
  let from: Record<string, unknown> = object;
  let to = out;
  for (const key of path) {
    const next = from[key];
    if (!isRecord(next)) {
      // Not a template: podTemplatesOf finds none here, and finds none in the placeholder either.
      to[key] = null;
      return out;
    }
    const copy: Record<string, unknown> = {};
    to[key] = copy;
    from = next;
    to = copy;
  }
  // `from` is the pod (template): its metadata and spec.
  const metadata = from['metadata'];
  if (isRecord(metadata) && isRecord(metadata['annotations'])) {
    // For a Pod the template is the object: its metadata keeps the name too.
    to['metadata'] = {
      ...(isRecord(to['metadata']) ? to['metadata'] : {}),
      annotations: stringsOnly(metadata['annotations']),
    };
  }
  const spec = from['spec'];
  to['spec'] = isRecord(spec) ? pruneSpec(spec) : spec === undefined ? undefined : null;
  return out;
}

/** The object's type and its own metadata, as logs and Events name it. */
function head(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['apiVersion', 'kind']) if (typeof object[k] === 'string') out[k] = object[k];
  const m = object['metadata'];
  const metadata: Record<string, unknown> = {};
  if (isRecord(m))
    for (const k of ['name', 'generateName', 'namespace', 'uid'])
      if (typeof m[k] === 'string') metadata[k] = m[k];
  out['metadata'] = metadata;
  return out;
}

/** String annotations only (podTemplatesOf drops the others), as own properties. */
function stringsOnly(annotations: Record<string, unknown>): Record<string, string> {
  const entries = Object.entries(annotations).filter((e): e is [string, string] => typeof e[1] === 'string');
  return Object.fromEntries(entries);
}

function pruneSpec(spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const volumes = spec['volumes'];
  if (Array.isArray(volumes)) {
    out['volumes'] = volumes.map((v) =>
      isRecord(v) && isRecord(v['image']) ? { image: { reference: v['image']['reference'] } } : null,
    );
  }
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (Array.isArray(containers)) out[list] = containers.map(pruneContainer);
  }
  const secrets = spec['imagePullSecrets'];
  if (Array.isArray(secrets)) {
    out['imagePullSecrets'] = secrets.map((s) => (isRecord(s) ? { name: s['name'] } : null));
  }
  for (const k of ['serviceAccountName', 'serviceAccount']) if (k in spec) out[k] = spec[k];
  return out;
}

function pruneContainer(c: unknown): unknown {
  if (!isRecord(c)) return null;
  const out: Record<string, unknown> = { image: c['image'] };
  for (const k of ['command', 'args']) {
    const list = c[k];
    if (Array.isArray(list)) out[k] = list.map((v) => (hasOciToken(v) ? v : null));
  }
  const env = c['env'];
  if (Array.isArray(env)) {
    out['env'] = env.map((v) => (isRecord(v) && hasOciToken(v['value']) ? { value: v['value'] } : null));
  }
  return out;
}
