/**
 * The signature check: a model is admitted when at least `threshold` distinct
 * authorities of the policy signed exactly this artifact. Each signature is
 * found (discover.ts), bound to what it signs (binding.ts), and verified
 * against each authority (authority.ts). An authority counts when one signer
 * it accepts covers the artifact: the manifest digest, or every file layer
 * that is not itself a signature and not allowed unsigned by the policy.
 * Authorities are then matched to signers one to one, so that one signer (a
 * key, or a keyless identity) never counts for two authorities.
 */

import type { ArtifactEvidence, CheckResult, EvidenceCheck } from '../evidence/types.ts';
import { layerTitle } from '../oci/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { compileFileGlobs } from '../reference/glob.ts';
import type { CheckFailure } from '../verdict/outcome.ts';
import type { AttestationSource, VerifiedStatement } from './attestations.ts';
import { type CompiledAuthority, type SignerVerdict, verifySigner } from './authority.ts';
import { type Binding, bindCandidate, type Coverage } from './binding.ts';
import { type Candidate, type Discovery, discoverSignatures } from './discover.ts';
import type { LegacyTagFetcher } from './legacy.ts';
import { subjectHasDigest } from './statement.ts';
import { type PolicyTrust, TrustCache, type TrustOptions } from './trust.ts';

export interface SignatureVerifierOptions extends TrustOptions {
  /** Shared trust cache (else one is made from the trust options). */
  readonly trust?: TrustCache;
  /** Also look for legacy cosign `sha256-<hex>.sig` tags (see `legacyTagFetcher`). */
  readonly legacyTags?: LegacyTagFetcher;
  readonly maxReferrers?: number;
  readonly maxBlobs?: number;
}

/** One authority's result against one candidate. */
interface Attempt {
  readonly candidate: number;
  readonly verdict: SignerVerdict;
}

interface Evaluation {
  readonly trust: PolicyTrust;
  readonly discovery: Discovery;
  readonly bindings: readonly Binding[];
  /** attempts[authority][k]: each bound candidate tried with that authority. */
  readonly attempts: readonly (readonly Attempt[])[];
}

const MAX_DETAILS = 4;

/**
 * Verifies signatures (the `signatures` check) and serves signed attestations
 * to other checks. Discovery and verification are shared per artifact and
 * compiled trust (its `key`) between the two.
 */
export class SignatureVerifier implements AttestationSource {
  readonly #opts: SignatureVerifierOptions;
  readonly #trust: TrustCache;
  readonly #discoveries = new WeakMap<ArtifactEvidence, Promise<Discovery>>();
  readonly #evaluations = new WeakMap<ArtifactEvidence, Map<string, Promise<Evaluation>>>();

  constructor(opts: SignatureVerifierOptions = {}) {
    this.#opts = opts;
    this.#trust = opts.trust ?? new TrustCache(opts);
  }

  get trust(): TrustCache {
    return this.#trust;
  }

  /** The `signatures` EvidenceCheck. */
  readonly check: EvidenceCheck = async (e, policy, signal) => {
    if (policy.spec.signatures === undefined)
      return { failures: [], report: { skipped: 'no signatures section' } };
    const ev = await this.#evaluate(e, policy, signal);
    return decide(e, ev);
  };

  async verifiedStatements(
    e: ArtifactEvidence,
    policy: CompiledPolicy,
    predicateType: string,
    signal: AbortSignal,
  ): Promise<VerifiedStatement[]> {
    if (policy.spec.signatures === undefined) return [];
    const ev = await this.#evaluate(e, policy, signal);
    const out: VerifiedStatement[] = [];
    ev.trust.authorities.forEach((a, ai) => {
      for (const at of ev.attempts[ai]!) {
        const b = ev.bindings[at.candidate]!;
        const statement = b.kind === 'attestation' || b.kind === 'signature' ? b.statement : undefined;
        if (!at.verdict.ok || statement === undefined || statement.predicateType !== predicateType) continue;
        // The contract: statements about this artifact only (not about one of its files).
        if (!subjectHasDigest(statement, e.digest)) continue;
        out.push({
          statement,
          authority: a.name,
          identity: at.verdict.identity,
          signature: ev.discovery.candidates[at.candidate]!.where,
        });
      }
    });
    return out;
  }

