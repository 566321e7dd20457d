import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EvictionReason, TtlLru } from '../../../src/engine/lru.ts';

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TtlLru', () => {
  it('evicts the least recently used entry when full, and counts it as capacity', () => {
    const evicted: EvictionReason[] = [];
    const c = new TtlLru<string, number>({ maxEntries: 2, ttlMs: 1_000, onEvict: (r) => evicted.push(r) });
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
    expect(evicted).toEqual(['capacity']);
  });

  it('expires entries after their TTL, and a per-entry TTL overrides the default', () => {
    const t = clock();
    const evicted: EvictionReason[] = [];
    const c = new TtlLru<string, number>({
      maxEntries: 10,
      ttlMs: 100,
      now: t.now,
      onEvict: (r) => evicted.push(r),
    });
    c.set('short', 1, 10);
    c.set('default', 2);
    t.advance(10);
    expect(c.get('short')).toBeUndefined();
    expect(c.get('default')).toBe(2);
    t.advance(90);
    expect(c.get('default')).toBeUndefined();
    expect(c.size).toBe(0);
    expect(evicted).toEqual(['expired', 'expired']);
  });

  it('reports an expired head dropped to make room as expired', () => {
    const t = clock();
    const evicted: EvictionReason[] = [];
    const c = new TtlLru<string, number>({
      maxEntries: 1,
      ttlMs: 5,
      now: t.now,
      onEvict: (r) => evicted.push(r),
    });
    c.set('a', 1);
    t.advance(5);
    c.set('b', 2);
    expect(evicted).toEqual(['expired']);
  });

  it('replaces a value without growing, and stores nothing with a zero TTL or capacity', () => {
    const c = new TtlLru<string, number>({ maxEntries: 2, ttlMs: 100 });
    c.set('a', 1);
    c.set('a', 2);
    expect(c.size).toBe(1);
    expect(c.get('a')).toBe(2);
    c.set('a', 3, 0);
    expect(c.get('a')).toBeUndefined();
    const none = new TtlLru<string, number>({ maxEntries: 0, ttlMs: 100 });
    none.set('a', 1);
    expect(none.size).toBe(0);
  });

  it('never holds more than maxEntries, whatever the operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.constantFrom('get', 'set', 'delete', 'tick'), fc.integer({ min: 0, max: 15 })), {
          maxLength: 200,
        }),
        (max, ops) => {
          const t = clock();
          const c = new TtlLru<number, number>({ maxEntries: max, ttlMs: 20, now: t.now });
          const model = new Map<number, { v: number; at: number }>();
          for (const [op, k] of ops) {
            if (op === 'set') {
              c.set(k, k);
              model.set(k, { v: k, at: t.now() });
            } else if (op === 'get') {
              const got = c.get(k);
              // Whatever it returns is what was set, and never an expired value.
              if (got !== undefined) {
                expect(got).toBe(k);
                expect(t.now() - model.get(k)!.at).toBeLessThan(20);
              }
            } else if (op === 'delete') {
              c.delete(k);
              model.delete(k);
            } else {
              t.advance(k);
            }
            expect(c.size).toBeLessThanOrEqual(max);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a negative size or TTL', () => {
    expect(() => new TtlLru({ maxEntries: -1, ttlMs: 1 })).toThrow(RangeError);
    expect(() => new TtlLru({ maxEntries: 1, ttlMs: Number.NaN })).toThrow(RangeError);
  });
});
