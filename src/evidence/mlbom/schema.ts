// Offline validation against the CycloneDX 1.6 JSON schema shipped by @cyclonedx/cyclonedx-library.
// The validator is ajv standalone code generated at build time (scripts/gen-cyclonedx-validator.ts,
// with the library's own ajv set-up): compiling the schema at run time cost ~1 s of blocked event loop
// and ~37 MiB RSS, and it happened inside the first admission that met an ML-BOM.
import { validateCycloneDx16 } from './cyclonedx-validator.generated.ts';

export interface SchemaError {
  /** JSONPath-like location, e.g. `$.components[0].hashes[0].content`. */
  readonly path: string;
  readonly message: string;
}

type Validate = ((data: unknown) => boolean) & {
  errors?:
    | { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[]
    | null;
};

const compiled = validateCycloneDx16 as Validate;

// A BOM that reaches the validator's larger branches (metadata, a model component with its model card and
// hashes, a dataset, external references, dependencies), for warming up.
const REPRESENTATIVE_BOM = {
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
  version: 1,
  metadata: { timestamp: '2026-01-01T00:00:00Z', authors: [{ name: 'a', email: 'a@example.com' }] },
  components: [
    {
      type: 'machine-learning-model',
      'bom-ref': 'model',
      name: 'm',
      hashes: [{ alg: 'SHA-256', content: '0'.repeat(64) }],
      externalReferences: [{ type: 'distribution', url: 'oci://example.com/m' }],
      modelCard: {
        modelParameters: {
          task: 'text-generation',
          datasets: [{ ref: 'data' }],
          inputs: [{ format: 'text' }],
          outputs: [{ format: 'text' }],
        },
        quantitativeAnalysis: { performanceMetrics: [{ type: 'accuracy', value: '0.9' }] },
        considerations: { useCases: ['x'] },
      },
      licenses: [{ license: { id: 'Apache-2.0' } }],
    },
    { type: 'data', 'bom-ref': 'data', name: 'd', data: [{ type: 'dataset', name: 'd' }] },
  ],
  dependencies: [{ ref: 'model', dependsOn: ['data'] }],
};

/**
 * Runs the validator once so that V8 compiles its code now: its first call otherwise took ~130 ms of
 * event loop inside the first admission that met an ML-BOM. The server calls it before it is ready.
 */
export function warmUpCycloneDxValidator(): void {
  compiled(REPRESENTATIVE_BOM);
  compiled({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'nope' }], extra: 1 });
}

/** Validates a parsed document against CycloneDX 1.6; returns up to `max` errors (empty when valid). */
export function validateCycloneDx(doc: unknown, max = 5): SchemaError[] {
  let valid: boolean;
  try {
    valid = compiled(doc);
  } catch (err) {
    // ajv's uniqueItems check compares with fast-deep-equal, which calls an object's own `valueOf`: a
    // document with `"valueOf": ""` makes it throw. Such a document is refused, never a crash.
    return [{ path: '$', message: `cannot be validated: ${(err as Error).message}` }];
  }
  if (valid) return [];
  const out: SchemaError[] = [];
  const seen = new Set<string>();
  for (const e of compiled.errors ?? []) {
    const path = toJsonPath(e.instancePath);
    const detail =
      e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string'
        ? `has unknown property ${JSON.stringify(e.params.additionalProperty)}`
        : e.keyword === 'enum' && Array.isArray(e.params.allowedValues)
          ? `must be one of ${e.params.allowedValues
              .slice(0, 8)
              .map((v) => JSON.stringify(v))
              .join(', ')}`
          : (e.message ?? e.keyword);
    const key = `${path} ${detail}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message: detail });
    if (out.length >= max) break;
  }
  return out;
}

function toJsonPath(pointer: string): string {
  if (pointer === '') return '$';
  let out = '$';
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg)
      ? `[${seg}]`
      : /^[A-Za-z_$][\w$-]*$/.test(seg)
        ? `.${seg}`
        : `[${JSON.stringify(seg)}]`;
  }
  return out;
}
