import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../src/engine/coalesce.ts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const never = () => new AbortController().signal;

describe('Coalescer', () => {
  it('runs concurrent work for one key once and gives every caller its result', async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'abort' });
    const gate = deferred<number>();
    let runs = 0;
    let joins = 0;
    const work = () => {
      runs += 1;
      return gate.promise;
    };
    const callers = Array.from({ length: 5 }, () => c.run('k', work, never(), () => joins++));
    expect(c.size).toBe(1);
    gate.resolve(42);
    expect(await Promise.all(callers)).toEqual([42, 42, 42, 42, 42]);
    expect(runs).toBe(1);
    expect(joins).toBe(4);
    expect(c.size).toBe(0);
  });

  it('starts again once the work for a key has finished, and keeps keys apart', async () => {
    const c = new Coalescer<string>({ whenAbandoned: 'abort' });
    let runs = 0;
    const work = async () => `run ${++runs}`;
    expect(await c.run('a', work, never())).toBe('run 1');
    expect(await c.run('a', work, never())).toBe('run 2');
    const [x, y] = await Promise.all([c.run('x', work, never()), c.run('y', work, never())]);
    expect(new Set([x, y]).size).toBe(2);
  });

  it('shares a failure with every caller, and forgets it', async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'abort' });
    const gate = deferred<number>();
    const a = c.run('k', () => gate.promise, never());
    const b = c.run('k', () => gate.promise, never());
    gate.reject(new Error('registry down'));
    await expect(a).rejects.toThrow('registry down');
    await expect(b).rejects.toThrow('registry down');
    expect(await c.run('k', async () => 7, never())).toBe(7);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'abort' });
    await expect(
      c.run(
        'k',
        () => {
          throw new Error('boom');
        },
        never(),
      ),
    ).rejects.toThrow('boom');
    expect(c.size).toBe(0);
  });

  it('lets a caller whose signal aborts leave without cancelling the work for the others', async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'abort' });
    const gate = deferred<number>();
    let workSignal: AbortSignal | undefined;
    const work = (s: AbortSignal) => {
      workSignal = s;
      return gate.promise;
    };
    const first = new AbortController();
    const a = c.run('k', work, first.signal);
    const b = c.run('k', work, never());
    first.abort(new Error('first caller deadline'));
    await expect(a).rejects.toThrow('first caller deadline');
    expect(workSignal?.aborted).toBe(false);
    gate.resolve(1);
    expect(await b).toBe(1);
  });

  it("aborts abandoned work with 'abort', and a newcomer starts afresh", async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'abort' });
    const signals: AbortSignal[] = [];
    const work = (s: AbortSignal) => {
      signals.push(s);
      return new Promise<number>((resolve, reject) => {
        s.addEventListener('abort', () => reject(s.reason));
        setTimeout(() => resolve(signals.length), 5);
      });
    };
    const only = new AbortController();
    const a = c.run('k', work, only.signal);
    only.abort(new Error('gone'));
    await expect(a).rejects.toThrow('gone');
    expect(signals[0]?.aborted).toBe(true);
    expect(c.size).toBe(0);
    expect(await c.run('k', work, never())).toBe(2);
  });

  it("lets abandoned work finish with 'finish'", async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'finish' });
    const gate = deferred<number>();
    let finished = false;
    let workSignal: AbortSignal | undefined;
    const only = new AbortController();
    const a = c.run(
      'k',
      async (s) => {
        workSignal = s;
        const v = await gate.promise;
        finished = true;
        return v;
      },
      only.signal,
    );
    only.abort(new Error('gone'));
    await expect(a).rejects.toThrow('gone');
    expect(workSignal?.aborted).toBe(false);
    // A caller arriving while it still runs joins it.
    const late = c.run('k', async () => -1, never());
    gate.resolve(5);
    expect(await late).toBe(5);
    expect(finished).toBe(true);
  });

  it('refuses at once a caller whose signal is already aborted', async () => {
    const c = new Coalescer<number>({ whenAbandoned: 'abort' });
    const aborted = AbortSignal.abort(new Error('too late'));
    let runs = 0;
    await expect(
      c.run(
        'k',
        async (s) => {
          runs += 1;
          expect(s.aborted).toBe(true);
          return 1;
        },
        aborted,
      ),
    ).rejects.toThrow('too late');
    expect(c.size).toBe(0);
    expect(runs).toBe(1);
  });
});
