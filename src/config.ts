/**
 * Configuration, read once at start from flags (and the few environment
 * variables named here), validated, frozen and passed down. Nothing else in
 * the code reads process.env.
 */
import type { UnmatchedAction } from './engine/engine.ts';

export interface ServeConfig {
  readonly policyFiles: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly unmatched: UnmatchedAction;
  /** Engine deadline for one admission; keep it below the webhook's timeoutSeconds. */
  readonly deadlineMs: number;
  readonly maxBodyBytes: number;
  readonly insecureRegistries: readonly string[];
  /** A docker config.json with registry credentials (never logged). */
  readonly registryConfigFile?: string;
  readonly namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULTS = Object.freeze({
  host: '0.0.0.0',
  port: 8443,
  unmatched: 'deny' as UnmatchedAction,
  deadlineMs: 8_000,
  maxBodyBytes: 8 * 1024 * 1024,
  logLevel: 'info',
});

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function parseUnmatched(v: string): UnmatchedAction {
  if (v === 'allow' || v === 'warn' || v === 'deny') return v;
  throw new ConfigError(`--unmatched must be allow, warn or deny (got ${JSON.stringify(v)})`);
}

export function parsePositiveInt(flag: string, v: string, max: number): number {
  if (!/^\d+$/.test(v))
    throw new ConfigError(`${flag} must be a positive integer (got ${JSON.stringify(v)})`);
  const n = Number(v);
  if (n < 1 || n > max) throw new ConfigError(`${flag} must be between 1 and ${max} (got ${n})`);
  return n;
}

/** `ns=k=v,k2=v2` (repeatable) -> {ns: {k: v, k2: v2}}. */
export function parseNamespaceLabels(values: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0)
      throw new ConfigError(`--namespace-labels takes NS=key=value,key=value (got ${JSON.stringify(v)})`);
    const ns = v.slice(0, eq);
    const labels: Record<string, string> = {};
    for (const pair of v
      .slice(eq + 1)
      .split(',')
      .filter(Boolean)) {
      const i = pair.indexOf('=');
      if (i <= 0) throw new ConfigError(`--namespace-labels: ${JSON.stringify(pair)} is not key=value`);
      labels[pair.slice(0, i)] = pair.slice(i + 1);
    }
    out[ns] = { ...(out[ns] ?? {}), ...labels };
  }
  return out;
}

/** `host[:port]` as registries are compared: lower-case. */
export function parseInsecureRegistry(v: string): string {
  const host = v.trim().toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(host)) {
    throw new ConfigError(`--insecure-registry takes HOST[:PORT] (got ${JSON.stringify(v)})`);
  }
  return host;
}

export interface ServeFlags {
  policyFile?: string[];
  host?: string;
  port?: string;
  tlsCert?: string;
  tlsKey?: string;
  unmatched?: string;
  deadlineMs?: string;
  maxBodyBytes?: string;
  insecureRegistry?: string[];
  registryConfig?: string;
  namespaceLabels?: string[];
  logLevel?: string;
}

export function serveConfig(
  flags: ServeFlags,
  env: Readonly<Record<string, string | undefined>>,
): ServeConfig {
  const policyFiles = flags.policyFile ?? [];
  if (policyFiles.length === 0) throw new ConfigError('serve needs at least one --policy-file');
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  const logLevel = flags.logLevel ?? env.MODELGATE_LOG_LEVEL ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.has(logLevel))
    throw new ConfigError(
      `log level ${JSON.stringify(logLevel)} is not one of ${[...LOG_LEVELS].join(', ')}`,
    );
  return Object.freeze({
    policyFiles: Object.freeze([...policyFiles]),
    host: flags.host ?? DEFAULTS.host,
    port: flags.port === undefined ? DEFAULTS.port : parsePort(flags.port),
    ...(flags.tlsCert !== undefined ? { tlsCertFile: flags.tlsCert } : {}),
    ...(flags.tlsKey !== undefined ? { tlsKeyFile: flags.tlsKey } : {}),
    unmatched: flags.unmatched === undefined ? DEFAULTS.unmatched : parseUnmatched(flags.unmatched),
    deadlineMs:
      flags.deadlineMs === undefined
        ? DEFAULTS.deadlineMs
        : parsePositiveInt('--deadline-ms', flags.deadlineMs, 29_000),
    maxBodyBytes:
      flags.maxBodyBytes === undefined
        ? DEFAULTS.maxBodyBytes
        : parsePositiveInt('--max-body-bytes', flags.maxBodyBytes, 64 * 1024 * 1024),
    insecureRegistries: Object.freeze((flags.insecureRegistry ?? []).map(parseInsecureRegistry)),
    ...(flags.registryConfig !== undefined ? { registryConfigFile: flags.registryConfig } : {}),
    namespaceLabels: Object.freeze(parseNamespaceLabels(flags.namespaceLabels ?? [])),
    logLevel,
  });
}

function parsePort(v: string): number {
  if (!/^\d+$/.test(v)) throw new ConfigError(`--port must be a number (got ${JSON.stringify(v)})`);
  const n = Number(v);
  if (n > 65535) throw new ConfigError(`--port must be at most 65535 (got ${n})`);
  return n;
}
