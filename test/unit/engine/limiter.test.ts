import { describe, expect, it } from 'vitest';
import { KeyedLimiter, QueueFullError } from '../../../src/engine/limiter.ts';

const never = () => new AbortController().signal;
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('KeyedLimiter', () => {
  it('runs at most `concurrency` tasks per key, first come first served, others unaffected', async () => {
    const l = new KeyedLimiter({ concurrency: 2, maxWaiting: 10 });
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (i: number) => async () => {
      running += 1;
      peak = Math.max(peak, running);
      order.push(i);
      await tick();
      running -= 1;
      return i;
    };
    const other = l.run('b', task(100), never());
    const all = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => l.run('a', task(i), never())),
      other,
    ]);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 100]);
    expect(peak).toBe(3); // two for a, one for b
    expect(order.filter((i) => i < 100)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(l.running).toBe(0);
    expect(l.waiting).toBe(0);
  });

  it('refuses a task when the line for its key is full', async () => {
    const l = new KeyedLimiter({ concurrency: 1, maxWaiting: 1 });
    let release!: () => void;
    const held = l.run('a', () => new Promise<void>((r) => (release = r)), never());
    const queued = l.run('a', async () => 'queued', never());
    await expect(l.run('a', async () => 'refused', never())).rejects.toBeInstanceOf(QueueFullError);
    // Another key has its own line.
    expect(await l.run('b', async () => 'b', never())).toBe('b');
    release();
    await held;
    expect(await queued).toBe('queued');
  });

  it('lets a waiter leave when its signal aborts, without taking a slot', async () => {
    const seen: [number, number][] = [];
    const l = new KeyedLimiter({ concurrency: 1, maxWaiting: 5, onChange: (r, w) => seen.push([r, w]) });
    let release!: () => void;
    const held = l.run('a', () => new Promise<void>((r) => (release = r)), never());
    const c = new AbortController();
    let ran = false;
    const waiting = l.run(
      'a',
      async () => {
        ran = true;
      },
      c.signal,
    );
    expect(l.waiting).toBe(1);
    c.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    expect(l.waiting).toBe(0);
    release();
    await held;
    expect(ran).toBe(false);
    expect(l.running).toBe(0);
    expect(seen.at(-1)).toEqual([0, 0]);
  });

  it('releases the slot when a task throws', async () => {
    const l = new KeyedLimiter({ concurrency: 1, maxWaiting: 1 });
    await expect(
      l.run(
        'a',
        async () => {
          throw new Error('bad');
        },
        never(),
      ),
    ).rejects.toThrow('bad');
    expect(await l.run('a', async () => 1, never())).toBe(1);
  });

  it('refuses an already aborted signal and bad settings', async () => {
    const l = new KeyedLimiter({ concurrency: 1, maxWaiting: 0 });
    await expect(l.run('a', async () => 1, AbortSignal.abort(new Error('no')))).rejects.toThrow('no');
    expect(() => new KeyedLimiter({ concurrency: 0, maxWaiting: 1 })).toThrow(RangeError);
  });
});
