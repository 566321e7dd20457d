// SLSA v1 provenance (https://slsa.dev/provenance/v1) carried by a verified in-toto attestation:
// which builder made the model, from which source repository.

import type { CompiledPolicy } from '../policy/compile.ts';
import type { CheckFailure } from '../verdict/outcome.ts';
import {
  type AttestationSource,
  ambiguityFailure,
  PREDICATE_SLSA_PROVENANCE_V1,
  predicateFor,
} from './attestations.ts';
import { printable } from './bytes.ts';
import type { ArtifactEvidence, CheckResult, EvidenceCheck } from './types.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ProvenanceFacts {
  readonly builderId?: string;
  readonly buildType?: string;
  /** Source repositories the provenance names (see sourceRepositoriesOf). */
  readonly sources: readonly string[];
}

/**
 * The source repositories a SLSA v1 predicate names: `externalParameters.workflow.repository`
 * (GitHub Actions' build types), `externalParameters.source` (a string or `{uri}`), and the first
 * `git+` entry of `resolvedDependencies` (the checkout GitHub and the SLSA generators record first;
 * later git entries are dependencies, not the source).
 */
export function sourceRepositoriesOf(predicate: unknown): string[] {
  if (!isObject(predicate)) return [];
  const def = predicate.buildDefinition;
  if (!isObject(def)) return [];
  const out: string[] = [];
  const ext = def.externalParameters;
  if (isObject(ext)) {
    const wf = ext.workflow;
    if (isObject(wf) && typeof wf.repository === 'string') out.push(wf.repository);
    const src = ext.source;
    if (typeof src === 'string') out.push(src);
    else if (isObject(src) && typeof src.uri === 'string') out.push(src.uri);
  }
  if (Array.isArray(def.resolvedDependencies)) {
    const git = def.resolvedDependencies.find(
      (d): d is Json => isObject(d) && typeof d.uri === 'string' && d.uri.startsWith('git+'),
    );
    if (git) out.push(git.uri as string);
  }
  return [...new Set(out)];
}

export function provenanceFacts(predicate: unknown): ProvenanceFacts {
  const p = isObject(predicate) ? predicate : {};
  const run = isObject(p.runDetails) ? p.runDetails : {};
  const builder = isObject(run.builder) ? run.builder : {};
  const def = isObject(p.buildDefinition) ? p.buildDefinition : {};
  return {
    ...(typeof builder.id === 'string' ? { builderId: builder.id } : {}),
    ...(typeof def.buildType === 'string' ? { buildType: def.buildType } : {}),
    sources: sourceRepositoriesOf(predicate),
  };
}

/**
 * A repository URI in comparable form: no `git+` prefix, no `@ref` after the path, no `.git` or
 * trailing slash, lower-case scheme and host. `git+https://github.com/a/b@refs/heads/main` and
 * `https://github.com/a/b` compare equal.
 */
export function normalizeRepository(uri: string): string {
  let u = uri.trim();
  if (u.startsWith('git+')) u = u.slice(4);
  const scheme = u.indexOf('://');
  const pathStart = scheme < 0 ? 0 : u.indexOf('/', scheme + 3);
  if (pathStart >= 0) {
    const at = u.indexOf('@', pathStart);
    if (at >= 0) u = u.slice(0, at);
  }
  u = u.replace(/\/+$/, '').replace(/\.git$/, '');
  if (scheme >= 0) {
    const hostEnd = pathStart < 0 ? u.length : pathStart;
    u = u.slice(0, hostEnd).toLowerCase() + u.slice(hostEnd);
  }
  return u;
}

