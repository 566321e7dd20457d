/** Why an entry left a cache before anyone deleted it. */
export type EvictionReason = 'capacity' | 'expired';

export interface TtlLruOptions {
  /** Entries kept at most; the least recently used one goes first. */
  readonly maxEntries: number;
  /** Default time to live of an entry, from when it was set. */
  readonly ttlMs: number;
  readonly now?: () => number;
  readonly onEvict?: (reason: EvictionReason) => void;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
  /** Read since it was last passed over for eviction. */
  used: boolean;
}

/**
 * A bounded map with least-recently-used eviction (the second-chance approximation) and a time to live
 * per entry. A Map keeps insertion order; a hit only marks its entry, so the hot path never reorders the
 * map. Making room walks from the oldest entry: a marked one is unmarked and moved to the end, the first
 * unmarked one goes. Expired entries are dropped when met (on get, or while making room): the size bound
 * holds whatever the clock does.
 */
export class TtlLru<K, V> {
  readonly #map = new Map<K, Entry<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #onEvict: ((reason: EvictionReason) => void) | undefined;

  constructor(opts: TtlLruOptions) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 0)
      throw new RangeError(`maxEntries must be a non-negative integer (got ${opts.maxEntries})`);
    if (!(opts.ttlMs >= 0)) throw new RangeError(`ttlMs must be non-negative (got ${opts.ttlMs})`);
    this.#maxEntries = opts.maxEntries;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
    this.#onEvict = opts.onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  get maxEntries(): number {
    return this.#maxEntries;
  }

  /** The value, if present and unexpired; a hit makes it the most recently used. */
  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#map.delete(key);
      this.#onEvict?.('expired');
      return undefined;
    }
    entry.used = true;
    return entry.value;
  }

  /** Stores a value for `ttlMs` (default: the cache's); a zero TTL or capacity stores nothing. */
  set(key: K, value: V, ttlMs: number = this.#ttlMs): void {
    this.#map.delete(key);
    if (ttlMs <= 0 || this.#maxEntries === 0) return;
    const now = this.#now();
    while (this.#map.size >= this.#maxEntries) this.#evictOne(now);
    this.#map.set(key, { value, expiresAt: now + ttlMs, used: false });
  }

  #evictOne(now: number): void {
    // Ends: each pass unmarks what it moves, so the second pass at the latest finds an unmarked entry.
    for (;;) {
      const oldest = this.#map.entries().next().value;
      if (oldest === undefined) return;
      const [key, entry] = oldest;
      this.#map.delete(key);
      if (entry.expiresAt <= now) {
        this.#onEvict?.('expired');
        return;
      }
      if (!entry.used) {
        this.#onEvict?.('capacity');
        return;
      }
      entry.used = false;
      this.#map.set(key, entry);
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
