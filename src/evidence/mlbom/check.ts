import type { CompiledPolicy } from '../../policy/compile.ts';
import type { CheckFailure } from '../../verdict/outcome.ts';
import { type AttestationSource, ambiguityFailure } from '../attestations.ts';
import { weightLayers } from '../formats/classify.ts';
import { layerName } from '../formats/hints.ts';
import type { ArtifactEvidence, CheckResult, EvidenceCheck } from '../types.ts';
import { type BomCandidate, findAttestedBoms, findStoredBoms, loadBom } from './find.ts';
import { type BomRules, evaluateBom } from './rules.ts';

/** Failing ML-BOMs reported at most (each with its own failure). */
const MAX_REPORTED_BOMS = 5;

interface BomReport {
  source: string;
  origin: BomCandidate['origin'];
  authority?: string;
  status: 'accepted' | 'refused' | 'ignored';
  schemaValid?: boolean;
  modelComponents?: readonly string[];
  accepted?: { component: string; hashMatch?: string };
  problems: string[];
}

/**
 * The ML-BOM check: a CycloneDX 1.6 document with a machine-learning-model component bound to this
 * artifact by hash, with the policy's required fields, signed when the policy says so. Without an
 * attestation source, BOMs inside attestations are not seen and `signedBy` cannot be met.
 */
export function checkMlBom(attestations?: AttestationSource): EvidenceCheck {
  return async (e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckResult> => {
    const spec = policy.spec.mlbom;
    if (spec === undefined)
      return { failures: [], report: { checked: false, reason: 'the policy has no mlbom rules' } };
    const required = spec.required ?? true;
    const signedBy = spec.signedBy;
    const rules: BomRules = {
      manifestDigest: e.digest,
      weightFiles: weightLayers(e).map((l) => ({ file: layerName(l) ?? l.digest, digest: l.digest })),
      requireHashMatch: spec.requireHashMatch ?? true,
      requiredFields: spec.requiredFields ?? [],
    };
    const notes: string[] = [];
    const reports: BomReport[] = [];
    const base = {
      required,
      requireHashMatch: rules.requireHashMatch,
      requiredFields: rules.requiredFields,
      ...(signedBy ? { signedBy } : {}),
    };

    if (signedBy !== undefined && attestations === undefined) {
      const message = `the policy requires an ML-BOM signed by ${signedBy.join(' or ')}, but this build cannot verify attestations (no attestation verifier), so no signed ML-BOM can be found`;
      return {
        failures: required ? [{ code: 'MLBOM_MISSING', message }] : [],
        report: { ...base, boms: [], notes: [message] },
      };
    }

    const candidates: BomCandidate[] = [];
    const ambiguous: string[] = [];
    if (signedBy === undefined) {
      const stored = await findStoredBoms(e, signal);
      candidates.push(...stored.candidates);
      notes.push(...stored.notes);
      ambiguous.push(...(stored.ambiguous ?? []));
    } else {
      notes.push(
        `unsigned ML-BOMs (referrers, layers) are not considered: the policy requires one signed by ${signedBy.join(' or ')}`,
      );
    }
    const attested = await findAttestedBoms(e, policy, attestations, signal);
    notes.push(...attested.notes);
    ambiguous.push(...(attested.ambiguous ?? []));
    for (const c of attested.candidates) {
      if (signedBy !== undefined && !signedBy.includes(c.authority ?? '')) {
        reports.push({
          source: c.source,
          origin: c.origin,
          ...(c.authority ? { authority: c.authority } : {}),
          status: 'ignored',
          problems: [`signed by ${c.authority}, not by ${signedBy.join(' or ')}`],
        });
        continue;
      }
      candidates.push(c);
    }

    const failures: CheckFailure[] = [];
    let accepted: string | undefined;
    for (const c of candidates) {
      const entry: BomReport = {
        source: c.source,
        origin: c.origin,
        ...(c.authority ? { authority: c.authority } : {}),
        status: 'refused',
        problems: [],
      };
      reports.push(entry);
      const loaded = await loadBom(e, c, signal);
      if (!loaded.ok) {
        entry.problems.push(loaded.problem);
        if (loaded.skip) entry.status = 'ignored';
        else failures.push({ code: loaded.code ?? 'MLBOM_INVALID', message: loaded.problem });
        continue;
      }
      const ev = evaluateBom(loaded.document, rules, c.source);
      entry.schemaValid = ev.schemaValid;
      entry.modelComponents = ev.modelComponents;
      entry.problems.push(...ev.failures.map((f) => f.message));
      if (ev.failures.length === 0) {
        entry.status = 'accepted';
        if (ev.accepted) entry.accepted = ev.accepted;
        accepted ??= c.source;
      } else {
        failures.push(...ev.failures);
      }
    }

    const report = { ...base, boms: reports, notes, ...(accepted ? { acceptedBy: accepted } : {}) };
    if (accepted !== undefined) return { failures: [], report };
    if (failures.length === 0) {
      if (!required) return { failures: [], report };
      const what = signedBy ? ` signed by ${signedBy.join(' or ')}` : '';
      const unclear = ambiguityFailure(`CycloneDX ML-BOM${what}`, ambiguous);
      if (unclear !== undefined) return { failures: [unclear], report: { ...report, ambiguous } };
      const ignored = reports
        .filter((r) => r.status === 'ignored')
        .map((r) => `${r.source}: ${r.problems.join('; ')}`);
      return {
        failures: [
          {
            code: 'MLBOM_MISSING',
            message: `no CycloneDX ML-BOM${what} found as a referrer, a layer or an attestation of ${e.digest}${ignored.length ? ` (ignored: ${ignored.slice(0, 3).join(' | ')})` : ''}`,
          },
        ],
        report,
      };
    }
    const shown = failures.slice(0, MAX_REPORTED_BOMS);
    if (failures.length > shown.length) {
      shown.push({ code: shown[0]!.code, message: `${failures.length - shown.length} more ML-BOMs refused` });
    }
    return { failures: shown, report };
  };
}
