// Offline validation against the CycloneDX 1.6 JSON schema shipped by @cyclonedx/cyclonedx-library,
// with the same ajv set-up as the library's own JSON validator (remote schemas disabled). The
// validator is compiled once, on first use, and reused.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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

let compiled: Validate | undefined;

function compile(): Validate {
  // The ajv packages are CommonJS; require() gives their callable exports without interop guesswork.
  const require = createRequire(import.meta.url);
  const { Ajv } = require('ajv') as typeof import('ajv');
  const addFormats = require('ajv-formats') as (ajv: unknown) => void;
  const addDraft2019Formats = require('ajv-formats-draft2019') as (ajv: unknown, opts: unknown) => void;
  const dir = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const load = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    useDefaults: false,
    addUsedSchema: false,
    loadSchema: (uri: string) => {
      throw new Error(`remote schemas are disabled: ${uri}`);
    },
    schemas: {
      'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json': load('spdx.SNAPSHOT.schema.json'),
      'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json': load('jsf-0.82.SNAPSHOT.schema.json'),
    },
  });
  addFormats(ajv);
  addDraft2019Formats(ajv, { formats: ['idn-email'] });
  ajv.addFormat('iri-reference', true);
  return ajv.compile(load('bom-1.6.SNAPSHOT.schema.json')) as Validate;
}

/** Compiles the validator now (e.g. at start-up) rather than on the first ML-BOM. */
export function warmUpCycloneDxValidator(): void {
  compiled ??= compile();
}

/** Validates a parsed document against CycloneDX 1.6; returns up to `max` errors (empty when valid). */
export function validateCycloneDx(doc: unknown, max = 5): SchemaError[] {
  compiled ??= compile();
  if (compiled(doc)) return [];
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
