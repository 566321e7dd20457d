/**
 * The load generator of validate-bench.ts, in its own process: autocannon against one URL, with each
 * response time kept at full precision (autocannon's own histogram rounds to whole milliseconds, too
 * coarse for a webhook that answers in one). Prints one JSON line: LoadResult.
 * Usage: node bench/load.ts URL BODY_FILE CONNECTIONS SECONDS [RATE]   (RATE: requests/s in all; 0 = as fast as possible)
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadResult {
  readonly seconds: number;
  readonly ok: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

const [url, bodyFile, connections, seconds, rate = '0'] = process.argv.slice(2);
if (!url || !bodyFile || !connections || !seconds) {
  console.error('usage: node bench/load.ts URL BODY_FILE CONNECTIONS SECONDS');
  process.exit(2);
}

// Preallocated: a webhook answering 20k/s for 60 s fits.
let times = new Float64Array(1 << 21);
let count = 0;
const instance = autocannon({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: readFileSync(bodyFile),
  connections: Number(connections),
  duration: Number(seconds),
  ...(Number(rate) > 0 ? { overallRate: Number(rate) } : {}),
});
instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
  if (statusCode < 200 || statusCode > 299) return;
  if (count === times.length) {
    const grown = new Float64Array(times.length * 2);
    grown.set(times);
    times = grown;
  }
  times[count++] = responseTime;
});
const result = await instance;
const sorted = times.subarray(0, count).sort();
const quantile = (q: number) =>
  count === 0 ? Number.NaN : (sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0);
const out: LoadResult = {
  seconds: result.duration,
  ok: count,
  rps: count / result.duration,
  p50: quantile(0.5),
  p99: quantile(0.99),
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
};
console.log(JSON.stringify(out));
