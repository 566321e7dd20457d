import { describe, expect, it } from 'vitest';
import { ConfigError, serveConfig, VERIFICATION_DEFAULTS } from '../../src/config.ts';

describe('serve: cache and limit flags', () => {
  it('defaults, frozen', () => {
    const c = serveConfig({ policyFile: ['p'] }, {});
    expect(c.verification).toEqual(VERIFICATION_DEFAULTS);
    expect(c.verification).toMatchObject({
      cacheMaxEntries: 10_000,
      cacheTtlMs: 300_000,
      negativeCacheTtlMs: 10_000,
      tagCacheTtlMs: 30_000,
      registryConcurrency: 8,
    });
    expect(Object.isFrozen(c.verification)).toBe(true);
  });

  it('reads each flag, and 0 turns a cache off', () => {
    const c = serveConfig(
      {
        policyFile: ['p'],
        cacheMaxEntries: '50',
        cacheTtlMs: '0',
        negativeCacheMaxEntries: '5',
        negativeCacheTtlMs: '2000',
        tagCacheTtlMs: '1000',
        registryConcurrency: '2',
        formatWholeBlobBytes: '0',
        formatReadBudgetBytes: '1048576',
      },
      {},
    );
    expect(c.verification).toEqual({
      cacheMaxEntries: 50,
      cacheTtlMs: 0,
      negativeCacheMaxEntries: 5,
      negativeCacheTtlMs: 2000,
      tagCacheTtlMs: 1000,
      registryConcurrency: 2,
      formatWholeBlobBytes: 0,
      formatReadBudgetBytes: 1048576,
    });
  });

  it.each([
    [{ cacheMaxEntries: '-1' }, '--cache-max-entries'],
    [{ cacheMaxEntries: '1e3' }, '--cache-max-entries'],
    [{ cacheTtlMs: '99999999999' }, '--cache-ttl-ms'],
    [{ negativeCacheTtlMs: 'soon' }, '--negative-cache-ttl-ms'],
    [{ tagCacheTtlMs: '3600001' }, '--tag-cache-ttl-ms'],
    [{ registryConcurrency: '0' }, '--registry-concurrency'],
    [{ registryConcurrency: '1000' }, '--registry-concurrency'],
    [{ formatWholeBlobBytes: '999999999999' }, '--format-whole-blob-bytes'],
    [{ formatReadBudgetBytes: '100' }, '--format-read-budget-bytes'],
  ])('refuses %j', (flags, message) => {
    expect(() => serveConfig({ policyFile: ['p'], ...flags }, {})).toThrow(ConfigError);
    expect(() => serveConfig({ policyFile: ['p'], ...flags }, {})).toThrow(message);
  });
});
