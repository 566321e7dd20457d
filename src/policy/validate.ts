import type { TSchema } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import {
  FILE_GLOB_PATTERN,
  MODEL_GLOB_PATTERN,
  NAMESPACE_GLOB_PATTERN,
  validateFileGlob,
  validateGlob,
  validateNamespaceGlob,
} from '../reference/glob.ts';
import { crossFieldErrors, type PolicyError } from './rules.ts';
import { API_GROUP, API_VERSION, KIND, type ModelPolicy, ModelPolicySpecSchema } from './schema.ts';

export type { PolicyError } from './rules.ts';

export type PolicyValidation =
  | { readonly ok: true; readonly policy: ModelPolicy }
  | { readonly ok: false; readonly name?: string; readonly errors: readonly PolicyError[] };

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Validates one ModelPolicy document and returns it with defaults applied.
 * Every invalid field is reported, each with its path; a policy with any
 * error is never returned (and so never half-applied).
 */
export function validateModelPolicy(doc: unknown): PolicyValidation {
  const errors: PolicyError[] = [];
  if (!isObject(doc))
    return { ok: false, errors: [{ path: '', message: 'a ModelPolicy must be an object' }] };

  const apiVersion = `${API_GROUP}/${API_VERSION}`;
  if (doc.apiVersion !== apiVersion) {
    errors.push({ path: 'apiVersion', message: `must be ${apiVersion}` });
  }
  if (doc.kind !== KIND) errors.push({ path: 'kind', message: `must be ${KIND}` });

  const metadata = doc.metadata;
  let name: string | undefined;
  if (!isObject(metadata)) {
    errors.push({ path: 'metadata', message: 'required' });
  } else if (typeof metadata.name !== 'string' || metadata.name.length > 253 || !NAME.test(metadata.name)) {
    errors.push({ path: 'metadata.name', message: 'must be a lower-case DNS subdomain name' });
  } else {
    name = metadata.name;
  }

  let spec: unknown;
  if (!isObject(doc.spec)) {
    errors.push({ path: 'spec', message: 'required: an object' });
  } else {
    spec = Value.Default(ModelPolicySpecSchema, structuredClone(doc.spec));
    const schemaErrors = [...Value.Errors(ModelPolicySpecSchema, spec)].map(describe);
    errors.push(...dedupe(schemaErrors));
    errors.push(...crossFieldErrorsBeside(spec as ModelPolicy['spec'], schemaErrors));
  }

  if (errors.length > 0) return name === undefined ? { ok: false, errors } : { ok: false, name, errors };
  return {
    ok: true,
    policy: {
      apiVersion,
      kind: KIND,
      metadata: structuredClone(metadata as ModelPolicy['metadata']),
      spec: spec as ModelPolicy['spec'],
    },
  };
}

/**
 * The cross-field rules, reported together with the schema's errors so that one lint shows every
 * problem: an invalid `mode` must not hide a bad threshold. The rules assume the shapes are right, so
 * a rule's finding in a section (`spec.signatures`, `spec.formats`, ...) that already has a schema
 * error is left out (it could be a consequence of it), and a rule that cannot run on a wrong shape
 * reports nothing.
 */
function crossFieldErrorsBeside(
  spec: ModelPolicy['spec'],
  schemaErrors: readonly PolicyError[],
): PolicyError[] {
  const section = (path: string) => path.split(/[.[]/).slice(0, 2).join('.');
  const broken = new Set(schemaErrors.map((e) => section(e.path)));
  let found: PolicyError[];
  try {
    found = crossFieldErrors(spec);
  } catch {
    return [];
  }
  return schemaErrors.length === 0 ? found : found.filter((e) => !broken.has(section(e.path)));
}

function describe(e: ValueError): PolicyError {
  return { path: `spec${pointerToPath(e.path)}`, message: messageFor(e) };
}

// The CRD's patterns on globs say in one regexp what these say in words: lint reports the words.
const GLOB_EXPLAINERS: ReadonlyMap<string, (pattern: string) => string | undefined> = new Map([
  [MODEL_GLOB_PATTERN, validateGlob],
  [NAMESPACE_GLOB_PATTERN, validateNamespaceGlob],
  [FILE_GLOB_PATTERN, validateFileGlob],
]);

function messageFor(e: ValueError): string {
  const values = enumValues(e.schema);
  if (values) return `must be one of: ${values.join(', ')}`;
  const pattern = (e.schema as { pattern?: unknown }).pattern;
  const explain = typeof pattern === 'string' ? GLOB_EXPLAINERS.get(pattern) : undefined;
  if (explain !== undefined && typeof e.value === 'string') {
    const why = explain(e.value);
    if (why !== undefined) return why;
  }
  if (e.message === 'Unexpected property') return 'unknown field';
  return e.message.replace(/^Expected /, 'expected ');
}

function enumValues(schema: TSchema): string[] | undefined {
  const anyOf = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!Array.isArray(anyOf) || anyOf.some((s) => typeof s.const !== 'string')) return undefined;
  return anyOf.map((s) => s.const as string);
}

/** `/signatures/authorities/0/name` -> `.signatures.authorities[0].name` */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_][\w-]*$/.test(seg) ? `.${seg}` : `['${seg}']`))
    .join('');
}

function dedupe(errors: PolicyError[]): PolicyError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.path}\0${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
