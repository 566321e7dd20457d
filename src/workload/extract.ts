/**
 * Finds the model references a pod template names, each with the field path it
 * came from. Pure: reads the untrusted spec defensively and never throws on an
 * odd shape; a field of the wrong type is skipped (the API server's own
 * validation refuses it).
 */

import { isRecord } from './json.ts';
import type { PodTemplate } from './podspecs.ts';

export type ReferenceSource =
  | 'annotation'
  | 'imageVolume'
  | 'containerImage'
  | 'argument'
  | 'command'
  | 'env';

export interface ExtractedReference {
  /** The reference exactly as the pod author wrote it, minus surrounding whitespace (an `oci://` prefix is kept). */
  readonly raw: string;
  /** e.g. `spec.template.metadata.annotations['modelgate.dev/models']`, `spec.containers[0].env[3].value`. */
  readonly fieldPath: string;
  readonly source: ReferenceSource;
}

/** Pod (template) annotation listing model references, separated by commas or whitespace. */
export const MODELS_ANNOTATION = 'modelgate.dev/models';

/** Most references extracted from one pod template; every supported kind carries one template. */
export const MAX_REFERENCES = 1000;

/**
 * Longest `modelgate.dev/models` value read, in UTF-16 code units: Kubernetes' own bound on all of an
 * object's annotations together (256 KiB), so that any annotation the API server stores is read whole.
 */
export const MAX_ANNOTATION_LENGTH = 256 * 1024;

/** Which bound stopped an extraction short. */
export type ExtractionLimit = 'references' | 'annotationLength';

/**
 * The references of one pod template. When `truncated` is true a bound was hit and
 * `references` is incomplete: the caller must refuse the object (with `message`),
 * since an unchecked reference may hide behind the bound.
 */
export type Extraction =
  | { readonly truncated: false; readonly references: readonly ExtractedReference[] }
  | {
      readonly truncated: true;
      readonly references: readonly ExtractedReference[];
      readonly limit: ExtractionLimit;
      /** Where the bound was hit. */
      readonly fieldPath: string;
      /** For a person: what was too large and the bound. */
      readonly message: string;
      /** What the pod author changes so that it fits. */
      readonly fix: string;
    };

/** Containers in start order; each may name model references. */
export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/**
 * An `oci://` token inside a longer string (`--model=oci://reg/m@sha256:...`, a
 * shell line): it runs to the next whitespace, quote, comma or semicolon. The
 * scheme is matched case-insensitively so that `OCI://` cannot slip past.
 */
