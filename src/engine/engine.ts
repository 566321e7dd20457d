import type { CompiledPolicy } from '../policy/compile.ts';
import type { PolicyMode } from '../policy/schema.ts';
import type { PolicySnapshot } from '../policy/snapshot.ts';
import {
  formatReference,
  type ModelReference,
  parseReference,
  repositoryOf,
} from '../reference/reference.ts';
import type { CheckFailure, CheckOutcome } from '../verdict/outcome.ts';
import { REASON_FIX } from '../verdict/reasons.ts';
import { type ExtractedReference, extractModelReferences } from '../workload/extract.ts';
import { type GroupVersionKind, podTemplatesOf } from '../workload/podspecs.ts';
import type { Decision, Finding } from './decision.ts';
import { decide } from './message.ts';
import { PolicyIndex } from './policy-index.ts';

export type UnmatchedAction = 'allow' | 'warn' | 'deny';

/** What the API server sent, as far as the engine cares. */
export interface AdmittedObject {
  readonly uid?: string;
  readonly kind: GroupVersionKind;
  readonly subResource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly operation: string;
  readonly object: unknown;
}

/**
 * Verification that needs the registry: resolve, gather evidence, check it.
 * The engine calls it only for a reference that a policy governs, and only
 * once the offline checks of that policy passed.
 */
export interface ModelVerifier {
  verify(ref: ModelReference, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckOutcome>;
  /**
   * The outcome, when it is known without any I/O (a cache hit); else undefined and the engine calls
   * `verify`. Lets a request whose every answer is cached skip the deadline machinery.
   */
  cached?(ref: ModelReference, policy: CompiledPolicy): CheckOutcome | undefined;
}

export interface EngineOptions {
  readonly unmatched: UnmatchedAction;
  /** Overall verification deadline for one admission request. */
  readonly deadlineMs: number;
  readonly policies: () => PolicySnapshot;
  /**
   * Cluster mode: whether the first full list of policies is in (absent: always, as with files). Before it
   * is, no image can be told to be a model, so every object with a pod spec is refused (POLICY_NOT_LOADED).
   */
  readonly policiesLoaded?: () => boolean;
  /** Resolves once they are loaded: a request that comes earlier waits for it, within the deadline. */
  readonly policiesLoading?: Promise<void>;
  /** Labels of a namespace, or undefined when unknown (selectors then apply: fail closed). */
  readonly namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
  readonly verifier: ModelVerifier;
}

/** The result of deciding one model reference, for `modelgate verify`. */
export interface ReferenceVerdict {
  readonly reference: string;
  readonly normalized?: string;
  readonly allowed: boolean;
  readonly findings: readonly Finding[];
  readonly policies: readonly {
    readonly name: string;
    readonly mode: PolicyMode;
    readonly report?: unknown;
  }[];
}

const MAX_REFERENCES_PER_OBJECT = 256;

export class Engine {
  readonly #opts: EngineOptions;

  constructor(opts: EngineOptions) {
    this.#opts = opts;
  }

  /** Decides one admission request. Never throws: an internal failure is a coded denial. */
  async review(req: AdmittedObject, signal?: AbortSignal): Promise<Decision> {
    try {
      return await this.#review(req, signal);
    } catch (err) {
      const f = place(
        { code: 'INTERNAL_ERROR', message: `internal error: ${(err as Error)?.message ?? String(err)}` },
        '-',
        '-',
        undefined,
        'Enforce',
      );
      return decide([f], describe(req));
    }
  }

  async #review(req: AdmittedObject, outer?: AbortSignal): Promise<Decision> {
    const what = describe(req);
    const invalid = (message: string, fieldPath = 'request', fix?: string) =>
      decide(
        [
          place(
            { code: 'REQUEST_INVALID', message, ...(fix ? { fix } : {}) },
            '-',
            fieldPath,
            undefined,
            'Enforce',
          ),
        ],
        what,
      );

    // Deletes and connects carry no pod spec to judge.
    if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return decide([], what);
    const templates = podTemplatesOf(req.kind, req.object, req.subResource);
    if (!templates.ok) return invalid(templates.error);
    if (templates.templates.length === 0) return decide([], what);
    if (this.#opts.policiesLoaded?.() === false && !(await this.#policiesLoadedWithin(outer))) {
      const message = `the ModelPolicies are not loaded yet (waited ${this.#opts.deadlineMs} ms); nothing is admitted before they are`;
      return decide(
        [place({ code: 'POLICY_NOT_LOADED', message }, '-', 'request', undefined, 'Enforce')],
        what,
      );
    }

