// The ML-BOM rules, on a parsed (and schema-valid) CycloneDX document. Pure: no I/O.

import { parseDigest } from '../../oci/digest.ts';
import type { CheckFailure } from '../../verdict/outcome.ts';
import { printable } from '../bytes.ts';
import { validateCycloneDx } from './schema.ts';

type Json = Record<string, unknown>;

export const ML_MODEL = 'machine-learning-model';
const MAX_COMPONENTS = 20_000;
const MAX_DEPTH = 32;

/** Hash algorithms accepted for dataset hashes (MD5 and SHA-1 are not). */
const STRONG_HASHES: ReadonlySet<string> = new Set([
  'SHA-256',
  'SHA-384',
  'SHA-512',
  'SHA3-256',
  'SHA3-384',
  'SHA3-512',
  'BLAKE2b-256',
  'BLAKE2b-384',
  'BLAKE2b-512',
  'BLAKE3',
]);
/** CycloneDX hash algorithm of each OCI digest algorithm. */
const DIGEST_ALG: Readonly<Record<string, string>> = { sha256: 'SHA-256', sha512: 'SHA-512' };

export interface LocatedComponent {
  readonly component: Json;
  /** e.g. `$.components[2].components[0]` */
  readonly path: string;
}

export interface BomRules {
  readonly manifestDigest: string;
  /** Digests of the artifact's weight files, each with its file name for messages. */
  readonly weightFiles: readonly { readonly file: string; readonly digest: string }[];
  readonly requireHashMatch: boolean;
  readonly requiredFields: readonly string[];
}