  /**
   * The signature and attestation documents of `e` that were refused because other readers could read
   * them differently, as `where: why`; checks that found nothing usable report ARTIFACT_AMBIGUOUS then.
   */
  async ambiguities(e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<string[]> {
    if (policy.spec.signatures === undefined) return [];
    const ev = await this.#evaluate(e, policy, signal);
    return ambiguitiesOf(ev.discovery, ev.bindings);
  }

  async #evaluate(e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<Evaluation> {
    // Keyed by the trust itself (the spec and the material it was built from), never by uid.
    const trust = await this.#trust.forPolicy(policy, signal);
    let perPolicy = this.#evaluations.get(e);
    if (perPolicy === undefined) {
      perPolicy = new Map();
      this.#evaluations.set(e, perPolicy);
    }
    const key = trust.key;
    let p = perPolicy.get(key);
    if (p === undefined) {
      p = this.#run(e, trust, signal);
      const map = perPolicy;
      p.catch(() => map.delete(key));
      perPolicy.set(key, p);
    }
    return p;
  }

  async #run(e: ArtifactEvidence, trust: PolicyTrust, signal: AbortSignal): Promise<Evaluation> {
    const discovery = await this.#discover(e, signal);
    const bindings = discovery.candidates.map((c) => bindCandidate(c, e));
    const attempts = trust.authorities.map((a) => attemptAll(a, discovery.candidates, bindings));
    return { trust, discovery, bindings, attempts };
  }

  #discover(e: ArtifactEvidence, signal: AbortSignal): Promise<Discovery> {
    let p = this.#discoveries.get(e);
    if (p === undefined) {
      const o = this.#opts;
      p = discoverSignatures(
        e,
        {
          ...(o.legacyTags ? { legacyTags: o.legacyTags } : {}),
          ...(o.maxReferrers ? { maxReferrers: o.maxReferrers } : {}),
          ...(o.maxBlobs ? { maxBlobs: o.maxBlobs } : {}),
        },
        signal,
      );
      p.catch(() => this.#discoveries.delete(e));
      this.#discoveries.set(e, p);
    }
    return p;
  }
}

/** A signatures check with default options (public-good root; no Secrets, ConfigMaps or legacy tags). */
export function createSignatureCheck(opts: SignatureVerifierOptions = {}): EvidenceCheck {
  return new SignatureVerifier(opts).check;
}

function attemptAll(
  a: CompiledAuthority,
  candidates: readonly Candidate[],
  bindings: readonly Binding[],
): Attempt[] {
  const out: Attempt[] = [];
  bindings.forEach((b, i) => {
    if (b.kind === 'unbound') return;
    out.push({ candidate: i, verdict: verifySigner(a, candidates[i]!.bundle!, b.entity) });
  });
  return out;
}

interface SignerCoverage {
  readonly identity: string;
  artifact: boolean;
  readonly layers: Set<number>;
  readonly via: string[];
}

type AuthorityState = 'matched' | 'incomplete' | 'identity' | 'invalid' | 'none';

