import { describe, expect, it } from 'vitest';
import { ConfigError, parseInsecureRegistry, parseNamespaceLabels, serveConfig } from '../../src/config.ts';

describe('serveConfig', () => {
  it('applies defaults and freezes the result', () => {
    const c = serveConfig({ policyFile: ['p.yaml'] }, {});
    expect(c).toMatchObject({
      // Loopback, as the README says for local use; the chart and the image pass --host=0.0.0.0.
      host: '127.0.0.1',
      port: 8443,
      unmatched: 'deny',
      deadlineMs: 8000,
      logLevel: 'info',
      insecureRegistries: [],
      allowedRedirectHosts: [],
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads --allow-registry-redirect-host lower-cased', () => {
    const c = serveConfig(
      { policyFile: ['p'], allowRegistryRedirectHost: ['Blobs.Internal:9000', '[fd00::1]'] },
      {},
    );
    expect(c.allowedRedirectHosts).toEqual(['blobs.internal:9000', '[fd00::1]']);
  });

  it('reads the log level from the environment only when no flag gives it', () => {
    expect(serveConfig({ policyFile: ['p'] }, { MODELGATE_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(
      serveConfig({ policyFile: ['p'], logLevel: 'warn' }, { MODELGATE_LOG_LEVEL: 'debug' }).logLevel,
    ).toBe('warn');
  });

  it.each([
    [{ policyFile: [] }, 'at least one --policy-file'],
    [{ policyFile: ['p'], tlsCert: 'c' }, '--tls-cert and --tls-key go together'],
    [{ policyFile: ['p'], unmatched: 'maybe' }, '--unmatched'],
    [{ policyFile: ['p'], port: '70000' }, '--port'],
    [{ policyFile: ['p'], port: 'x' }, '--port'],
    [{ policyFile: ['p'], deadlineMs: '0' }, '--deadline-ms'],
    [{ policyFile: ['p'], deadlineMs: '60000' }, '--deadline-ms'],
    [{ policyFile: ['p'], logLevel: 'loud' }, 'log level'],
    [{ policyFile: ['p'], insecureRegistry: ['http://x'] }, '--insecure-registry'],
    [{ policyFile: ['p'], allowRegistryRedirectHost: ['https://x/'] }, '--allow-registry-redirect-host'],
  ])('refuses %j', (flags, message) => {
    expect(() => serveConfig(flags, {})).toThrow(ConfigError);
    expect(() => serveConfig(flags, {})).toThrow(message);
  });
});

describe('flag parsers', () => {
  it('parses namespace labels, merging repeats', () => {
    expect(parseNamespaceLabels(['prod=env=prod,tier=gold', 'prod=team=ml', 'dev='])).toEqual({
      prod: { env: 'prod', tier: 'gold', team: 'ml' },
      dev: {},
    });
    expect(() => parseNamespaceLabels(['=x'])).toThrow(ConfigError);
    expect(() => parseNamespaceLabels(['ns=novalue'])).toThrow(ConfigError);
  });

  it('lower-cases insecure registries and keeps ports', () => {
    expect(parseInsecureRegistry('LocalHost:5000')).toBe('localhost:5000');
    expect(parseInsecureRegistry('[::1]:5000')).toBe('[::1]:5000');
  });
});