/** What one ML-BOM met, for the report. */
export interface BomEvaluation {
  readonly failures: readonly CheckFailure[];
  readonly schemaValid: boolean;
  readonly modelComponents: readonly string[];
  /** The model component that met every rule, and how its hashes matched. */
  readonly accepted?: { readonly component: string; readonly hashMatch?: 'manifest' | 'weight-files' };
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every component of the BOM (metadata.component and components, nested), with its path. */
export function allComponents(bom: unknown): LocatedComponent[] {
  const out: LocatedComponent[] = [];
  const walk = (c: unknown, path: string, depth: number) => {
    if (!isObject(c) || out.length >= MAX_COMPONENTS || depth > MAX_DEPTH) return;
    out.push({ component: c, path });
    const subs = c.components;
    if (Array.isArray(subs))
      for (const [i, s] of subs.entries()) walk(s, `${path}.components[${i}]`, depth + 1);
  };
  if (!isObject(bom)) return out;
  const meta = bom.metadata;
  if (isObject(meta)) walk(meta.component, '$.metadata.component', 0);
  if (Array.isArray(bom.components))
    for (const [i, c] of bom.components.entries()) walk(c, `$.components[${i}]`, 0);
  return out;
}

export function modelComponents(bom: unknown): LocatedComponent[] {
  return allComponents(bom).filter((c) => c.component.type === ML_MODEL);
}

function label(c: LocatedComponent): string {
  const name = typeof c.component.name === 'string' ? c.component.name : '(unnamed)';
  return `${printable(name, 80)} at ${c.path}`;
}

/** The hashes of a component and of its sub-components, as lower-case `ALG:hex` strings. */
export function componentHashes(c: Json, depth = 0): Set<string> {
  const out = new Set<string>();
  if (depth > MAX_DEPTH) return out;
  if (Array.isArray(c.hashes)) {
    for (const h of c.hashes) {
      if (isObject(h) && typeof h.alg === 'string' && typeof h.content === 'string') {
        out.add(`${h.alg}:${h.content.toLowerCase()}`);
      }
    }
  }
  if (Array.isArray(c.components)) {
    for (const s of c.components) if (isObject(s)) for (const h of componentHashes(s, depth + 1)) out.add(h);
  }
  return out;
}

function asHash(digest: string): string | undefined {
  const d = parseDigest(digest);
  return d === undefined ? undefined : `${DIGEST_ALG[d.algorithm]}:${d.hex}`;
}

/** How a model component's hashes bind it to the artifact, if they do. */
export function hashMatch(c: Json, rules: BomRules): 'manifest' | 'weight-files' | undefined {
  const hashes = componentHashes(c);
  const manifest = asHash(rules.manifestDigest);
  if (manifest !== undefined && hashes.has(manifest)) return 'manifest';
  if (rules.weightFiles.length === 0) return undefined;
  return rules.weightFiles.every((w) => {
    const h = asHash(w.digest);
    return h !== undefined && hashes.has(h);
  })
    ? 'weight-files'
    : undefined;
}

/**
 * The required fields a model component lacks. A dotted path is present when it leads to a value
 * that is not null, '' or an empty array/object; an array on the way is satisfied by any element.
 * A path ending in `datasets` further needs every dataset to be a reference (`ref`) to a component
 * of this BOM that carries a strong hash: inline dataset descriptions have no hash field in CycloneDX.
 */
export function missingFields(c: Json, paths: readonly string[], bom: unknown): string[] {
  const problems: string[] = [];
  let byRef: Map<string, Json> | undefined;
  for (const path of paths) {
    const segments = path.split('.').filter((s) => s !== '');
    const values = valuesAt(c, segments);
    const present = values.filter(isPresent);
    if (present.length === 0) {
      problems.push(`${path} is missing`);
      continue;
    }
    if (segments[segments.length - 1] !== 'datasets') continue;
    byRef ??= indexByRef(bom);
    const entries = present.flatMap((v) => (Array.isArray(v) ? v : [v]));
    for (const [i, d] of entries.entries()) {
      const issue = datasetIssue(d, byRef);
      if (issue !== undefined) problems.push(`${path}[${i}] ${issue}`);
    }
  }
  return problems;
}

function datasetIssue(d: unknown, byRef: Map<string, Json>): string | undefined {
  if (!isObject(d)) return 'is not an object';
  if (typeof d.ref !== 'string') {
    const name = typeof d.name === 'string' ? ` (${printable(d.name, 60)})` : '';
    return `is an inline dataset${name} without hashes; declare it as a data component with hashes and reference it by bom-ref`;
  }
  if (d.ref.startsWith('urn:cdx:'))
    return `refers to another BOM (${printable(d.ref, 80)}), which cannot be checked offline`;
  const target = byRef.get(d.ref);
  if (target === undefined)
    return `refers to ${printable(d.ref, 80)}, which no component of this BOM declares`;
  const strong = [...componentHashes(target)].some((h) => STRONG_HASHES.has(h.slice(0, h.indexOf(':'))));
  return strong
    ? undefined
    : `refers to ${printable(d.ref, 80)}, which carries no SHA-256 (or stronger) hash`;
}

function indexByRef(bom: unknown): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const { component } of allComponents(bom)) {
    const ref = component['bom-ref'];
    if (typeof ref === 'string' && !out.has(ref)) out.set(ref, component);
  }
  return out;
}

function valuesAt(v: unknown, segments: readonly string[], depth = 0): unknown[] {
  if (segments.length === 0) return [v];
  if (depth > MAX_DEPTH) return [];
  if (Array.isArray(v)) {
    const idx = /^\d+$/.test(segments[0]!) ? Number(segments[0]) : undefined;
    if (idx !== undefined) return valuesAt(v[idx], segments.slice(1), depth + 1);
    return v.flatMap((x) => valuesAt(x, segments, depth + 1));
  }
  if (!isObject(v) || !Object.hasOwn(v, segments[0]!)) return [];
  return valuesAt(v[segments[0]!], segments.slice(1), depth + 1);
}

function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true;
}

/**
 * Applies every rule to one parsed ML-BOM. MLBOM_INVALID: the document breaks a rule that holds for
 * any artifact (schema, no machine-learning-model component, required fields). MLBOM_MISMATCH: a
 * valid ML-BOM that describes other bytes than this artifact's.
 */
