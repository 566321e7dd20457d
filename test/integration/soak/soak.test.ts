// The soak, shortened for CI (45 s); `npm run soak` runs it for 10 minutes.
import { describe, expect, it } from 'vitest';
import { describeSoak, RSS_GROWTH_BOUND, runSoak } from './soak.ts';

describe('soak', () => {
  it('mixed admissions for 45 s, policy rewrites and a registry restart: every expectation met, memory bounded', async () => {
    const report = await runSoak({ durationMs: 45_000, rate: 60 });
    console.log(describeSoak(report));
    expect(report.failures).toEqual([]);
    expect(report.requests).toBeGreaterThan(2_000);
    expect(report.policyChanges).toBeGreaterThanOrEqual(5);
    expect(report.byKind.signed?.allowed).toBeGreaterThan(0);
    expect(report.rss.lastQuarterMedian - report.rss.warm).toBeLessThan(RSS_GROWTH_BOUND);
  }, 180_000);
});
