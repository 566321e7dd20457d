import { createHash } from 'node:crypto';
import { compileGlob, compileNamespaceGlob } from '../reference/glob.ts';
import { compileFormatRules, type FormatRules, rulesAdmitEverything } from './formats.ts';
import type { AuthoritySpec, ModelFormat, ModelPolicy, ModelPolicySpec, PolicyMode } from './schema.ts';
import { selectorMatches } from './selector.ts';

/** The `signatures` section of a policy that requires signatures (validation saw to its authorities). */
export type RequiredSignatures = Omit<
  NonNullable<ModelPolicySpec['signatures']>,
  'authorities' | 'required' | 'threshold'
> & {
  readonly required: true;
  readonly threshold: number;
  readonly authorities: AuthoritySpec[];
};

/**
 * A spec as the checks read it: `signatures` is there only when the policy requires signatures, so that
 * `signatures: {required: false}` is, everywhere downstream, what an absent section was.
 */
export type EnforcedSpec = Omit<ModelPolicySpec, 'signatures'> & { readonly signatures?: RequiredSignatures };

/**
 * The form of a ModelPolicy the webhook uses: matchers compiled once per
 * policy generation. `contentKey` (a digest of the spec) keys every cache entry made under it, with the
 * trust material the spec names (see verify/trust.ts); uid and generation are for status and messages
 * only: an author writes them, so they can stay the same across edits or be copied from another policy.
 */
export interface CompiledPolicy {
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  /** `sha256:<hex>` of the spec as canonical JSON: what a verdict under this policy depends on in it. */
  readonly contentKey: string;
  readonly mode: PolicyMode;
  readonly spec: Readonly<EnforcedSpec>;
  readonly requireDigest: boolean;
  /** Formats refused; `allowedFormats` when set is the only formats admitted. */
  readonly deniedFormats: ReadonlySet<ModelFormat>;
  readonly allowedFormats?: ReadonlySet<ModelFormat>;
  /** Where the formats rule came from: the fail-closed default, an allow list, or a deny-only list. */
  readonly formatRuleSource?: FormatRules['source'];
  /** Whether the policy covers a namespace. Labels unknown: undefined (a selector then applies: fail closed). */
  appliesToNamespace(namespace: string, labels: Readonly<Record<string, string>> | undefined): boolean;
  /** Whether the policy's model globs cover a repository (`host/path`). */
  governs(repository: string): boolean;
}

/** Compiles a policy that `validateModelPolicy` accepted. */
export function compilePolicy(policy: ModelPolicy): CompiledPolicy {
  const spec = enforcedSpec(policy.spec);
  const models = spec.models.map((g) => compileGlob(g));
  const namespaces = spec.match?.namespaces?.map(compileNamespaceGlob);
  const selector = spec.match?.namespaceSelector;
  const formatRules = compileFormatRules(spec.formats);
  const contentKey = specContentKey(spec);
  const uid = policy.metadata.uid ?? `local:${policy.metadata.name}:${contentKey.slice(7, 23)}`;
  return Object.freeze({
    name: policy.metadata.name,
    uid,
    generation: policy.metadata.generation ?? 1,
    contentKey,
    mode: spec.mode,
    spec,
    requireDigest: spec.requireDigest,
    deniedFormats: formatRules.denied,
    ...(formatRules.allowed ? { allowedFormats: formatRules.allowed } : {}),
    formatRuleSource: formatRules.source,
    appliesToNamespace(namespace: string, labels: Readonly<Record<string, string>> | undefined): boolean {
      if (namespaces && !namespaces.some((m) => m(namespace))) return false;
      if (selector && labels !== undefined && !selectorMatches(selector, labels)) return false;
      return true;
    },
    governs(repository: string): boolean {
      return models.some((m) => m(repository));
    },
  });
}

/** The spec without a `signatures` section that requires nothing (see EnforcedSpec). */
export function enforcedSpec(spec: ModelPolicySpec): EnforcedSpec {
  const { signatures, ...rest } = spec;
  if (signatures === undefined || signatures.required === false) return rest;
  const { authorities } = signatures;
  // validateModelPolicy refuses this; a policy that bypassed it must not pass as unsigned-ok.
  if (authorities === undefined) throw new Error('signatures.required is true but names no authorities');
  return {
    ...rest,
    signatures: { ...signatures, required: true, threshold: signatures.threshold ?? 1, authorities },
  };
}

/** `sha256:<hex>` of a spec as canonical JSON (keys sorted at every level), so key order does not matter. */
export function specContentKey(spec: Readonly<EnforcedSpec>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(spec)).digest('hex')}`;
}

/** JSON with object keys sorted at every level; `undefined` members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** Whether a policy admits every format, so that no file needs classifying. */
export function admitsEveryFormat(p: CompiledPolicy): boolean {
  return rulesAdmitEverything({
    denied: p.deniedFormats,
    ...(p.allowedFormats ? { allowed: p.allowedFormats } : {}),
  });
}
