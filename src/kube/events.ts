/**
 * A Kubernetes Event (events.k8s.io/v1) for each refused object, and for each admitted one that a Warn or
 * Audit policy found fault with, in the object's namespace, so that `kubectl get events` and `kubectl
 * describe` show why a controller's pods never appeared, and what Warn and Audit policies would refuse.
 * Recording is fire and forget: the admission answer never waits for it. A bounded queue, per-object
 * deduplication (repeats within a window become a `series` count on the first Event) and a rate limit
 * keep a crash-looping controller from turning into an Event storm. Dry-run requests record nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdmissionRequest } from '../admission/review.ts';
import type { Decision, Finding } from '../engine/decision.ts';
import { compactFinding, cutTo, utf8Bytes } from '../engine/message.ts';
import type { PolicyMode } from '../policy/schema.ts';
import type { EventBody, KubeApi } from './api.ts';

export const REPORTING_CONTROLLER = 'modelgate.dev/admission-webhook';
export const DENIED_REASON = 'ModelRefused';
/** An admitted object with findings of a Warn policy (the client was shown warnings). */
export const WARNED_REASON = 'ModelWarned';
/** An admitted object with findings of an Audit policy: what Enforce would have refused. */
export const AUDITED_REASON = 'ModelAudited';
export const ACTION = 'Admit';
/** events.k8s.io/v1 limits `note` to 1 kB. */
export const MAX_NOTE_BYTES = 1024;

export interface EventSource {
  /** reportingInstance: the pod name of this replica (at most 128 characters). */
  readonly instance: string;
}

/**
 * The Event kinds, by the mode whose findings they report. A refusal is a Warning; so is a Warn finding,
 * which the client saw as one. An Audit finding changed nothing for the author: Normal, so that an
 * Audit rollout does not raise Warnings in every team's namespace.
 */
const KINDS: readonly { mode: PolicyMode; reason: string; type: 'Warning' | 'Normal' }[] = [
  { mode: 'Enforce', reason: DENIED_REASON, type: 'Warning' },
  { mode: 'Warn', reason: WARNED_REASON, type: 'Warning' },
  { mode: 'Audit', reason: AUDITED_REASON, type: 'Normal' },
];

/** One Event to record for an answered admission: its reason, type and note. */
export interface FindingEvent {
  readonly reason: string;
  readonly type: 'Warning' | 'Normal';
  readonly note: string;
  /** The findings it reports (empty for a refusal the server made without any). */
  readonly findings: readonly Finding[];
}

/**
 * What to record for an answered admission: for a refusal, one ModelRefused Event; for an admitted
 * object, a ModelWarned Event for Warn findings and a ModelAudited one for Audit findings. Nothing for a
 * dry run. Pure.
 */
export function findingEvents(req: AdmissionRequest, decision: Decision): FindingEvent[] {
  if (req.dryRun === true) return [];
  if (!decision.allowed) {
    const enforce = decision.findings.filter((f) => f.mode === 'Enforce');
    const note =
      enforce.length > 0
        ? eventNote(enforce)
        : cutTo(decision.message ?? 'refused', MAX_NOTE_BYTES, utf8Bytes);
    return [{ reason: DENIED_REASON, type: 'Warning', note, findings: enforce }];
  }
  const out: FindingEvent[] = [];
  for (const k of KINDS) {
    if (k.mode === 'Enforce') continue;
    const found = decision.findings.filter((f) => f.mode === k.mode);
    if (found.length > 0)
      out.push({ reason: k.reason, type: k.type, note: eventNote(found), findings: found });
  }
  return out;
}

/**
 * An Event note: one line per finding, each `CODE reference (modelgate policy P, field): message. Fix:
 * fix`, so that `kubectl get events` shows the code and the reference first. Within 1 kB: the first
 * finding keeps its fix whatever it has to give up; further ones are listed while they fit, then counted.
 */
export function eventNote(findings: readonly Finding[]): string {
  const [first, ...rest] = findings;
  if (first === undefined) return '';
  // Room kept for the closing count whenever a finding follows.
  const reserve = rest.length > 0 ? 40 : 0;
  let note = compactFinding(first, MAX_NOTE_BYTES - reserve, utf8Bytes);
  let shown = 1;
  for (const f of rest) {
    const line = `\n${compactFinding(f, MAX_NOTE_BYTES, utf8Bytes)}`;
    const left = findings.length - shown - 1;
    if (utf8Bytes(note) + utf8Bytes(line) + (left > 0 ? reserve : 0) > MAX_NOTE_BYTES) break;
    note += line;
    shown++;
  }
  const hidden = findings.length - shown;
  if (hidden > 0) note += `\n(+${hidden} more finding${hidden === 1 ? '' : 's'})`;
  return note;
}

