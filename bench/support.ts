/**
 * Shared pieces of the benchmarks: round-trip accounting from the registry client's onRequest events,
 * statistics, tables, and compiling a policy object. The machine is shared and noisy: every benchmark
 * reports ratios against a baseline measured in the same run.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import type { RequestEvent } from '../src/oci/transport.ts';
import { type CompiledPolicy, compilePolicy } from '../src/policy/compile.ts';
import { validateModelPolicy } from '../src/policy/validate.ts';

/** One registry round trip with its start and end on the performance clock. */
export interface TimedRequest extends RequestEvent {
  readonly start: number;
  readonly end: number;
}

/** An onRequest hook that records each round trip with its start and end. */
export function requestRecorder(): { readonly requests: TimedRequest[]; onRequest(e: RequestEvent): void } {
  const requests: TimedRequest[] = [];
  return {
    requests,
    onRequest(e) {
      const end = performance.now();
      requests.push({ ...e, start: end - e.ms, end });
    },
  };
}

/**
 * Sequential round trips on the critical path: the longest chain of requests each of which started only
 * after the previous one ended. Requests that overlap count once.
 */
export function criticalPath(requests: readonly TimedRequest[]): { depth: number; chain: TimedRequest[] } {
  const sorted = [...requests].sort((a, b) => a.start - b.start);
  const depth: number[] = [];
  const prev: number[] = [];
  // A request that starts within this much of another's end is taken to follow it (timer resolution).
  const EPS = 0.05;
  sorted.forEach((r, i) => {
    depth[i] = 1;
    prev[i] = -1;
    for (let j = 0; j < i; j++) {
      if (sorted[j]!.end <= r.start + EPS && depth[j]! + 1 > depth[i]!) {
        depth[i] = depth[j]! + 1;
        prev[i] = j;
      }
    }
  });
  let best = -1;
  depth.forEach((d, i) => {
    if (best < 0 || d > depth[best]!) best = i;
  });
  const chain: TimedRequest[] = [];
  for (let i = best; i >= 0; i = prev[i]!) chain.unshift(sorted[i]!);
  return { depth: best < 0 ? 0 : depth[best]!, chain };
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Prints rows as an aligned table, the first row a header. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  for (const [n, row] of rows.entries()) {
    console.log(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    );
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** One line on the machine and its load, printed before the figures. */
export function machineLine(): string {
  const cpu = cpus();
  return (
    `machine: ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${process.version}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`
  );
}

export function compile(policy: unknown): CompiledPolicy {
  const v = validateModelPolicy(policy);
  if (!v.ok) throw new Error(`bench policy invalid: ${JSON.stringify(v.errors)}`);
  return compilePolicy(v.policy);
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Reads `--name value` flags as positive integers with defaults. */
export function intFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} takes a whole number`);
  return n;
}
