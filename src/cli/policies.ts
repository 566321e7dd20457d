import { readFileSync } from 'node:fs';
import type { InvalidPolicy, PolicySnapshot } from '../engine/engine.ts';
import { type CompiledPolicy, compilePolicy } from '../policy/compile.ts';
import { type PolicyFileResult, parsePolicyYaml } from '../policy/load.ts';

export interface LoadedPolicies {
  readonly snapshot: PolicySnapshot;
  readonly errors: PolicyFileResult['errors'];
}

/** Reads ModelPolicy YAML files. Unreadable files are errors like invalid documents. */
export function loadPolicyFiles(files: readonly string[]): LoadedPolicies {
  const policies: CompiledPolicy[] = [];
  const errors: PolicyFileResult['errors'] = [];
  const invalid: InvalidPolicy[] = [];
  const names = new Set<string>();
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
      names.add(p.metadata.name);
      policies.push(compilePolicy(p));
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