/** The identity of an Event for deduplication: same object, same reason, same findings. */
export function eventKey(req: AdmissionRequest, event: FindingEvent): string {
  // Findings, not the note: a refusal served from the negative cache says until when, and that time
  // changes with every expiry without making it another refusal.
  const about =
    event.findings.length > 0
      ? event.findings.map((f) => [f.code, f.reference, f.fieldPath, f.policy ?? ''].join('\u0001'))
      : [event.note];
  const digest = createHash('sha256').update(about.join('\u0002')).digest('hex').slice(0, 16);
  const codes = [...new Set(event.findings.map((f) => f.code))].sort().join(',');
  return [
    req.namespace ?? '',
    req.kind.group,
    req.kind.kind,
    req.subResource ?? '',
    objectName(req),
    event.reason,
    codes,
    digest,
  ].join('\u0000');
}

/**
 * The Event body for one finding Event, or undefined when there is no namespace to record it in. Pure
 * (the name suffix and the time are passed in).
 */
export function eventBody(
  req: AdmissionRequest,
  event: FindingEvent,
  source: EventSource,
  now: Date,
  suffix: string,
): EventBody | undefined {
  const namespace = req.namespace;
  if (namespace === undefined || namespace === '') return undefined;
  const name = objectName(req);
  const uid = objectUid(req);
  const kind = req.kind.kind;
  const apiVersion = req.kind.group ? `${req.kind.group}/${req.kind.version}` : req.kind.version;
  return {
    metadata: { name: eventName(name || kind.toLowerCase(), suffix), namespace },
    eventTime: now,
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: source.instance.slice(0, 128),
    action: ACTION,
    reason: event.reason,
    type: event.type,
    note: truncateBytes(event.note, MAX_NOTE_BYTES),
    regarding: {
      apiVersion,
      kind,
      namespace,
      name,
      ...(uid !== undefined ? { uid } : {}),
    },
  };
}

/**
 * The Event for a refused admission, or undefined when none is recorded: allowed, dry run, or no namespace
 * to record it in. Pure (the name suffix and the time are passed in).
 */
export function denialEvent(
  req: AdmissionRequest,
  decision: Decision,
  source: EventSource,
  now: Date,
  suffix: string,
): EventBody | undefined {
  if (decision.allowed) return undefined;
  const event = findingEvents(req, decision).find((e) => e.reason === DENIED_REASON);
  return event === undefined ? undefined : eventBody(req, event, source, now, suffix);
}

function objectName(req: AdmissionRequest): string {
  if (req.name) return req.name;
  const meta = (req.object as { metadata?: { name?: unknown; generateName?: unknown } } | null)?.metadata;
  if (typeof meta?.name === 'string' && meta.name !== '') return meta.name;
  if (typeof meta?.generateName === 'string') return meta.generateName;
  return '';
}

function objectUid(req: AdmissionRequest): string | undefined {
  const uid = (req.object as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
  return typeof uid === 'string' && uid !== '' ? uid : undefined;
}

/** `<object>.<suffix>` as kubectl names events, cut to a valid DNS subdomain. */
function eventName(objectName: string, suffix: string): string {
  const base =
    objectName
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 200)
      .replace(/[^a-z0-9]+$/, '') || 'object';
  return `${base}.${suffix}`;
}

/** Cuts UTF-8 text to at most `max` bytes, on a character boundary, marking the cut. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const mark = '…';
  const budget = max - Buffer.byteLength(mark, 'utf8');
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b > budget) break;
    out += ch;
    bytes += b;
  }
  return out + mark;
}

export interface EventRecorderOptions {
  readonly api: Pick<KubeApi, 'createEvent' | 'patchEventSeries'>;
  readonly source: EventSource;
  readonly logger: Logger;
  /** Writes waiting at most; more are dropped (default 256). */
  readonly queueSize?: number;
  /** Writes per second, sustained (default 5) and in a burst (default 20). */
  readonly ratePerSecond?: number;
  readonly burst?: number;
  /** Repeats of one refusal within this window update the first Event's series (default 10 min). */
  readonly dedupeWindowMs?: number;
  /** A series is patched at most this often per Event (default 30 s). */
  readonly seriesIntervalMs?: number;
  /** Refusals remembered for deduplication (default 4096). */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface Seen {
  readonly namespace: string;
  readonly name: string;
  readonly firstAt: number;
  /** Set once the Event exists. */
  created: boolean;
  count: number;
  patchedCount: number;
  lastObserved: number;
  patchQueued: boolean;
  lastPatchAt: number;
}

type Job = { kind: 'create'; key: string; event: EventBody } | { kind: 'series'; key: string };

/** Records refusals and Warn/Audit findings as Events in the background. `record` never throws and never waits. */
export class EventRecorder {
  readonly #opts: EventRecorderOptions;
  readonly #now: () => number;
  readonly #queue: Job[] = [];
  readonly #seen = new Map<string, Seen>();
  #tokens: number;
  #tokensAt: number;
  #running = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;
  #written = 0;

  constructor(opts: EventRecorderOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#tokens = opts.burst ?? 20;
    this.#tokensAt = this.#now();
  }

  /** Takes an answered admission; queues an Event for a refusal and for Warn or Audit findings. */
  record(req: AdmissionRequest, decision: Decision): void {
    try {
      this.#record(req, decision);
    } catch (err) {
      this.#opts.logger.warn({ err: { message: (err as Error).message } }, 'event not recorded');
    }
  }

