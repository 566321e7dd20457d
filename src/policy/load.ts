import { parseAllDocuments } from 'yaml';
import type { ModelPolicy } from './schema.ts';
import { type PolicyError, validateModelPolicy } from './validate.ts';

export interface PolicyFileResult {
  readonly policies: ModelPolicy[];
  /** Errors per document: `source` names the file and the document's index. */
  readonly errors: {
    readonly source: string;
    readonly name?: string;
    readonly errors: readonly PolicyError[];
  }[];
}

const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Parses multi-document YAML (the same YAML users `kubectl apply`) into
 * validated ModelPolicies. Empty documents are skipped; a `List` is unwrapped.
 */
export function parsePolicyYaml(text: string, source: string): PolicyFileResult {
  const result: PolicyFileResult = { policies: [], errors: [] };
  if (text.length > MAX_POLICY_FILE_BYTES) {
    result.errors.push({ source, errors: [{ path: '', message: 'policy file larger than 4 MiB' }] });
    return result;
  }
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = `${source}#${i}`;
    if (doc.errors.length > 0) {
      result.errors.push({
        source: where,
        errors: doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
      });
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const items = isList(value) ? value.items : [value];
    items.forEach((item, j) => {
      const v = validateModelPolicy(item);
      const at = items.length > 1 || isList(value) ? `${where}.items[${j}]` : where;
      if (v.ok) result.policies.push(v.policy);
      else result.errors.push({ source: at, ...(v.name ? { name: v.name } : {}), errors: v.errors });
    });
  });
  return result;
}

function isList(v: unknown): v is { items: unknown[] } {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { kind?: unknown }).kind === 'List' &&
    Array.isArray((v as { items?: unknown }).items)
  );
}
