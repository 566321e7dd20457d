/** What shared work does once every caller waiting for it has left. */
export type WhenAbandoned =
  /** Abort it: nobody needs the result. */
  | 'abort'
  /** Let it finish (under its own budget), so that what it learns can still be cached. */
  | 'finish';

interface Shared<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
}

/**
 * Runs one piece of work per key at a time: a caller asking for a key that is already running waits for
 * the same result instead of starting it again. The work gets a signal of its own, never a caller's: each
 * caller waits under its own signal and, when that aborts, leaves alone (rejected with its signal's
 * reason) while the others keep waiting.
 */
export class Coalescer<T> {
  readonly #running = new Map<string, Shared<T>>();
  readonly #whenAbandoned: WhenAbandoned;

  constructor(opts: { whenAbandoned: WhenAbandoned }) {
    this.#whenAbandoned = opts.whenAbandoned;
  }

  /** Keys with work running. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * The result of `work` for `key`, started now unless already running. `joined` is called when the
   * caller joins work someone else started.
   */
  run(
    key: string,
    work: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
    joined?: () => void,
  ): Promise<T> {
    let shared = this.#running.get(key);
    if (shared === undefined) {
      const controller = new AbortController();
      const promise = new Promise<T>((resolve) => resolve(work(controller.signal)));
      const entry: Shared<T> = { promise, controller, waiters: 0 };
      const forget = () => {
        if (this.#running.get(key) === entry) this.#running.delete(key);
      };
      promise.then(forget, forget);
      this.#running.set(key, entry);
      shared = entry;
    } else {
      joined?.();
    }
    return this.#wait(key, shared, signal);
  }

  #wait(key: string, shared: Shared<T>, signal: AbortSignal): Promise<T> {
    shared.waiters += 1;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = () => {
        if (settled) return;
        settled = true;
        shared.waiters -= 1;
        if (shared.waiters === 0 && this.#whenAbandoned === 'abort') {
          // A caller arriving after this starts afresh rather than inherit an aborted run.
          if (this.#running.get(key) === shared) this.#running.delete(key);
          shared.controller.abort(signal.reason);
        }
        reject(signal.reason);
      };
      if (signal.aborted) {
        leave();
        return;
      }
      signal.addEventListener('abort', leave, { once: true });
      shared.promise.then(
        (value) => {
          signal.removeEventListener('abort', leave);
          if (settled) return;
          settled = true;
          shared.waiters -= 1;
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', leave);
          if (settled) return;
          settled = true;
          shared.waiters -= 1;
          reject(err);
        },
      );
    });
  }
}