  /** Events dropped because the queue was full (for tests and logs). */
  get dropped(): number {
    return this.#dropped;
  }

  /** API writes made (creates and series patches). */
  get written(): number {
    return this.#written;
  }

  /** Resolves when the queue is empty (for tests). */
  async idle(): Promise<void> {
    while (this.#running || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #record(req: AdmissionRequest, decision: Decision): void {
    if (this.#closed) return;
    for (const event of findingEvents(req, decision)) this.#recordOne(req, event);
  }

  #recordOne(req: AdmissionRequest, found: FindingEvent): void {
    const now = this.#now();
    const key = eventKey(req, found);
    const window = this.#opts.dedupeWindowMs ?? 600_000;
    const seen = this.#seen.get(key);
    if (seen !== undefined && now - seen.firstAt < window) {
      seen.count++;
      seen.lastObserved = now;
      if (seen.created && !seen.patchQueued) {
        seen.patchQueued = true;
        this.#enqueue({ kind: 'series', key });
      }
      return;
    }
    const event = eventBody(req, found, this.#opts.source, new Date(now), suffix(now));
    if (event === undefined) return;
    // Remembered before it is queued: the queue may start writing it at once.
    this.#seen.delete(key);
    this.#seen.set(key, {
      namespace: event.metadata.namespace,
      name: event.metadata.name,
      firstAt: now,
      created: false,
      count: 1,
      patchedCount: 1,
      lastObserved: now,
      patchQueued: false,
      lastPatchAt: 0,
    });
    if (!this.#enqueue({ kind: 'create', key, event })) {
      this.#seen.delete(key);
      return;
    }
    const maxKeys = this.#opts.maxKeys ?? 4096;
    while (this.#seen.size > maxKeys) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
  }

  #enqueue(job: Job): boolean {
    if (this.#queue.length >= (this.#opts.queueSize ?? 256)) {
      this.#dropped++;
      if (this.#dropped === 1 || this.#dropped % 100 === 0) {
        this.#opts.logger.warn({ dropped: this.#dropped }, 'event queue full: admission events dropped');
      }
      return false;
    }
    this.#queue.push(job);
    this.#kick();
    return true;
  }

  #kick(): void {
    if (this.#running || this.#closed || this.#timer !== undefined) return;
    this.#running = true;
    void this.#drain().finally(() => {
      this.#running = false;
    });
  }

  /** Milliseconds to wait for a token (0: one was taken). */
  #take(): number {
    const rate = this.#opts.ratePerSecond ?? 5;
    const burst = this.#opts.burst ?? 20;
    const now = this.#now();
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#tokensAt) / 1000) * rate);
    this.#tokensAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / rate) * 1000);
  }

  #later(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, ms);
    this.#timer.unref();
  }

  async #drain(): Promise<void> {
    const interval = this.#opts.seriesIntervalMs ?? 30_000;
    while (this.#queue.length > 0 && !this.#closed) {
      const job = this.#queue[0]!;
      const seen = this.#seen.get(job.key);
      if (job.kind === 'series') {
        if (seen === undefined) {
          this.#queue.shift();
          continue;
        }
        const wait = seen.lastPatchAt + interval - this.#now();
        if (wait > 0) {
          // Not yet: move it behind the others and come back when it is due.
          this.#queue.shift();
          this.#queue.push(job);
          if (this.#queue.every((j) => j.kind === 'series')) {
            this.#later(Math.min(wait, interval));
            return;
          }
          continue;
        }
      }
      const wait = this.#take();
      if (wait > 0) {
        this.#later(wait);
        return;
      }
      this.#queue.shift();
      await this.#run(job, seen);
    }
  }

  async #run(job: Job, seen: Seen | undefined): Promise<void> {
    const log = this.#opts.logger;
    try {
      if (job.kind === 'create') {
        const r = await this.#opts.api.createEvent(job.event);
        this.#written++;
        if (r === 'done' && seen !== undefined) {
          seen.created = true;
          seen.lastPatchAt = this.#now();
          if (seen.count > seen.patchedCount && !seen.patchQueued) {
            seen.patchQueued = true;
            this.#queue.push({ kind: 'series', key: job.key });
          }
        } else if (r !== 'done') {
          this.#seen.delete(job.key);
        }
        return;
      }
      if (seen === undefined) return;
      seen.patchQueued = false;
      const count = seen.count;
      if (count <= seen.patchedCount) return;
      const r = await this.#opts.api.patchEventSeries(seen.namespace, seen.name, {
        count,
        lastObservedTime: new Date(seen.lastObserved),
      });
      this.#written++;
      seen.lastPatchAt = this.#now();
      if (r === 'done') seen.patchedCount = count;
      // The Event expired or was deleted: the next refusal starts a new one.
      else this.#seen.delete(job.key);
    } catch (err) {
      log.warn({ err: { message: (err as Error).message }, job: job.kind }, 'admission event not written');
      if (job.kind === 'create') this.#seen.delete(job.key);
    }
  }
}

function suffix(now: number): string {
  // kubectl uses the time in hex; a random tail keeps two replicas from colliding on the same object.
  return `${now.toString(16)}${randomBytes(2).toString('hex')}`;
}