export function evaluateBom(document: unknown, rules: BomRules, source: string): BomEvaluation {
  // Plain JSON only (a statement's predicate may come from anywhere): what a JSON document can hold.
  let bom: unknown;
  try {
    bom = JSON.parse(JSON.stringify(document) ?? 'null');
  } catch {
    return {
      failures: [{ code: 'MLBOM_INVALID', message: `${source} is not a JSON document` }],
      schemaValid: false,
      modelComponents: [],
    };
  }
  const schemaErrors = validateCycloneDx(bom);
  if (schemaErrors.length > 0) {
    const list = schemaErrors.map((e) => `${e.path} ${e.message}`).join('; ');
    return {
      failures: [
        { code: 'MLBOM_INVALID', message: `${source} does not validate against CycloneDX 1.6: ${list}` },
      ],
      schemaValid: false,
      modelComponents: [],
    };
  }
  const models = modelComponents(bom);
  const names = models.map(label);
  if (models.length === 0) {
    return {
      failures: [
        {
          code: 'MLBOM_INVALID',
          message: `${source} has no component of type ${ML_MODEL} (in metadata.component or components)`,
        },
      ],
      schemaValid: true,
      modelComponents: names,
    };
  }
  let pool: { c: LocatedComponent; how?: 'manifest' | 'weight-files' }[] = models.map((c) => ({ c }));
  if (rules.requireHashMatch) {
    pool = models.flatMap((c) => {
      const how = hashMatch(c.component, rules);
      return how ? [{ c, how }] : [];
    });
    if (pool.length === 0) {
      return { failures: [mismatch(models, rules, source)], schemaValid: true, modelComponents: names };
    }
  }
  if (rules.requiredFields.length > 0) {
    const checked = pool.map((p) => ({
      ...p,
      missing: missingFields(p.c.component, rules.requiredFields, bom),
    }));
    const ok = checked.find((p) => p.missing.length === 0);
    if (ok === undefined) {
      const first = checked[0]!;
      const shown = first.missing.slice(0, 5).join('; ');
      const more = first.missing.length > 5 ? ` (and ${first.missing.length - 5} more)` : '';
      return {
        failures: [
          {
            code: 'MLBOM_INVALID',
            message: `${source}: model component ${label(first.c)} lacks required fields: ${shown}${more}`,
          },
        ],
        schemaValid: true,
        modelComponents: names,
      };
    }
    pool = [ok];
  }
  const winner = pool[0]!;
  return {
    failures: [],
    schemaValid: true,
    modelComponents: names,
    accepted: { component: label(winner.c), ...(winner.how ? { hashMatch: winner.how } : {}) },
  };
}

function mismatch(models: readonly LocatedComponent[], rules: BomRules, source: string): CheckFailure {
  const files = rules.weightFiles.map((w) => `${printable(w.file, 60)} ${w.digest}`);
  const expected =
    files.length > 0
      ? `the manifest digest ${rules.manifestDigest}, or every weight file's digest (${files.slice(0, 8).join(', ')}${files.length > 8 ? ', …' : ''})`
      : `the manifest digest ${rules.manifestDigest}`;
  const found = new Set<string>();
  for (const m of models) for (const h of componentHashes(m.component)) found.add(h);
  const foundText =
    found.size === 0
      ? 'its model components carry no hashes'
      : `its model components carry ${[...found]
          .slice(0, 4)
          .map((h) => {
            const i = h.indexOf(':');
            return `${h.slice(0, i)} ${h.slice(i + 1, i + 17)}…`;
          })
          .join(', ')}${found.size > 4 ? ', …' : ''}`;
  return {
    code: 'MLBOM_MISMATCH',
    message: `${source} does not describe this model: expected a ${ML_MODEL} component with ${expected}; ${foundText}`,
  };
}