/** Why one provenance predicate fails the policy's rules (empty when it meets them). */
export function provenanceProblems(
  facts: ProvenanceFacts,
  rules: { builderIds?: readonly string[]; sourceRepositories?: readonly string[] },
): string[] {
  const problems: string[] = [];
  if (
    rules.builderIds !== undefined &&
    !(facts.builderId !== undefined && rules.builderIds.includes(facts.builderId))
  ) {
    problems.push(
      `builder id ${facts.builderId === undefined ? '(none)' : JSON.stringify(printable(facts.builderId))} is not one of ${rules.builderIds.map((b) => JSON.stringify(b)).join(', ')}`,
    );
  }
  if (rules.sourceRepositories !== undefined) {
    const allowed = new Set(rules.sourceRepositories.map(normalizeRepository));
    const list = rules.sourceRepositories.map((r) => JSON.stringify(r)).join(', ');
    if (facts.sources.length === 0) {
      problems.push(`no source repository is recorded (expected one of ${list})`);
    } else {
      const bad = facts.sources.filter((s) => !allowed.has(normalizeRepository(s)));
      if (bad.length > 0) {
        problems.push(
          `source repository ${bad.map((s) => JSON.stringify(printable(s))).join(', ')} is not one of ${list}`,
        );
      }
    }
  }
  return problems;
}

/** The provenance check; without an attestation source, required provenance fails closed. */
export function checkProvenance(attestations?: AttestationSource): EvidenceCheck {
  return async (e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckResult> => {
    const spec = policy.spec.provenance;
    if (spec === undefined)
      return { failures: [], report: { checked: false, reason: 'the policy has no provenance rules' } };
    const required = spec.required ?? true;
    const rules = {
      ...(spec.builderIds ? { builderIds: spec.builderIds } : {}),
      ...(spec.sourceRepositories ? { sourceRepositories: spec.sourceRepositories } : {}),
    };
    const base = { required, ...rules, ...(spec.signedBy ? { signedBy: spec.signedBy } : {}) };
    const fail = (message: string): CheckFailure[] =>
      required ? [{ code: 'PROVENANCE_FAILED', message }] : [];
    if (attestations === undefined) {
      const message =
        'SLSA provenance could not be checked: this build cannot verify attestations (no attestation verifier)';
      return { failures: fail(message), report: { ...base, attestations: [], notes: [message] } };
    }
    const statements = await attestations.verifiedStatements(e, policy, PREDICATE_SLSA_PROVENANCE_V1, signal);
    const seen: { authority: string; facts?: ProvenanceFacts; problems: string[]; status: string }[] = [];
    const problems: string[] = [];
    for (const s of statements) {
      if (spec.signedBy !== undefined && !spec.signedBy.includes(s.authority)) {
        seen.push({
          authority: s.authority,
          status: 'ignored',
          problems: [`signed by ${s.authority}, not by ${spec.signedBy.join(' or ')}`],
        });
        continue;
      }
      const predicate = predicateFor(s.statement, PREDICATE_SLSA_PROVENANCE_V1, e.digest);
      if (predicate === undefined) {
        seen.push({
          authority: s.authority,
          status: 'ignored',
          problems: [`not a SLSA v1 statement about ${e.digest}`],
        });
        continue;
      }
      const facts = provenanceFacts(predicate);
      const p = provenanceProblems(facts, rules);
      seen.push({
        authority: s.authority,
        facts,
        problems: p,
        status: p.length === 0 ? 'accepted' : 'refused',
      });
      if (p.length === 0)
        return { failures: [], report: { ...base, attestations: seen, acceptedFrom: s.authority } };
      problems.push(`provenance signed by ${s.authority}: ${p.join('; ')}`);
    }
    const report = { ...base, attestations: seen };
    if (problems.length > 0) {
      // A provenance that exists but names the wrong builder or source fails even when not required.
      return {
        failures: problems.slice(0, 5).map((message) => ({ code: 'PROVENANCE_FAILED' as const, message })),
        report,
      };
    }
    const by = spec.signedBy ? ` signed by ${spec.signedBy.join(' or ')}` : '';
    if (required) {
      const ambiguous = (await attestations.ambiguities?.(e, policy, signal)) ?? [];
      const unclear = ambiguityFailure(`SLSA v1 provenance attestation${by}`, ambiguous);
      if (unclear !== undefined) return { failures: [unclear], report: { ...report, ambiguous } };
    }
    return {
      failures: fail(`no verified SLSA v1 provenance attestation${by} found for ${e.digest}`),
      report,
    };
  };
}
