/**
 * An open-loop load generator at a fixed rate, for latency at a given load: requests go out evenly spaced
 * (1/RATE apart) over a pool of keep-alive connections, whether or not earlier ones have been answered,
 * and each latency counts from when the request was due (no coordinated omission). autocannon's
 * `overallRate` fires all its connections on the same tick, so its latencies at a fixed rate measure
 * those bursts more than the server. Runs in its own process; prints one JSON line (PacedResult).
 *
 * Usage: node bench/paced-load.ts URL BODY_FILE RATE SECONDS [CONNECTIONS]
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

export interface PacedResult {
  readonly rate: number;
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const [url, bodyFile, rateArg, secondsArg, connectionsArg = '64'] = process.argv.slice(2);
if (!url || !bodyFile || !rateArg || !secondsArg) {
  console.error('usage: node bench/paced-load.ts URL BODY_FILE RATE SECONDS [CONNECTIONS]');
  process.exit(2);
}
const rate = Number(rateArg);
const total = Math.round(rate * Number(secondsArg));
const body = readFileSync(bodyFile);
// Loopback servers with throwaway self-signed certificates.
const agent = new Agent({ keepAlive: true, maxSockets: Number(connectionsArg), rejectUnauthorized: false });
const latencies = new Float64Array(total);
let ok = 0;
let non2xx = 0;
let errors = 0;

const send = (due: number) =>
  new Promise<void>((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) latencies[ok++] = performance.now() - due;
          else non2xx += 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors += 1;
      resolve();
    });
    req.end(body);
  });

const start = performance.now() + 50;
const pending: Promise<void>[] = [];
let next = 0;
await new Promise<void>((done) => {
  const tick = () => {
    const now = performance.now();
    while (next < total && start + (next * 1000) / rate <= now) {
      pending.push(send(start + (next * 1000) / rate));
      next += 1;
    }
    if (next >= total) {
      done();
      return;
    }
    const wait = start + (next * 1000) / rate - performance.now();
    setTimeout(tick, Math.max(0, wait - 0.5));
  };
  tick();
});
await Promise.all(pending);
agent.destroy();
const sorted = latencies.subarray(0, ok).sort();
const q = (p: number) => (ok === 0 ? Number.NaN : sorted[Math.min(ok - 1, Math.floor(p * ok))]!);
const out: PacedResult = { rate, sent: total, ok, non2xx, errors, p50: q(0.5), p99: q(0.99), max: q(1) };
console.log(JSON.stringify(out));