    const scope = this.#scope(req.namespace ?? '');
    const isModelImage = (image: string) => {
      const parsed = parseReference(image);
      if (!parsed.ok) return false;
      const governing = scope.index.governing(repositoryOf(parsed.ref));
      return governing.policies.some(scope.applies) || governing.invalid.length > 0;
    };

    const extracted: ExtractedReference[] = [];
    for (const t of templates.templates) {
      const found = extractModelReferences(t, isModelImage);
      extracted.push(...found.references);
      // The object is well formed; the pod author named more than modelgate reads: say what to shorten.
      if (found.truncated) return invalid(found.message, found.fieldPath, found.fix);
      if (extracted.length > MAX_REFERENCES_PER_OBJECT) {
        return invalid(
          `more than ${MAX_REFERENCES_PER_OBJECT} model references in one object`,
          t.specPath,
          `name at most ${MAX_REFERENCES_PER_OBJECT} model references in one object, or split the models over several workloads`,
        );
      }
    }
    const findings = await this.#judge(extracted, scope, outer);
    return decide(findings, what);
  }

  /** Waits for the first policy list, at most the deadline (or until the caller gives up). */
  async #policiesLoadedWithin(outer: AbortSignal | undefined): Promise<boolean> {
    const loading = this.#opts.policiesLoading;
    if (loading === undefined) return false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#opts.deadlineMs);
      onAbort = resolve;
      outer?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([loading, giveUp]);
    } finally {
      clearTimeout(timer);
      if (onAbort) outer?.removeEventListener('abort', onAbort);
    }
    return this.#opts.policiesLoaded?.() !== false;
  }

  /** Decides one reference as if a pod in `namespace` named it (the CLI's `verify`). */
  async verifyReference(raw: string, namespace: string, signal?: AbortSignal): Promise<ReferenceVerdict> {
    const reports: { name: string; mode: PolicyMode; report?: unknown }[] = [];
    const findings = await this.#judge(
      [{ raw, fieldPath: 'argument', source: 'argument' }],
      this.#scope(namespace),
      signal,
      reports,
    );
    const parsed = parseReference(raw);
    return {
      reference: raw,
      ...(parsed.ok ? { normalized: formatReference(parsed.ref) } : {}),
      allowed: decide(findings, 'reference').allowed,
      findings,
      policies: reports,
    };
  }

  /**
   * The policies in force for one request in `namespace`: which govern a repository (memoized per
   * snapshot) and whether each applies to the namespace (decided once per request, and only for policies
   * that govern something the request names).
   */
  #scope(namespace: string): Scope {
    const labels = this.#opts.namespaceLabels(namespace);
    const index = PolicyIndex.of(this.#opts.policies());
    const seen = new Map<CompiledPolicy, boolean>();
    const applies = (p: CompiledPolicy): boolean => {
      let v = seen.get(p);
      if (v === undefined) {
        v = p.appliesToNamespace(namespace, labels);
        seen.set(p, v);
      }
      return v;
    };
    return { index, applies };
  }

  async #judge(
    refs: readonly ExtractedReference[],
    scope: Scope,
    outer: AbortSignal | undefined,
    reports?: { name: string; mode: PolicyMode; report?: unknown }[],
  ): Promise<Finding[]> {
    const findings: Finding[] = [];
    const jobs: {
      ref: ModelReference;
      e: ExtractedReference;
      policy: CompiledPolicy;
      known?: CheckOutcome;
    }[] = [];

    for (const e of refs) {
      const parsed = parseReference(e.raw);
      if (!parsed.ok) {
        findings.push(
          place(
            { code: 'REFERENCE_INVALID', message: parsed.error },
            e.raw,
            e.fieldPath,
            undefined,
            'Enforce',
          ),
        );
        continue;
      }
      const ref = parsed.ref;
      const repo = repositoryOf(ref);
      const covering = scope.index.governing(repo);
      for (const bad of covering.invalid) {
        const first = bad.errors[0];
        const detail = first ? `${first.path}: ${first.message}` : 'invalid';
        findings.push(
          place(
            {
              code: 'POLICY_INVALID',
              message: `policy ${bad.name} that governs this model is invalid (${detail})`,
            },
            e.raw,
            e.fieldPath,
            bad.name,
            'Enforce',
          ),
        );
      }
      const governing = covering.policies.filter(scope.applies);
      if (governing.length === 0) {
        const action = this.#opts.unmatched;
        // An invalid policy that covers the reference governs it (it is refused for that policy): saying
        // also that no policy governs it would contradict the POLICY_INVALID finding and send the operator
        // to write a policy that exists.
        if (action !== 'allow' && covering.invalid.length === 0) {
          findings.push(
            place(
              { code: 'MODEL_UNGOVERNED', message: `no ModelPolicy governs ${repo}` },
              e.raw,
              e.fieldPath,
              undefined,
              action === 'deny' ? 'Enforce' : 'Warn',
            ),
          );
        }
        continue;
      }
      for (const policy of governing) {
        if (policy.requireDigest && ref.digest === undefined) {
          findings.push(
            place(
              {
                code: 'DIGEST_REQUIRED',
                message: `${formatReference(ref)} is not pinned by digest; a tag can be moved to other content after admission`,
              },
              e.raw,
              e.fieldPath,
              policy.name,
              policy.mode,
            ),
          );
          reports?.push({ name: policy.name, mode: policy.mode });
          continue;
        }
        const known = this.#opts.verifier.cached?.(ref, policy);
        jobs.push(known === undefined ? { ref, e, policy } : { ref, e, policy, known });
      }
    }
    if (jobs.length === 0) return findings;
    if (jobs.every((j) => j.known !== undefined)) {
      for (const job of jobs) record(job, job.known!);
      return findings;
    }

    // One deadline for the whole request: whatever is unfinished then is refused.
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DeadlineError(this.#opts.deadlineMs)),
      this.#opts.deadlineMs,
    );
    const onOuterAbort = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const deadline = new Promise<'deadline'>((resolve) => {
      controller.signal.addEventListener('abort', () => resolve('deadline'), { once: true });
    });
    try {
      const outcomes = await Promise.all(
        jobs.map(async (job) => {
          if (job.known !== undefined) return job.known;
          const run = this.#opts.verifier.verify(job.ref, job.policy, controller.signal).catch(
            (err: unknown): CheckOutcome => ({
              failures: [
                controller.signal.aborted
                  ? deadlineFailure(this.#opts.deadlineMs)
                  : {
                      code: 'INTERNAL_ERROR',
                      message: `verification failed: ${(err as Error)?.message ?? err}`,
                    },
              ],
            }),
          );
          const r = await Promise.race([run, deadline]);
          return r === 'deadline' ? { failures: [deadlineFailure(this.#opts.deadlineMs)] } : r;
        }),
      );
      outcomes.forEach((o, i) => {
        record(jobs[i]!, o);
      });
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      // Not aborted: every verification has answered, so nothing is left to cancel (and an abort
      // reason would cost a stack trace per request).
    }
    return findings;

    function record(job: { e: ExtractedReference; policy: CompiledPolicy }, o: CheckOutcome): void {
      for (const f of o.failures)
        findings.push(place(f, job.e.raw, job.e.fieldPath, job.policy.name, job.policy.mode));
      reports?.push({
        name: job.policy.name,
        mode: job.policy.mode,
        ...(o.report ? { report: o.report } : {}),
      });
    }
  }
}

interface Scope {
  readonly index: PolicyIndex;
  readonly applies: (p: CompiledPolicy) => boolean;
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`verification deadline of ${ms} ms exceeded`);
    this.name = 'DeadlineError';
  }
}

function deadlineFailure(ms: number): CheckFailure {
  return { code: 'DEADLINE_EXCEEDED', message: `verification did not finish within the ${ms} ms deadline` };
}

function place(
  f: CheckFailure,
  reference: string,
  fieldPath: string,
  policy: string | undefined,
  mode: PolicyMode,
): Finding {
  return {
    code: f.code,
    message: f.message,
    fix: f.fix ?? REASON_FIX[f.code],
    reference,
    fieldPath,
    mode,
    ...(policy !== undefined ? { policy } : {}),
  };
}

function describe(req: AdmittedObject): string {
  const name = req.name ? ` ${req.namespace ? `${req.namespace}/` : ''}${req.name}` : '';
  const sub = req.subResource ? `/${req.subResource}` : '';
  return `${req.kind.kind}${sub}${name}`;
}
