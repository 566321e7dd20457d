import { createHash } from 'node:crypto';
import { compileGlob } from '../reference/glob.ts';
import {
  DEFAULT_DENIED_FORMATS,
  MODEL_FORMATS,
  type ModelFormat,
  type ModelPolicy,
  type ModelPolicySpec,
  type PolicyMode,
} from './schema.ts';
import { compileNamespaceGlob, selectorMatches } from './selector.ts';

/**
 * The form of a ModelPolicy the webhook uses: matchers compiled once per
 * policy generation. uid and generation key every cache entry made under it.
 */
export interface CompiledPolicy {
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly mode: PolicyMode;
  readonly spec: Readonly<ModelPolicySpec>;
  readonly requireDigest: boolean;
  /** Formats refused; `allowedFormats` when set is the only formats admitted. */
  readonly deniedFormats: ReadonlySet<ModelFormat>;
  readonly allowedFormats?: ReadonlySet<ModelFormat>;
  /** Whether the policy covers a namespace. Labels unknown: undefined (a selector then applies: fail closed). */
  appliesToNamespace(namespace: string, labels: Readonly<Record<string, string>> | undefined): boolean;
  /** Whether the policy's model globs cover a repository (`host/path`). */
  governs(repository: string): boolean;
}

/** Compiles a policy that `validateModelPolicy` accepted. */
export function compilePolicy(policy: ModelPolicy): CompiledPolicy {
  const spec = policy.spec;
  const models = spec.models.map((g) => compileGlob(g));
  const namespaces = spec.match?.namespaces?.map(compileNamespaceGlob);
  const selector = spec.match?.namespaceSelector;
  const denied = new Set<ModelFormat>(spec.formats ? (spec.formats.deny ?? []) : DEFAULT_DENIED_FORMATS);
  const allowed = spec.formats?.allow ? new Set<ModelFormat>(spec.formats.allow) : undefined;
  const uid =
    policy.metadata.uid ??
    `local:${policy.metadata.name}:${createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16)}`;
  return Object.freeze({
    name: policy.metadata.name,
    uid,
    generation: policy.metadata.generation ?? 1,
    mode: spec.mode,
    spec,
    requireDigest: spec.requireDigest,
    deniedFormats: denied,
    ...(allowed ? { allowedFormats: allowed } : {}),
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

/** Whether a policy admits every format, so that no file needs classifying. */
export function admitsEveryFormat(p: CompiledPolicy): boolean {
  if (p.deniedFormats.size > 0) return false;
  return p.allowedFormats === undefined || MODEL_FORMATS.every((f) => p.allowedFormats?.has(f));
}
