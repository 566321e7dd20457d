/** A task refused because too many already wait for the same key. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  readonly key: string;
  constructor(key: string, waiting: number) {
    super(`${waiting} verifications already wait for ${key}`);
    this.key = key;
  }
}

export interface KeyedLimiterOptions {
  /** Tasks running at once per key. */
  readonly concurrency: number;
  /** Tasks waiting per key; one more is refused with QueueFullError at once. */
  readonly maxWaiting: number;
  /** Called whenever the number of running or waiting tasks changes. */
  readonly onChange?: (running: number, waiting: number) => void;
}

interface Waiter {
  readonly start: () => void;
  readonly fail: (reason: unknown) => void;
}

interface Lane {
  running: number;
  readonly waiting: Waiter[];
}

/**
 * Bounds the tasks running at once per key (a registry host): the rest wait in line, first come first
 * served, each under its own signal, and a line that is full refuses newcomers rather than grow without
 * bound while a registry is slow.
 */
export class KeyedLimiter {
  readonly #opts: KeyedLimiterOptions;
  readonly #lanes = new Map<string, Lane>();
  #running = 0;
  #waiting = 0;

  constructor(opts: KeyedLimiterOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer (got ${opts.concurrency})`);
    if (!Number.isInteger(opts.maxWaiting) || opts.maxWaiting < 0)
      throw new RangeError(`maxWaiting must be a non-negative integer (got ${opts.maxWaiting})`);
    this.#opts = opts;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** Runs `task` once a slot for `key` is free; rejects with the signal's reason if it aborts first. */
  async run<T>(key: string, task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.#acquire(key, signal);
    try {
      return await task();
    } finally {
      this.#release(key);
    }
  }

  #acquire(key: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { running: 0, waiting: [] };
      this.#lanes.set(key, lane);
    }
    if (lane.running < this.#opts.concurrency) {
      lane.running += 1;
      this.#running += 1;
      this.#changed();
      return Promise.resolve();
    }
    if (lane.waiting.length >= this.#opts.maxWaiting)
      return Promise.reject(new QueueFullError(key, lane.waiting.length));
    const line = lane;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = line.waiting.indexOf(waiter);
        if (i >= 0) {
          line.waiting.splice(i, 1);
          this.#waiting -= 1;
          this.#changed();
          this.#dropIfIdle(key, line);
        }
        reject(signal.reason);
      };
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: reject,
      };
      signal.addEventListener('abort', onAbort, { once: true });
      line.waiting.push(waiter);
      this.#waiting += 1;
      this.#changed();
    });
  }

  #release(key: string): void {
    const lane = this.#lanes.get(key);
    if (lane === undefined) return;
    const next = lane.waiting.shift();
    if (next !== undefined) {
      // The slot passes straight to the next in line: running stays the same.
      this.#waiting -= 1;
      this.#changed();
      next.start();
      return;
    }
    lane.running -= 1;
    this.#running -= 1;
    this.#changed();
    this.#dropIfIdle(key, lane);
  }

  #dropIfIdle(key: string, lane: Lane): void {
    if (lane.running === 0 && lane.waiting.length === 0) this.#lanes.delete(key);
  }

  #changed(): void {
    this.#opts.onChange?.(this.#running, this.#waiting);
  }
}
