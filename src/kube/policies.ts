/**
 * ModelPolicies as the cluster holds them, turned into the engine's PolicySnapshot. Each policy is
 * validated and compiled once per (uid, generation, spec content); one that fails validation is never applied in part:
 * it goes into `invalid`, with the model globs that compile, so that the engine refuses what it would
 * govern (POLICY_INVALID). Pure but for the status writer at the end, which talks to the API through
 * KubeApi.
 */
import type { Logger } from 'pino';
import type { InvalidPolicy, PolicySnapshot } from '../engine/engine.ts';
import { type CompiledPolicy, canonicalJson, compilePolicy } from '../policy/compile.ts';
import { API_GROUP, API_VERSION, KIND } from '../policy/schema.ts';
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

const EMPTY: PolicySnapshot = Object.freeze({ policies: Object.freeze([]), invalid: Object.freeze([]) });

/**
 * The policies in force, keyed by name (the resource is cluster-scoped). `upsert` and `remove` are fed by
 * the informer; `snapshot()` is what the engine reads on every admission (rebuilt only after a change).
 */
export class PolicyStore {
  readonly #entries = new Map<string, Entry>();
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
    return statusUpdate(obj.status, entry.verdict, generation, now);
  }

  remove(obj: ModelPolicyObject): void {
    const name = obj.metadata?.name;
    if (typeof name === 'string' && this.#entries.delete(name)) this.#dirty = true;
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
