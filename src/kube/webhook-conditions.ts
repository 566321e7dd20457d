/**
 * Keeps modelgate's matchCondition (src/kube/match-conditions.ts) in every webhook of its
 * ValidatingWebhookConfiguration in step with the live ModelPolicies, so that the API server calls
 * modelgate only for objects that can name a model. Until the policies are listed the condition sends
 * every image (as the chart registers it), and it goes back to that when asked to forget them; once they
 * are, it sends only images their model globs could cover. Other conditions in the webhooks are kept.
 *
 * Each replica writes the same condition for the same policies, with optimistic concurrency (a test of
 * the resourceVersion), so replicas converge instead of fighting; a write that loses is read again. The
 * configuration is looked at again periodically, so that an edit (a `helm upgrade` that resets it) is
 * repaired. A failure never touches admission: it is logged and retried with backoff.
 */
import type { Logger } from 'pino';
import type { KubeApi, MatchCondition } from './api.ts';
import {
  ALL_IMAGES,
  describeImageTest,
  type ImageTest,
  imageTest,
  mayNameModelCondition,
  sameConditions,
  withCondition,
} from './match-conditions.ts';

export interface WebhookConditionsOptions {
  readonly api: Pick<KubeApi, 'readWebhookConfiguration' | 'setWebhookMatchConditions'>;
  /** The ValidatingWebhookConfiguration whose webhooks carry the condition. */
  readonly webhookConfiguration: string;
  /** The model globs of every ModelPolicy, or undefined while they are not listed (then: every image). */
  readonly globs: () => Iterable<string> | undefined;
  readonly logger: Logger;
  /** How long a burst of policy changes is gathered into one write (default 100 ms). */
  readonly debounceMs?: number;
  /** How often the configuration is checked again without a change (default 60 s, with jitter). */
  readonly intervalMs?: number;
  /** First retry delay after a failure, doubled up to 30 s (default 1 s). */
  readonly retryBaseMs?: number;
}

export type ConditionsOutcome = 'unchanged' | 'written' | 'not-found';

const MAX_CONFLICTS = 5;
const MAX_RETRY_MS = 30_000;

export class WebhookConditions {
  readonly #opts: WebhookConditionsOptions;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (ms since the epoch). */
  #due = 0;
  #running: Promise<ConditionsOutcome> | undefined;
  #again = false;
  #failures = 0;
  #stopped = true;
  #lastLogged: string | undefined;
  #written = 0;

  constructor(opts: WebhookConditionsOptions) {
    this.#opts = opts;
  }

  /** Writes the condition now (every image, before the policies are listed) and keeps it in step. */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** The policies changed: write the condition again after the debounce delay. */
  changed(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#schedule(this.#opts.debounceMs ?? 100);
  }

  /** Stops writing. The condition stays as it is: while no replica answers, it keeps the blast radius small. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Writes done so far (for tests and logs). */
  get written(): number {
    return this.#written;
  }

  /** The image test for the policies as they are now. */
  wanted(): ImageTest {
    const globs = this.#opts.globs();
    return globs === undefined ? ALL_IMAGES : imageTest(globs);
  }

  /** One pass: read the configuration, write the condition where it differs. Concurrent calls share it. */
  reconcile(): Promise<ConditionsOutcome> {
    this.#running ??= this.#reconcile().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    // A pass already due sooner serves this change too: a stream of changes cannot postpone it.
    if (this.#timer !== undefined && this.#due <= Date.now() + delayMs) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#due = Date.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    const log = this.#opts.logger;
    let next: number;
    try {
      do {
        this.#again = false;
        await this.reconcile();
      } while (this.#again && !this.#stopped);
      this.#failures = 0;
      const base = this.#opts.intervalMs ?? 60_000;
      next = base * (0.8 + Math.random() * 0.4);
    } catch (err) {
      this.#failures += 1;
      next = Math.min((this.#opts.retryBaseMs ?? 1_000) * 2 ** (this.#failures - 1), MAX_RETRY_MS);
      log.warn(
        {
          err: { message: (err as Error).message },
          retryInMs: next,
          webhookConfiguration: this.#opts.webhookConfiguration,
        },
        'cannot write the webhook matchConditions; the API server keeps sending what they said before',
      );
    }
    this.#schedule(next);
  }

  async #reconcile(): Promise<ConditionsOutcome> {
    const o = this.#opts;
    const test = this.wanted();
    const condition = mayNameModelCondition(test);
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const view = await o.api.readWebhookConfiguration(o.webhookConfiguration);
      if (view === undefined) {
        this.#logOnce('not-found', () =>
          o.logger.warn(
            { webhookConfiguration: o.webhookConfiguration },
            'ValidatingWebhookConfiguration not found: its matchConditions cannot be kept in step',
          ),
        );
        return 'not-found';
      }
      const stale: { index: number; name: string; matchConditions: MatchCondition[] }[] = [];
      view.webhooks.forEach((w, index) => {
        const next = withCondition(w.matchConditions, condition);
        if (!sameConditions(w.matchConditions, next))
          stale.push({ index, name: w.name, matchConditions: next });
      });
      if (stale.length === 0) {
        this.#logOnce(condition.expression, () =>
          o.logger.info(
            { webhookConfiguration: o.webhookConfiguration, images: describeImageTest(test) },
            'webhook matchConditions in step',
          ),
        );
        return 'unchanged';
      }
      const r = await o.api.setWebhookMatchConditions(o.webhookConfiguration, view.resourceVersion, stale);
      if (r === 'conflict') {
        o.logger.debug({ attempt }, 'webhook configuration changed under us: reading it again');
        continue;
      }
      if (r === 'gone') return 'not-found';
      this.#written += 1;
      this.#lastLogged = condition.expression;
      o.logger.info(
        {
          webhookConfiguration: o.webhookConfiguration,
          webhooks: stale.map((w) => w.name),
          images: describeImageTest(test),
        },
        'webhook matchConditions set',
      );
      return 'written';
    }
    throw new Error(`gave up after ${MAX_CONFLICTS} conflicting writes to the webhook configuration`);
  }

  /** Logs a steady state once, not on every periodic pass. */
  #logOnce(key: string, log: () => void): void {
    if (this.#lastLogged === key) return;
    this.#lastLogged = key;
    log();
  }
}
