import { gatherEvidence } from '../evidence/gather.ts';
import type { ArtifactEvidence, EvidenceCheck } from '../evidence/types.ts';
import type { RegistryClient } from '../oci/client.ts';
import { isRegistryError } from '../oci/errors.ts';
import { layerTitle } from '../oci/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { formatReference, type ModelReference } from '../reference/reference.ts';
import type { CheckFailure, CheckOutcome, ModelVerifier } from './engine.ts';
import { CHECKS, type CheckName, unverifiable } from './pending.ts';

export type EvidenceChecks = Partial<Record<CheckName, EvidenceCheck>>;

/**
 * Verifies a model against a policy from what its registry holds: gathers
 * the evidence once per reference (concurrent requests for the same
 * reference share one gathering), then runs each check the policy demands.
 * A demanded check with no implementation in `checks` fails closed.
 */
export class RegistryVerifier implements ModelVerifier {
  readonly #client: RegistryClient;
  readonly #checks: EvidenceChecks;
  readonly #inflight = new Map<string, Promise<ArtifactEvidence>>();

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
    const failures: CheckFailure[] = [];
    const checks: Record<string, unknown> = {};
    for (const c of CHECKS) {
      if (!c.demanded(policy)) continue;
      const impl = this.#checks[c.name];
      if (!impl) {
        failures.push(unverifiable(c.name, 'not implemented in this build'));
        continue;
      }
      try {
        const r = await impl(evidence, policy, signal);
        failures.push(...r.failures);
        checks[c.name] = r.report;
      } catch (err) {
        failures.push(registryFailure(err, signal, c.name));
      }
    }
    return { failures, report: { ...describeEvidence(evidence), checks } };
  }

  #gather(ref: ModelReference, signal: AbortSignal): Promise<ArtifactEvidence> {
    const key = formatReference(ref);
    const running = this.#inflight.get(key);
    if (running) return running;
    const p = gatherEvidence(this.#client, ref, signal).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
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

function registryFailure(err: unknown, signal: AbortSignal, check?: string): CheckFailure {
  const where = check ? ` (${check})` : '';
  if (signal.aborted)
    return { code: 'DEADLINE_EXCEEDED', message: `verification was cut off by the deadline${where}` };
  if (isRegistryError(err)) {
    if (err.code === 'MANIFEST_DIGEST_MISMATCH')
      return { code: 'MANIFEST_DIGEST_MISMATCH', message: err.message };
    if (err.code === 'DEADLINE_EXCEEDED') return { code: 'DEADLINE_EXCEEDED', message: err.message };
    return { code: 'REGISTRY_ERROR', message: err.message };
  }
  // Anything else thrown by a check is a bug in it: refused, and reported as such.
  if (check)
    return {
      code: 'INTERNAL_ERROR',
      message: `${check} check failed: ${(err as Error)?.message ?? String(err)}`,
    };
  return { code: 'REGISTRY_ERROR', message: `${(err as Error)?.message ?? String(err)}${where}` };
}