/** Turns an evaluation into the check's failures and report. */
function decide(e: ArtifactEvidence, ev: Evaluation): CheckResult {
  const { trust, discovery, bindings } = ev;
  const candidates = discovery.candidates;
  const allowed = compileFileGlobs(trust.allowUnsignedFiles);
  const required: number[] = [];
  const allowedUnsigned: string[] = [];
  e.layers.forEach((l, i) => {
    if (discovery.signatureLayers.has(i)) return;
    const title = layerTitle(l);
    if (title !== undefined && trust.allowUnsignedFiles.length > 0 && allowed(title))
      allowedUnsigned.push(title);
    else required.push(i);
  });
  const describeLayer = (i: number) => layerTitle(e.layers[i]!) ?? e.layers[i]!.digest;

  // Per authority: the signers it accepts and what each covers.
  const perAuthority = trust.authorities.map((a, ai) => {
    const signers = new Map<string, SignerCoverage>();
    const problems: string[] = [];
    let identityMismatch = false;
    for (const at of ev.attempts[ai]!) {
      const b = bindings[at.candidate]!;
      const where = candidates[at.candidate]!.where;
      if (b.kind !== 'signature') continue;
      if (!at.verdict.ok) {
        if (at.verdict.code === 'IDENTITY_MISMATCH') identityMismatch = true;
        problems.push(`${where}: ${at.verdict.message}`);
        continue;
      }
      const s = signers.get(at.verdict.signerId) ?? {
        identity: at.verdict.identity,
        artifact: false,
        layers: new Set<number>(),
        via: [],
      };
      addCoverage(s, b.coverage);
      s.via.push(`${where} (${b.what})`);
      signers.set(at.verdict.signerId, s);
    }
    const satisfying: string[] = [];
    for (const [id, s] of signers) {
      const missing = s.artifact ? [] : required.filter((i) => !s.layers.has(i));
      if (missing.length === 0) satisfying.push(id);
      else {
        problems.push(
          `signed by ${s.identity} via ${s.via.join(', ')}, but not covering ${missing.map(describeLayer).join(', ')}`,
        );
      }
    }
    let state: AuthorityState;
    if (satisfying.length > 0) state = 'matched';
    else if (signers.size > 0) state = 'incomplete';
    else if (identityMismatch) state = 'identity';
    else if (problems.length > 0) state = 'invalid';
    else state = 'none';
    return { authority: a, signers, satisfying, problems, state };
  });

  const assignment = matchAuthorities(perAuthority.map((p) => p.satisfying));
  const matched = perAuthority.flatMap((p, ai) => {
    const id = assignment.get(ai);
    if (id === undefined) return [];
    const s = p.signers.get(id)!;
    return [{ authority: p.authority.name, identity: s.identity, signatures: s.via }];
  });

  const unbound = bindings.flatMap((b, i) =>
    b.kind === 'unbound' ? [`${candidates[i]!.where}: ${b.error}`] : [],
  );
  const ambiguous = ambiguitiesOf(discovery, bindings);
  const signatureCount = bindings.filter((b) => b.kind === 'signature').length;
  const report = {
    threshold: trust.threshold,
    satisfied: matched.length >= trust.threshold,
    matched,
    authorities: perAuthority.map((p, ai) => ({
      name: p.authority.name,
      kind: p.authority.kind,
      expected: p.authority.expected,
      counted: assignment.has(ai),
      // A signer that satisfies this authority but was counted for another one.
      ...(p.state === 'matched' && !assignment.has(ai)
        ? { note: 'its signer already counted for another authority' }
        : {}),
      problems: p.problems.slice(0, MAX_DETAILS),
    })),
    signatures: candidates.map((c, i) => {
      const b = bindings[i]!;
      return {
        where: c.where,
        kind: b.kind === 'signature' ? b.what : b.kind,
        ...(b.kind === 'signature' ? { covers: describeCoverage(b.coverage, describeLayer) } : {}),
        ...(b.kind === 'attestation' ? { predicateType: b.statement.predicateType } : {}),
        ...(b.kind === 'unbound' ? { error: b.error } : {}),
      };
    }),
    ...(allowedUnsigned.length > 0 ? { unsignedAllowed: allowedUnsigned } : {}),
  };
  if (matched.length >= trust.threshold) return { failures: [], report };
  return {
    failures: [failureOf(ev, perAuthority, assignment, matched.length, signatureCount, unbound, ambiguous)],
    report,
  };
}

function addCoverage(s: SignerCoverage, c: Coverage): void {
  if (c.kind === 'artifact') s.artifact = true;
  else for (const i of c.layers) s.layers.add(i);
}

function describeCoverage(c: Coverage, describeLayer: (i: number) => string): string | string[] {
  if (c.kind === 'artifact') return 'the whole artifact (manifest digest)';
  return [...c.layers].sort((a, b) => a - b).map(describeLayer);
}

