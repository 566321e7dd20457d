/**
 * ModelPolicies as the cluster holds them, turned into the engine's PolicySnapshot. Each policy is
 * validated and compiled once per (uid, generation, spec content); one that fails validation is never applied in part:
 * it goes into `invalid`, with the model globs that compile, so that the engine refuses what it would
 * govern (POLICY_INVALID). Pure but for the status writer at the end, which talks to the API through
 * KubeApi.
 */
import type { Logger } from 'pino';
import { type CompiledPolicy, canonicalJson, compilePolicy } from '../policy/compile.ts';
import { API_GROUP, API_VERSION, KIND } from '../policy/schema.ts';
import type { InvalidPolicy, PolicySnapshot } from '../policy/snapshot.ts';
import { type PolicyError, validateModelPolicy } from '../policy/validate.ts';
import { compileGlob, validateGlob } from '../reference/glob.ts';
import type { KubeApi } from './api.ts';
import { type PolicyStatus, type PolicyVerdict, statusUpdate } from './status.ts';

/** A ModelPolicy as the API server sends it (read defensively: it is JSON from the wire). */
export interface ModelPolicyObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  spec?: unknown;
  status?: unknown;
}

interface Entry {
  readonly uid: string;
  readonly generation: number;
  /** The spec as canonical JSON: an object whose spec changed is compiled again whatever its generation says. */
  readonly spec: string;
  readonly verdict: PolicyVerdict;
  readonly compiled?: CompiledPolicy;
  readonly invalid?: InvalidPolicy;
}

/** What a trust check found for one policy content: a problem, or none (`undefined`). */
interface TrustState {
  readonly contentKey: string;
  readonly problem: string | undefined;
}

const EMPTY: PolicySnapshot = Object.freeze({ policies: Object.freeze([]), invalid: Object.freeze([]) });

/**
 * The policies in force, keyed by name (the resource is cluster-scoped). `upsert` and `remove` are fed by
 * the informer; `snapshot()` is what the engine reads on every admission (rebuilt only after a change).
 */
export class PolicyStore {
  readonly #entries = new Map<string, Entry>();
  /** Per policy name: the status its object last carried (what a status computed later compares with). */
  readonly #statuses = new Map<string, unknown>();
  /** Per policy name: what the last trust check of its content found. */
  readonly #trust = new Map<string, TrustState>();
  #snapshot: PolicySnapshot = EMPTY;
  #dirty = false;
  #compilations = 0;

