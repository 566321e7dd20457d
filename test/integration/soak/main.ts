/**
 * `npm run soak [-- --minutes 10] [--rate 80]`: the full-length soak (test/integration/soak/soak.ts).
 * Exits 1 when an expectation failed or memory grew past the bound.
 */
import { parseArgs } from 'node:util';
import { describeSoak, RSS_GROWTH_BOUND, runSoak } from './soak.ts';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '80' } },
});
const report = await runSoak({
  durationMs: Number(values.minutes) * 60_000,
  rate: Number(values.rate),
  log: (line) => console.log(line),
});
console.log(describeSoak(report));
const growth = report.rss.lastQuarterMedian - report.rss.warm;
console.log(
  `RSS growth after warm-up: ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${RSS_GROWTH_BOUND / 2 ** 20} MiB)`,
);
process.exitCode = report.failures.length === 0 && growth <= RSS_GROWTH_BOUND ? 0 : 1;