function failureOf(
  ev: Evaluation,
  per: readonly {
    authority: CompiledAuthority;
    state: AuthorityState;
    problems: string[];
    signers: Map<string, SignerCoverage>;
    satisfying: string[];
  }[],
  assignment: ReadonlyMap<number, string>,
  matchedCount: number,
  signatureCount: number,
  unbound: readonly string[],
  ambiguous: readonly string[],
): CheckFailure {
  const t = ev.trust;
  const need = `${t.threshold} of ${t.authorities.length} authorit${t.authorities.length === 1 ? 'y' : 'ies'}`;
  // Whatever else is wrong, a signature document that cosign or sigstore-go could read as valid where
  // modelgate read nothing is the finding: "re-sign" would not help, rewriting the document would.
  if (ambiguous.length > 0) {
    const more = ambiguous.length > MAX_DETAILS ? `; and ${ambiguous.length - MAX_DETAILS} more` : '';
    return {
      code: 'ARTIFACT_AMBIGUOUS',
      message: `the policy needs ${need} and ${matchedCount} signed; ${ambiguous.length} signature document${ambiguous.length === 1 ? ' is' : 's are'} refused because other readers could read ${ambiguous.length === 1 ? 'it' : 'them'} differently: ${ambiguous.slice(0, MAX_DETAILS).join('; ')}${more}.`,
    };
  }
  const countedBy = new Map([...assignment].map(([ai, id]) => [id, per[ai]!.authority.name]));
  const details = per.map((p, ai) => {
    const head = `${p.authority.name} (expects ${p.authority.expected})`;
    const id = assignment.get(ai);
    if (id !== undefined) return `${p.authority.name}: signed by ${p.signers.get(id)!.identity}`;
    if (p.authority.kind === 'unavailable') return `${head}: ${p.authority.reason}`;
    if (p.state === 'matched') {
      const by = [...new Set(p.satisfying.map((s) => countedBy.get(s)).filter((n) => n !== undefined))];
      return `${head}: its signer ${p.signers.get(p.satisfying[0]!)!.identity} already counted for ${by.join(', ')} (one signer counts once)`;
    }
    if (p.problems.length === 0) return `${head}: no signature by it`;
    const more = p.problems.length > MAX_DETAILS ? `; and ${p.problems.length - MAX_DETAILS} more` : '';
    return `${head}: ${p.problems.slice(0, MAX_DETAILS).join('; ')}${more}`;
  });
  const others =
    unbound.length > 0
      ? ` Not signatures of this artifact: ${unbound.slice(0, MAX_DETAILS).join('; ')}.`
      : '';
  // An authority whose key or root could not be had verifies nothing: the operator's problem, not the
  // model author's ("re-sign" would not help), and said so before what the other authorities found.
  const unavailable = per.flatMap((p) => (p.authority.kind === 'unavailable' ? [p.authority] : []));
  if (unavailable.length > 0) {
    const n = unavailable.length;
    return {
      code: 'TRUST_UNAVAILABLE',
      message: `the trust material of ${n} authorit${n === 1 ? 'y' : 'ies'} cannot be used, so no signature by ${n === 1 ? 'it' : 'them'} can be checked; the policy needs ${need} and ${matchedCount} signed: ${details.join(' | ')}.${others}`,
      fix: [...new Set(unavailable.map((a) => a.fix))].join('; '),
    };
  }
  if (matchedCount > 0) {
    return {
      code: 'THRESHOLD_NOT_MET',
      message: `${matchedCount} distinct authorit${matchedCount === 1 ? 'y' : 'ies'} signed; the policy needs ${need}. ${details.join(' | ')}.${others}`,
    };
  }
  const looked = ev.discovery.looked;
  if (ev.discovery.candidates.length === 0 || (signatureCount === 0 && unbound.length === 0)) {
    const where = `${looked.referrers} referrers, ${looked.layers} layers${looked.legacyTag ? `, tag ${looked.legacyTag}` : ''}`;
    const atts = ev.discovery.candidates.length > 0 ? ' (only attestations, which are not signatures)' : '';
    // Unavailable authorities were reported above (TRUST_UNAVAILABLE): here every authority is usable.
    return {
      code: 'SIGNATURE_MISSING',
      message: `no signature found${atts} among ${where}; the policy needs ${need}.`,
    };
  }
  const code =
    per.some((p) => p.state === 'incomplete') || !per.some((p) => p.state === 'identity')
      ? 'SIGNATURE_INVALID'
      : 'IDENTITY_MISMATCH';
  return { code, message: `the policy needs ${need}: ${details.join(' | ')}.${others}` };
}

/** The signature documents refused as ambiguous, as `where: why`. */
function ambiguitiesOf(d: Discovery, bindings: readonly Binding[]): string[] {
  return bindings.flatMap((b, i) =>
    b.kind === 'unbound' && b.ambiguous ? [`${d.candidates[i]!.where}: ${b.error}`] : [],
  );
}

/** Maximum one-to-one matching of authorities to signers (augmenting paths; both sides are small). */
export function matchAuthorities(options: readonly (readonly string[])[]): Map<number, string> {
  const owner = new Map<string, number>();
  const tryAssign = (a: number, seen: Set<string>): boolean => {
    for (const s of options[a] ?? []) {
      if (seen.has(s)) continue;
      seen.add(s);
      const current = owner.get(s);
      if (current === undefined || tryAssign(current, seen)) {
        owner.set(s, a);
        return true;
      }
    }
    return false;
  };
  options.forEach((_, a) => {
    tryAssign(a, new Set());
  });
  const out = new Map<number, string>();
  for (const [s, a] of owner) out.set(a, s);
  return out;
}
