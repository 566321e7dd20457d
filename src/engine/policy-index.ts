import type { CompiledPolicy } from '../policy/compile.ts';
import type { InvalidPolicy, PolicySnapshot } from '../policy/snapshot.ts';
import { TtlLru } from './lru.ts';

/** The policies whose model globs cover one repository, in snapshot order. */
export interface Governing {
  readonly policies: readonly CompiledPolicy[];
  readonly invalid: readonly InvalidPolicy[];
}

/** Repositories remembered per snapshot; a pod author naming more only costs the unmemoized match. */
const MAX_REPOSITORIES = 4_096;
const NONE: Governing = Object.freeze({ policies: [], invalid: [] });

const indexes = new WeakMap<PolicySnapshot, PolicyIndex>();

/**
 * Which policies govern a repository, memoized per policy snapshot: with a thousand policies, matching
 * every reference against every model glob costs milliseconds, while admissions name the same few
 * repositories again and again. A snapshot is immutable (a reload makes a new one), so its answers never
 * go stale; the memo is bounded and goes with the snapshot.
 */
export class PolicyIndex {
  readonly #snapshot: PolicySnapshot;
  readonly #memo = new TtlLru<string, Governing>({
    maxEntries: MAX_REPOSITORIES,
    ttlMs: Number.POSITIVE_INFINITY,
  });

  private constructor(snapshot: PolicySnapshot) {
    this.#snapshot = snapshot;
  }

  /** The index of a snapshot, made on first use. */
  static of(snapshot: PolicySnapshot): PolicyIndex {
    let index = indexes.get(snapshot);
    if (index === undefined) {
      index = new PolicyIndex(snapshot);
      indexes.set(snapshot, index);
    }
    return index;
  }

  /** The valid and invalid policies whose globs cover `repository` (`host/path`), whatever their namespaces. */
  governing(repository: string): Governing {
    const hit = this.#memo.get(repository);
    if (hit !== undefined) return hit;
    const policies = this.#snapshot.policies.filter((p) => p.governs(repository));
    const invalid = this.#snapshot.invalid.filter((p) => p.governs?.(repository) ?? false);
    const found = policies.length === 0 && invalid.length === 0 ? NONE : { policies, invalid };
    this.#memo.set(repository, found);
    return found;
  }
}
