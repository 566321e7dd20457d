import type { AdmittedObject, ModelVerifier, UnmatchedAction } from '../../../src/engine/engine.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { offlineVerifier } from '../../../src/engine/pending.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import type { PolicySnapshot } from '../../../src/policy/snapshot.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';

export const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A compiled policy; one that does not say otherwise requires no signature (`signatures: {required: false}`). */
export function policy(name: string, spec: Record<string, unknown>) {
  const v = validateModelPolicy({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name },
    spec: { signatures: { required: false }, ...spec },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return compilePolicy(v.policy);
}

export function engine(
  snapshot: Partial<PolicySnapshot>,
  opts: {
    unmatched?: UnmatchedAction;
    verifier?: ModelVerifier;
    deadlineMs?: number;
    labels?: Record<string, Record<string, string>>;
  } = {},
) {
  const snap: PolicySnapshot = { policies: snapshot.policies ?? [], invalid: snapshot.invalid ?? [] };
  return new Engine({
    unmatched: opts.unmatched ?? 'deny',
    deadlineMs: opts.deadlineMs ?? 1_000,
    policies: () => snap,
    namespaceLabels: (ns) => opts.labels?.[ns],
    verifier: opts.verifier ?? offlineVerifier,
  });
}

/** A Pod admission naming models in its annotation, and optionally more pod spec. */
export function podReview(
  models: string[],
  spec: Record<string, unknown> = {},
  namespace = 'ml',
): AdmittedObject {
  return {
    uid: 'u-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    namespace,
    name: 'p',
    operation: 'CREATE',
    object: {
      metadata: { name: 'p', annotations: models.length ? { 'modelgate.dev/models': models.join(',') } : {} },
      spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
    },
  };
}

/** A verifier that passes everything: stands in for the registry-bound checks, tested on their own. */
export const passingVerifier: ModelVerifier = { verify: async () => ({ failures: [] }) };