const OCI_TOKEN = /oci:\/\/[^\s'"`,;]+/gi;
// matchAll clones its RegExp per call: a test first keeps pods with thousands of plain env values cheap.
const OCI_SCHEME = /oci:\/\//i;

const ANNOTATION_SEPARATORS = /[\s,]+/;

/**
 * Extracts the model references of a pod template:
 * - the `modelgate.dev/models` annotation;
 * - `volumes[i].image.reference` (image volumes);
 * - for init, regular and ephemeral containers: `image` when `isModelImage(image)`,
 *   and every `oci://` token in `command[j]`, `args[j]` and `env[k].value`.
 * The same reference at two paths is returned twice; the same (raw, fieldPath) once.
 */
export function extractModelReferences(
  template: PodTemplate,
  isModelImage: (image: string) => boolean,
): Extraction {
  const collector = new Collector();
  extractAnnotation(template, collector);
  const spec = template.spec;
  if (isRecord(spec)) {
    extractImageVolumes(spec, template.specPath, collector);
    for (const list of CONTAINER_LISTS) {
      extractContainers(spec[list], `${template.specPath}.${list}`, isModelImage, collector);
    }
  }
  return collector.result();
}

class Collector {
  readonly #references: ExtractedReference[] = [];
  readonly #seen = new Set<string>();
  #full = false;
  /** The first bound hit; later ones change nothing the caller must do. */
  #truncation: { limit: ExtractionLimit; fieldPath: string; message: string; fix: string } | undefined;

  /** True once the reference bound is hit: stop looking. */
  get full(): boolean {
    return this.#full;
  }

  add(raw: string, fieldPath: string, source: ReferenceSource): void {
    if (this.#full) return;
    const key = `${fieldPath}\u0000${raw}`;
    if (this.#seen.has(key)) return;
    if (this.#references.length >= MAX_REFERENCES) {
      this.#full = true;
      this.truncate(
        'references',
        fieldPath,
        `the pod template names more than ${MAX_REFERENCES} model references; modelgate checks at most ${MAX_REFERENCES}`,
        `name at most ${MAX_REFERENCES} model references in one pod template (the ${MODELS_ANNOTATION} annotation, image volumes, oci:// arguments and env values together), or split the models over several workloads`,
      );
      return;
    }
    this.#seen.add(key);
    this.#references.push({ raw, fieldPath, source });
  }

  truncate(limit: ExtractionLimit, fieldPath: string, message: string, fix: string): void {
    this.#truncation ??= { limit, fieldPath, message, fix };
  }

  result(): Extraction {
    const references = this.#references;
    return this.#truncation === undefined
      ? { truncated: false, references }
      : { truncated: true, references, ...this.#truncation };
  }
}

function extractAnnotation(template: PodTemplate, collector: Collector): void {
  const annotations = template.annotations;
  if (!isRecord(annotations) || !Object.hasOwn(annotations, MODELS_ANNOTATION)) return;
  const value: unknown = annotations[MODELS_ANNOTATION];
  if (typeof value !== 'string') return;
  const metadataPath = template.path === '' ? 'metadata' : `${template.path}.metadata`;
  const fieldPath = `${metadataPath}.annotations[${quoteKey(MODELS_ANNOTATION)}]`;
  if (value.length > MAX_ANNOTATION_LENGTH) {
    // A partial read could split a reference; read none and let the caller refuse.
    collector.truncate(
      'annotationLength',
      fieldPath,
      `the ${MODELS_ANNOTATION} annotation is ${value.length} characters long; modelgate reads at most ${MAX_ANNOTATION_LENGTH}`,
      `shorten the ${MODELS_ANNOTATION} annotation to at most ${MAX_ANNOTATION_LENGTH} characters (Kubernetes allows 256 KiB for all annotations together), or split the models over several workloads`,
    );
    return;
  }
  for (const entry of value.split(ANNOTATION_SEPARATORS)) {
    if (collector.full) return;
    if (entry !== '') collector.add(entry, fieldPath, 'annotation');
  }
}

function extractImageVolumes(spec: Record<string, unknown>, specPath: string, collector: Collector): void {
  const volumes = spec['volumes'];
  if (!Array.isArray(volumes)) return;
  for (const [i, volume] of volumes.entries()) {
    if (collector.full) return;
    if (!isRecord(volume)) continue;
    const image = volume['image'];
    if (!isRecord(image)) continue;
    const reference = trimmedString(image['reference']);
    if (reference !== undefined) {
      collector.add(reference, `${specPath}.volumes[${i}].image.reference`, 'imageVolume');
    }
  }
}

function extractContainers(
  containers: unknown,
  listPath: string,
  isModelImage: (image: string) => boolean,
  collector: Collector,
): void {
  if (!Array.isArray(containers)) return;
  for (const [i, container] of containers.entries()) {
    if (collector.full) return;
    if (!isRecord(container)) continue;
    const path = `${listPath}[${i}]`;
    const image = trimmedString(container['image']);
    if (image !== undefined && isModelImage(image)) collector.add(image, `${path}.image`, 'containerImage');
    extractTokensFromList(container['command'], `${path}.command`, 'command', collector);
    extractTokensFromList(container['args'], `${path}.args`, 'argument', collector);
    const env = container['env'];
    if (!Array.isArray(env)) continue;
    for (const [k, variable] of env.entries()) {
      if (collector.full) return;
      if (isRecord(variable)) extractTokens(variable['value'], `${path}.env[${k}].value`, 'env', collector);
    }
  }
}

function extractTokensFromList(
  list: unknown,
  listPath: string,
  source: ReferenceSource,
  collector: Collector,
): void {
  if (!Array.isArray(list)) return;
  for (const [j, value] of list.entries()) {
    if (collector.full) return;
    extractTokens(value, `${listPath}[${j}]`, source, collector);
  }
}

/** Whether a string holds an `oci://` token (anything else in `command`, `args` and `env` names no model). */
export function hasOciToken(value: unknown): value is string {
  return typeof value === 'string' && OCI_SCHEME.test(value);
}

function extractTokens(
  value: unknown,
  fieldPath: string,
  source: ReferenceSource,
  collector: Collector,
): void {
  if (!hasOciToken(value)) return;
  for (const match of value.matchAll(OCI_TOKEN)) {
    if (collector.full) return;
    collector.add(match[0], fieldPath, source);
  }
}

function trimmedString(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** `'key'` for a bracketed field path segment. */
function quoteKey(key: string): string {
  return `'${key.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
