import { readFileSync } from 'node:fs';
import { type CompiledPolicy, compilePolicy } from '../policy/compile.ts';
import { type PolicyFileResult, parsePolicyYaml } from '../policy/load.ts';
import type { InvalidPolicy, PolicySnapshot } from '../policy/snapshot.ts';

export interface LoadedPolicies {
  readonly snapshot: PolicySnapshot;
  readonly errors: PolicyFileResult['errors'];
}

/**
 * Reads ModelPolicy YAML files. Unreadable files are errors like invalid documents, and so is a policy
 * whose name or uid another one already has (a uid is not what keys caches, but status and messages name
 * a policy by it, and a copied uid is a policy pretending to be another).
 */
export function loadPolicyFiles(files: readonly string[]): LoadedPolicies {
  const policies: CompiledPolicy[] = [];
  const errors: PolicyFileResult['errors'] = [];
  const invalid: InvalidPolicy[] = [];
  const names = new Set<string>();
  const uids = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      errors.push({
        source: file,
        errors: [{ path: '', message: `cannot read: ${(err as Error).message}` }],
      });
      continue;
    }
    const parsed = parsePolicyYaml(text, file);
    errors.push(...parsed.errors);
    for (const e of parsed.errors) if (e.name) invalid.push({ name: e.name, errors: e.errors });
    for (const p of parsed.policies) {
      if (names.has(p.metadata.name)) {
        errors.push({
          source: file,
          name: p.metadata.name,
          errors: [{ path: 'metadata.name', message: 'another policy has the same name' }],
        });
        continue;
      }
      const compiled = compilePolicy(p);
      const holder = uids.get(compiled.uid);
      if (holder !== undefined) {
        errors.push({
          source: file,
          name: p.metadata.name,
          errors: [{ path: 'metadata.uid', message: `policy ${holder} has the same uid ${compiled.uid}` }],
        });
        continue;
      }
      names.add(p.metadata.name);
      uids.set(compiled.uid, p.metadata.name);
      policies.push(compiled);
    }
  }
  return { snapshot: Object.freeze({ policies, invalid }), errors };
}

export function formatPolicyErrors(errors: LoadedPolicies['errors']): string {
  return errors
    .flatMap((e) =>
      e.errors.map(
        (x) => `${e.source}${e.name ? ` (${e.name})` : ''}: ${x.path ? `${x.path}: ` : ''}${x.message}`,
      ),
    )
    .join('\n');
}
