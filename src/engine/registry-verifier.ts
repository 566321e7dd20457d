import { UnsupportedArtifactError } from '../evidence/errors.ts';
import { gatherEvidence } from '../evidence/gather.ts';
import type { ArtifactEvidence, EvidenceCheck } from '../evidence/types.ts';
import type { RegistryClient } from '../oci/client.ts';
import { isRegistryError } from '../oci/errors.ts';
import { layerTitle } from '../oci/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { formatReference, type ModelReference } from '../reference/reference.ts';
import type { CheckFailure, CheckOutcome } from '../verdict/outcome.ts';
import { Coalescer } from './coalesce.ts';
import type { ModelVerifier } from './engine.ts';
import { CHECKS, type CheckName, unverifiable } from './pending.ts';

export type EvidenceChecks = Partial<Record<CheckName, EvidenceCheck>>;

/**
 * Verifies a model against a policy from what its registry holds: gathers
 * the evidence once per reference (concurrent requests for the same
 * reference share one gathering, each waiting under its own signal), then
 * runs the checks the policy demands, side by side. A demanded check with
 * no implementation in `checks` fails closed.
 */
export class RegistryVerifier implements ModelVerifier {
  readonly #client: RegistryClient;
  readonly #checks: EvidenceChecks;
  // A caller whose deadline passes leaves; the gathering stops only when no caller is left.
  readonly #gatherings = new Coalescer<ArtifactEvidence>({ whenAbandoned: 'abort' });

  constructor(client: RegistryClient, checks: EvidenceChecks = {}) {
    this.#client = client;
    this.#checks = checks;
  }

  async verify(ref: ModelReference, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckOutcome> {
    let evidence: ArtifactEvidence;
    try {
      evidence = await this.#gather(ref, signal);
    } catch (err) {
      return { failures: [registryFailure(err, signal)] };
    }
    // The checks read different blobs: run side by side, their round trips overlap. Failures keep the
    // order of CHECKS.
    const results = await Promise.all(
      CHECKS.filter((c) => c.demanded(policy)).map(async (c) => {
        const impl = this.#checks[c.name];
        if (!impl) return { name: c.name, failures: [unverifiable(c.name, 'not implemented in this build')] };
        try {
          const r = await impl(evidence, policy, signal);
          return { name: c.name, failures: r.failures, report: r.report };
        } catch (err) {
          return { name: c.name, failures: [registryFailure(err, signal, c.name)] };
        }
      }),
    );
    const failures: CheckFailure[] = [];
    const checks: Record<string, unknown> = {};
    for (const r of results) {
      failures.push(...r.failures);
      if ('report' in r) checks[r.name] = r.report;
    }
    return { failures, report: { ...describeEvidence(evidence), checks } };
  }

  #gather(ref: ModelReference, signal: AbortSignal): Promise<ArtifactEvidence> {
    return this.#gatherings.run(
      formatReference(ref),
      (shared) => gatherEvidence(this.#client, ref, shared),
      signal,
    );
  }
}

/** The resolved artifact, as `modelgate verify --json` shows it. */
export function describeEvidence(e: ArtifactEvidence) {
  return {
    digest: e.digest,
    mediaType: e.mediaType,
    artifactType: e.artifactType ?? null,
    layers: e.layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      title: layerTitle(l) ?? null,
    })),
    referrers: e.referrers.map((r) => ({
      artifactType: r.artifactType ?? null,
      digest: r.digest,
      mediaType: r.mediaType,
    })),
  };
}

/** A registry client's failure (or a check's exception) as the coded failure it stands for. */
export function registryFailure(err: unknown, signal: AbortSignal, check?: string): CheckFailure {
  const where = check ? ` (${check})` : '';
  if (signal.aborted)
    return { code: 'DEADLINE_EXCEEDED', message: `verification was cut off by the deadline${where}` };
  if (isRegistryError(err)) {
    if (err.code === 'MANIFEST_DIGEST_MISMATCH')
      return { code: 'MANIFEST_DIGEST_MISMATCH', message: err.message };
    if (err.code === 'DEADLINE_EXCEEDED') return { code: 'DEADLINE_EXCEEDED', message: err.message };
    // The content itself is the problem: a stable refusal (cached as such), not a registry outage.
    if (err.code === 'ARTIFACT_AMBIGUOUS') return { code: 'ARTIFACT_AMBIGUOUS', message: err.message };
    // OUTBOUND_DENIED and the rest: the registry could not be used; the client's own fix where it has one.
    return { code: 'REGISTRY_ERROR', message: err.message, ...(err.fix ? { fix: err.fix } : {}) };
  }
  if (err instanceof UnsupportedArtifactError) return { code: err.code, message: err.message };
  // Anything else thrown by a check is a bug in it: refused, and reported as such.
  if (check)
    return {
      code: 'INTERNAL_ERROR',
      message: `${check} check failed: ${(err as Error)?.message ?? String(err)}`,
    };
  // Not the registry's either: an error modelgate did not expect is its own (INTERNAL_ERROR), never
  // a "check that the registry is reachable".
  return { code: 'INTERNAL_ERROR', message: `${(err as Error)?.message ?? String(err)}${where}` };
}