  /**
   * Takes in an added or updated policy. Returns the status to write, when the one the object carries does
   * not say the current verdict for its generation.
   */
  upsert(obj: ModelPolicyObject, now: Date = new Date()): PolicyStatus | undefined {
    const name = obj.metadata?.name;
    if (typeof name !== 'string' || name === '') return undefined;
    const uid = obj.metadata?.uid ?? `local:${name}`;
    const generation = typeof obj.metadata?.generation === 'number' ? obj.metadata.generation : 1;
    let entry = this.#entries.get(name);
    const spec = canonicalJson(obj.spec ?? null);
    // A status write or a label change keeps the spec: nothing to compile again.
    if (entry === undefined || entry.uid !== uid || entry.generation !== generation || entry.spec !== spec) {
      entry = { ...evaluate(obj, name, uid, generation), spec };
      this.#compilations++;
      this.#entries.set(name, entry);
      this.#dirty = true;
    }
    this.#statuses.set(name, obj.status);
    return statusUpdate(obj.status, this.#verdict(name, entry), generation, now);
  }

  remove(obj: ModelPolicyObject): void {
    const name = obj.metadata?.name;
    if (typeof name !== 'string') return;
    this.#statuses.delete(name);
    this.#trust.delete(name);
    if (this.#entries.delete(name)) this.#dirty = true;
  }

  /**
   * Whether the policy is valid, needs trust material, and that of its current content was not checked
   * yet: its status waits for the check, so that it does not say Valid first and TRUST_UNAVAILABLE after.
   */
  trustPending(name: string): boolean {
    const c = this.#entries.get(name)?.compiled;
    if (c === undefined || c.spec.signatures === undefined) return false;
    return this.#trust.get(name)?.contentKey !== c.contentKey;
  }

  /**
   * Takes in what a trust check of a policy's content found (`problem`: why its material cannot be used,
   * or undefined). Returns the status to write, when the object's does not say it already; nothing when
   * the policy has changed or gone since.
   */
  trustChecked(
    name: string,
    contentKey: string,
    problem: string | undefined,
    now: Date = new Date(),
  ): PolicyStatus | undefined {
    const entry = this.#entries.get(name);
    if (entry?.compiled?.contentKey !== contentKey) return undefined;
    this.#trust.set(name, { contentKey, problem });
    return statusUpdate(this.#statuses.get(name), this.#verdict(name, entry), entry.generation, now);
  }

  #verdict(name: string, entry: Entry): PolicyVerdict {
    if (!entry.verdict.ok || entry.compiled === undefined) return entry.verdict;
    const t = this.#trust.get(name);
    if (t === undefined || t.contentKey !== entry.compiled.contentKey || t.problem === undefined) {
      return entry.verdict;
    }
    return { ok: true, trustUnavailable: t.problem };
  }

  snapshot(): PolicySnapshot {
    if (this.#dirty) {
      const names = [...this.#entries.keys()].sort();
      const policies: CompiledPolicy[] = [];
      const invalid: InvalidPolicy[] = [];
      // The API server gives every object its own uid; two that share one are refused, both of them, since
      // neither can be told to be the real one.
      const holders = new Map<string, number>();
      for (const e of this.#entries.values()) holders.set(e.uid, (holders.get(e.uid) ?? 0) + 1);
      for (const n of names) {
        const e = this.#entries.get(n)!;
        if ((holders.get(e.uid) ?? 0) > 1) {
          invalid.push(duplicateUid(n, e));
          continue;
        }
        if (e.compiled) policies.push(e.compiled);
        if (e.invalid) invalid.push(e.invalid);
      }
      this.#snapshot = Object.freeze({ policies: Object.freeze(policies), invalid: Object.freeze(invalid) });
      this.#dirty = false;
    }
    return this.#snapshot;
  }

  /** How many times a policy generation was validated and compiled (for tests and logs). */
  get compilations(): number {
    return this.#compilations;
  }
}

/** A policy refused because another one carries its uid: it governs what it would govern, and refuses it. */
function duplicateUid(name: string, e: Entry): InvalidPolicy {
  const governs = e.compiled ? (r: string) => e.compiled!.governs(r) : e.invalid?.governs;
  return Object.freeze({
    name,
    errors: Object.freeze([
      { path: 'metadata.uid', message: `another ModelPolicy has the same uid ${e.uid}` },
    ]),
    ...(governs ? { governs } : {}),
  });
}

function evaluate(
  obj: ModelPolicyObject,
  name: string,
  uid: string,
  generation: number,
): Omit<Entry, 'spec'> {
  // Only what validation reads: managedFields and status are not part of a policy.
  const doc = {
    apiVersion: obj.apiVersion ?? `${API_GROUP}/${API_VERSION}`,
    kind: obj.kind ?? KIND,
    metadata: { name, uid, generation },
    spec: obj.spec,
  };
  const v = validateModelPolicy(doc);
  if (v.ok) {
    try {
      return { uid, generation, verdict: { ok: true }, compiled: compilePolicy(v.policy) };
    } catch (err) {
      // validateModelPolicy checks what compilePolicy needs; this is a bug, and it must still fail closed.
      const errors = [{ path: 'spec', message: `cannot be compiled: ${(err as Error).message}` }];
      return invalidEntry(obj, name, uid, generation, errors);
    }
  }
  return invalidEntry(obj, name, uid, generation, v.errors);
}

function invalidEntry(
  obj: ModelPolicyObject,
  name: string,
  uid: string,
  generation: number,
  errors: readonly PolicyError[],
): Omit<Entry, 'spec'> {
  const governs = governingGlobs(obj.spec);
  const invalid: InvalidPolicy = Object.freeze({
    name,
    errors: Object.freeze([...errors]),
    ...(governs ? { governs } : {}),
  });
  return { uid, generation, verdict: { ok: false, errors }, invalid };
}

/** The model globs of an invalid policy that compile, as one matcher (undefined when none does). */
function governingGlobs(spec: unknown): ((repository: string) => boolean) | undefined {
  const models = (spec as { models?: unknown } | null | undefined)?.models;
  if (!Array.isArray(models)) return undefined;
  const matchers = models
    .filter((g): g is string => typeof g === 'string' && validateGlob(g) === undefined)
    .map((g) => compileGlob(g));
  if (matchers.length === 0) return undefined;
  return (repository) => matchers.some((m) => m(repository));
}

export interface StatusWriterOptions {
  readonly api: Pick<KubeApi, 'patchPolicyStatus'>;
  readonly logger: Logger;
  /** Attempts per status before giving up until the next change (default 5). */
  readonly maxAttempts?: number;
  /** First retry delay, doubled each time (default 500 ms). */
  readonly retryBaseMs?: number;
}

/**
 * Writes policy statuses one at a time, latest wins: a status queued for a policy replaces the one still
 * waiting for it, so a burst of updates costs one write. Failures are retried with backoff; a policy that
 * is gone is dropped. Never throws.
 */
export class StatusWriter {
  readonly #opts: StatusWriterOptions;
  readonly #pending = new Map<string, { status: PolicyStatus; attempt: number }>();
  #running = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #written = 0;

  constructor(opts: StatusWriterOptions) {
    this.#opts = opts;
  }

  enqueue(name: string, status: PolicyStatus): void {
    if (this.#closed) return;
    this.#pending.set(name, { status, attempt: 0 });
    this.#kick();
  }

  /** Statuses written so far (for tests and logs). */
  get written(): number {
    return this.#written;
  }

  /** Resolves when nothing is waiting (for tests). */
  async idle(): Promise<void> {
    while (this.#running || this.#pending.size > 0 || this.#timer !== undefined) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #kick(): void {
    if (this.#running || this.#timer !== undefined || this.#closed) return;
    this.#running = true;
    void this.#drain().finally(() => {
      this.#running = false;
    });
  }

  async #drain(): Promise<void> {
    const log = this.#opts.logger;
    const maxAttempts = this.#opts.maxAttempts ?? 5;
    const base = this.#opts.retryBaseMs ?? 500;
    let retryIn: number | undefined;
    while (this.#pending.size > 0 && !this.#closed) {
      const [name, item] = this.#pending.entries().next().value!;
      this.#pending.delete(name);
      let result: 'done' | 'gone' | 'conflict' | 'error';
      try {
        result = await this.#opts.api.patchPolicyStatus(name, item.status);
      } catch (err) {
        log.warn({ policy: name, err: { message: (err as Error).message } }, 'policy status write failed');
        result = 'error';
      }
      if (result === 'done') {
        this.#written++;
        log.debug({ policy: name }, 'policy status written');
        continue;
      }
      if (result === 'gone') continue;
      // Retry, unless a newer status was queued meanwhile (it replaces this one).
      if (!this.#pending.has(name) && item.attempt + 1 < maxAttempts) {
        this.#pending.set(name, { status: item.status, attempt: item.attempt + 1 });
        retryIn = Math.min(retryIn ?? Number.POSITIVE_INFINITY, base * 2 ** item.attempt);
        break;
      }
      if (!this.#pending.has(name)) {
        log.error({ policy: name }, 'policy status not written after retries; will retry on the next change');
      }
    }
    if (retryIn !== undefined && !this.#closed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, retryIn);
      this.#timer.unref();
    }
  }
}

/** Why a policy's trust material cannot be used (undefined: it can). `fresh`: read the material again first. */
export type TrustProbe = (
  policy: CompiledPolicy,
  fresh: boolean,
  signal: AbortSignal,
) => Promise<string | undefined>;

export interface TrustProberOptions {
  readonly probe: TrustProbe;
  /** Called with what a check found, for the policy content it checked. */
  readonly onResult: (policy: CompiledPolicy, problem: string | undefined) => void;
  readonly logger: Logger;
  /** How often a policy whose trust material is unavailable (or could not be checked) is checked again (default 5 s). */
  readonly retryMs?: number;
  /** Bound on one check (default 15 s). */
  readonly timeoutMs?: number;
}

/**
 * Checks the trust material of each policy in force as soon as it is seen, not at the first admission it
 * governs: a key Secret that is missing or unreadable then shows on the policy's status (TRUST_UNAVAILABLE)
 * at once. A policy whose material is unavailable is checked again every `retryMs`, reading it afresh, so
 * that its status turns back to Valid soon after the operator creates the Secret or grants the access.
 */
export class TrustProber {
  readonly #opts: TrustProberOptions;
  /** The policies in force that need trust material, by name. */
  #policies = new Map<string, CompiledPolicy>();
  /** Per name: the content last checked, and whether it needs checking again (unavailable, or the check failed). */
  readonly #checked = new Map<string, { contentKey: string; retry: boolean }>();
  readonly #inFlight = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: TrustProberOptions) {
    this.#opts = opts;
  }

  /** Takes the policies in force (call on every snapshot change); checks those not checked yet. */
  update(policies: readonly CompiledPolicy[]): void {
    const next = new Map<string, CompiledPolicy>();
    for (const p of policies) if (p.spec.signatures !== undefined) next.set(p.name, p);
    this.#policies = next;
    for (const name of [...this.#checked.keys()]) if (!next.has(name)) this.#checked.delete(name);
    for (const p of next.values()) {
      if (this.#checked.get(p.name)?.contentKey !== p.contentKey) void this.#check(p, false);
    }
  }

  /** Checks again the policies with this content (their material changed: the cache was dropped). */
  recheck(contentKey: string): void {
    for (const p of this.#policies.values()) if (p.contentKey === contentKey) void this.#check(p, false);
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => {
      for (const p of this.#policies.values()) {
        const c = this.#checked.get(p.name);
        if (c?.contentKey === p.contentKey && c.retry) void this.#check(p, true);
      }
    }, this.#opts.retryMs ?? 5_000);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves when no check is running (for tests). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await new Promise((r) => setTimeout(r, 5));
  }

  async #check(p: CompiledPolicy, fresh: boolean): Promise<void> {
    const key = `${p.name}\u0000${p.contentKey}`;
    if (this.#inFlight.has(key) || this.#stopped) return;
    this.#inFlight.add(key);
    this.#checked.set(p.name, { contentKey: p.contentKey, retry: false });
    try {
      const problem = await this.#opts.probe(p, fresh, AbortSignal.timeout(this.#opts.timeoutMs ?? 15_000));
      if (this.#stopped || this.#policies.get(p.name)?.contentKey !== p.contentKey) return;
      this.#checked.set(p.name, { contentKey: p.contentKey, retry: problem !== undefined });
      this.#opts.onResult(p, problem);
    } catch (err) {
      // Not a finding about the material (e.g. a time-out): say nothing new, and try again later.
      this.#checked.set(p.name, { contentKey: p.contentKey, retry: true });
      this.#opts.logger.warn(
        { policy: p.name, err: { message: (err as Error)?.message ?? String(err) } },
        'policy trust material could not be checked; will retry',
      );
    } finally {
      this.#inFlight.delete(key);
    }
  }
}
