/**
 * Configuration, read once at start from flags (and the few environment
 * variables named here), validated, frozen and passed down. Nothing else in
 * the code reads process.env.
 */
import { isIP } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UnmatchedAction } from './engine/engine.ts';

/** Where policies come from: files (reloaded on change) or the cluster's ModelPolicy resources. */
export type PolicySource = 'file' | 'kubernetes';

/** `serve --tls-self-manage`: the webhook keeps its own CA and serving certificate in a Secret. */
export interface SelfManagedTlsConfig {
  readonly secretName: string;
  /** The ValidatingWebhookConfiguration whose caBundle is kept in step (it also owns the Secret). */
  readonly webhookConfiguration: string;
  /** The Service the API server calls; its DNS names go into the certificate. */
  readonly serviceName: string;
  /** Extra names and IP addresses for the certificate (`--tls-san`). */
  readonly extraDnsNames: readonly string[];
  readonly extraIps: readonly string[];
  /** Where the serving pair is written for the HTTPS server. */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface KubernetesConfig {
  /** A kubeconfig file; absent: the in-cluster service account. */
  readonly kubeconfig?: string;
  /** The namespace modelgate runs in; absent: the service account's (or the kubeconfig context's). */
  readonly namespace?: string;
  /** This replica's name, reported on Events. */
  readonly podName: string;
  /** Namespaces whose Secrets and ConfigMaps modelgate reads; empty: any (needs cluster-wide RBAC). */
  readonly secretNamespaces: readonly string[];
  /** Use the admitted pod's imagePullSecrets and its service account's as registry credentials. */
  readonly podPullSecrets: boolean;
  /** Record an Event on each refusal. */
  readonly events: boolean;
  readonly tls?: SelfManagedTlsConfig;
  /**
   * `--webhook-config`: the ValidatingWebhookConfiguration whose webhooks get modelgate's matchCondition,
   * kept in step with the ModelPolicies (and whose caBundle --tls-self-manage sets).
   */
  readonly webhookConfiguration?: string;
}

export interface ServeConfig {
  readonly policySource: PolicySource;
  readonly policyFiles: readonly string[];
  /** Set when `policySource` is `kubernetes`. */
  readonly kubernetes?: KubernetesConfig;
  readonly host: string;
  readonly port: number;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly unmatched: UnmatchedAction;
  /** Engine deadline for one admission; keep it below the webhook's timeoutSeconds. */
  readonly deadlineMs: number;
  readonly maxBodyBytes: number;
  readonly insecureRegistries: readonly string[];
  /** Hosts redirects and token realms may reach at non-public addresses (`--allow-registry-redirect-host`). */
  readonly allowedRedirectHosts: readonly string[];
  /** A docker config.json with registry credentials (never logged). */
  readonly registryConfigFile?: string;
  readonly namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly logLevel: string;
  /** Decision cache, tag cache and per-registry limits (docs/adr/0003-decision-cache.md). */
  readonly verification: VerificationConfig;
}

export interface VerificationConfig {
  /** Verified decisions kept (LRU), and for how long; a TTL of 0 turns the cache off. */
  readonly cacheMaxEntries: number;
  readonly cacheTtlMs: number;
  /** Refusals kept apart from verified decisions, briefly. Transient failures are never kept. */
  readonly negativeCacheMaxEntries: number;
  readonly negativeCacheTtlMs: number;
  /** tag -> digest resolutions (at most cacheMaxEntries of them). */
  readonly tagCacheTtlMs: number;
  /** Verifications running at once against one registry host. */
  readonly registryConcurrency: number;
  /** Blobs up to this size are fetched whole and digest-checked before their format is classified. */
  readonly formatWholeBlobBytes: number;
  /** Bytes the format check reads at most per artifact (whole small blobs, ranges of large ones). */
  readonly formatReadBudgetBytes: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULTS = Object.freeze({
  // Loopback: a webhook started on a laptop is not reachable from the network. The chart and the image
  // pass --host=0.0.0.0, since the API server reaches a pod at its own address.
  host: '127.0.0.1',
  port: 8443,
  unmatched: 'deny' as UnmatchedAction,
  deadlineMs: 8_000,
  maxBodyBytes: 8 * 1024 * 1024,
  logLevel: 'info',
});

/**
 * Bounds of the HTTPS listener. Its one real caller is the API server, which keeps a few pooled
 * connections and completes a handshake in milliseconds; anything slower or more numerous is someone
 * holding sockets open (a slowloris on a webhook with `failurePolicy: Fail`).
 */
export interface ListenerLimits {
  /** A connection that has not completed its TLS handshake by then is closed (Node's default: 120 s). */
  readonly handshakeTimeoutMs: number;
  /** A request whose headers have not all arrived by then is answered 408 and closed. */
  readonly headersTimeoutMs: number;
  /** Open connections at most; more are closed as they arrive. */
  readonly maxConnections: number;
}

export const LISTENER_DEFAULTS: ListenerLimits = Object.freeze({
  handshakeTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  maxConnections: 1_024,
});

export const VERIFICATION_DEFAULTS: VerificationConfig = Object.freeze({
  cacheMaxEntries: 10_000,
  cacheTtlMs: 300_000,
  negativeCacheMaxEntries: 2_000,
  negativeCacheTtlMs: 10_000,
  tagCacheTtlMs: 30_000,
  registryConcurrency: 8,
  formatWholeBlobBytes: 16 * 1024 * 1024,
  formatReadBudgetBytes: 64 * 1024 * 1024,
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

/** `host[:port]` of `--allow-registry-redirect-host`: lower-case, as hosts are compared. */
export function parseRedirectHost(v: string): string {
  const host = v.trim().toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(host)) {
    throw new ConfigError(`--allow-registry-redirect-host takes HOST[:PORT] (got ${JSON.stringify(v)})`);
  }
  return host;
}

export interface ServeFlags extends KubernetesFlags {
  policyFile?: string[];
  host?: string;
  port?: string;
  tlsCert?: string;
  tlsKey?: string;
  unmatched?: string;
  deadlineMs?: string;
  maxBodyBytes?: string;
  insecureRegistry?: string[];
  allowRegistryRedirectHost?: string[];
  registryConfig?: string;
  namespaceLabels?: string[];
  logLevel?: string;
  cacheMaxEntries?: string;
  cacheTtlMs?: string;
  negativeCacheMaxEntries?: string;
  negativeCacheTtlMs?: string;
  tagCacheTtlMs?: string;
  registryConcurrency?: string;
  formatWholeBlobBytes?: string;
  formatReadBudgetBytes?: string;
}

export function serveConfig(
  flags: ServeFlags,
  env: Readonly<Record<string, string | undefined>>,
): ServeConfig {
  const policyFiles = flags.policyFile ?? [];
  const kubernetes = kubernetesConfig(flags, env);
  if (kubernetes === undefined && policyFiles.length === 0) {
    throw new ConfigError('serve needs at least one --policy-file, or --kubernetes');
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  const logLevel = flags.logLevel ?? env.MODELGATE_LOG_LEVEL ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.has(logLevel))
    throw new ConfigError(
      `log level ${JSON.stringify(logLevel)} is not one of ${[...LOG_LEVELS].join(', ')}`,
    );
  return Object.freeze({
    policySource: kubernetes === undefined ? 'file' : 'kubernetes',
    policyFiles: Object.freeze([...policyFiles]),
    ...(kubernetes !== undefined ? { kubernetes } : {}),
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
    allowedRedirectHosts: Object.freeze((flags.allowRegistryRedirectHost ?? []).map(parseRedirectHost)),
    ...(flags.registryConfig !== undefined ? { registryConfigFile: flags.registryConfig } : {}),
    namespaceLabels: Object.freeze(parseNamespaceLabels(flags.namespaceLabels ?? [])),
    logLevel,
    verification: verificationConfig(flags),
  });
}

const DAY_MS = 86_400_000;

/** The cache and limit flags of `serve`, checked and frozen. */
export function verificationConfig(flags: ServeFlags): VerificationConfig {
  const d = VERIFICATION_DEFAULTS;
  const count = (flag: string, v: string | undefined, fallback: number, min: number, max: number) => {
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v)) throw new ConfigError(`${flag} must be a whole number (got ${JSON.stringify(v)})`);
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(`${flag} must be between ${min} and ${max} (got ${n})`);
    return n;
  };
  return Object.freeze({
    cacheMaxEntries: count('--cache-max-entries', flags.cacheMaxEntries, d.cacheMaxEntries, 0, 1_000_000),
    cacheTtlMs: count('--cache-ttl-ms', flags.cacheTtlMs, d.cacheTtlMs, 0, DAY_MS),
    negativeCacheMaxEntries: count(
      '--negative-cache-max-entries',
      flags.negativeCacheMaxEntries,
      d.negativeCacheMaxEntries,
      0,
      1_000_000,
    ),
    negativeCacheTtlMs: count(
      '--negative-cache-ttl-ms',
      flags.negativeCacheTtlMs,
      d.negativeCacheTtlMs,
      0,
      3_600_000,
    ),
    tagCacheTtlMs: count('--tag-cache-ttl-ms', flags.tagCacheTtlMs, d.tagCacheTtlMs, 0, 3_600_000),
    registryConcurrency: count(
      '--registry-concurrency',
      flags.registryConcurrency,
      d.registryConcurrency,
      1,
      256,
    ),
    formatWholeBlobBytes: count(
      '--format-whole-blob-bytes',
      flags.formatWholeBlobBytes,
      d.formatWholeBlobBytes,
      0,
      256 * 1024 * 1024,
    ),
    formatReadBudgetBytes: count(
      '--format-read-budget-bytes',
      flags.formatReadBudgetBytes,
      d.formatReadBudgetBytes,
      4096,
      4 * 1024 * 1024 * 1024,
    ),
  });
}

function parsePort(v: string): number {
  if (!/^\d+$/.test(v)) throw new ConfigError(`--port must be a number (got ${JSON.stringify(v)})`);
  const n = Number(v);
  if (n > 65535) throw new ConfigError(`--port must be at most 65535 (got ${n})`);
  return n;
}

// ---- cluster mode (`serve --kubernetes`) ----------------------------------------------------------------

/** The flags of `serve` that only cluster mode takes. */
export interface KubernetesFlags {
  kubernetes?: boolean;
  kubeconfig?: string;
  namespace?: string;
  secretNamespace?: string[];
  podPullSecrets?: boolean;
  /** commander's `--no-events` sets it to false. */
  events?: boolean;
  tlsSelfManage?: boolean;
  tlsSecret?: string;
  webhookConfig?: string;
  service?: string;
  tlsSan?: string[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkName(flag: string, v: string, re: RegExp, max: number): string {
  if (v.length > max || !re.test(v)) {
    throw new ConfigError(
      `${flag} must be a lower-case DNS name of at most ${max} characters (got ${JSON.stringify(v)})`,
    );
  }
  return v;
}

const KUBERNETES_ONLY: readonly (readonly [keyof KubernetesFlags, string])[] = [
  ['kubeconfig', '--kubeconfig'],
  ['namespace', '--namespace'],
  ['secretNamespace', '--secret-namespace'],
  ['podPullSecrets', '--pod-pull-secrets'],
  ['tlsSelfManage', '--tls-self-manage'],
  ['webhookConfig', '--webhook-config'],
  ['tlsSan', '--tls-san'],
];

const SELF_MANAGE_ONLY: readonly (readonly [keyof KubernetesFlags, string])[] = [['tlsSan', '--tls-san']];

function given(v: unknown): boolean {
  return v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
}

/** The cluster-mode part of the configuration; undefined in file mode. */
export function kubernetesConfig(
  flags: ServeFlags,
  env: Readonly<Record<string, string | undefined>>,
): KubernetesConfig | undefined {
  if (flags.kubernetes !== true) {
    for (const [key, flag] of KUBERNETES_ONLY) {
      if (given(flags[key])) throw new ConfigError(`${flag} needs --kubernetes`);
    }
    return undefined;
  }
  if ((flags.policyFile ?? []).length > 0) {
    throw new ConfigError('--kubernetes reads ModelPolicies from the cluster: drop --policy-file');
  }
  if ((flags.namespaceLabels ?? []).length > 0) {
    throw new ConfigError('--kubernetes reads namespace labels from the cluster: drop --namespace-labels');
  }
  const kubeconfig = flags.kubeconfig ?? (env.KUBECONFIG ? env.KUBECONFIG.split(':')[0] : undefined);
  if (kubeconfig === undefined && !env.KUBERNETES_SERVICE_HOST) {
    throw new ConfigError(
      '--kubernetes outside a cluster needs --kubeconfig FILE (or KUBECONFIG); in a pod the service account is used',
    );
  }
  const namespaceRaw = flags.namespace ?? env.POD_NAMESPACE;
  const namespace =
    namespaceRaw === undefined || namespaceRaw === ''
      ? undefined
      : checkName('--namespace', namespaceRaw, DNS_LABEL, 63);
  const secretNamespaces = [
    ...new Set((flags.secretNamespace ?? []).map((n) => checkName('--secret-namespace', n, DNS_LABEL, 63))),
  ];
  let tls: SelfManagedTlsConfig | undefined;
  if (flags.tlsSelfManage === true) {
    if (flags.webhookConfig === undefined) {
      throw new ConfigError(
        '--tls-self-manage needs --webhook-config NAME (the ValidatingWebhookConfiguration whose caBundle it sets)',
      );
    }
    // One folder per process: two webhooks on one machine (tests, a laptop) must not share files.
    const dir = join(tmpdir(), `modelgate-tls-${process.pid}`);
    const extra = flags.tlsSan ?? [];
    tls = Object.freeze({
      secretName: checkName('--tls-secret', flags.tlsSecret ?? 'modelgate-tls', DNS_SUBDOMAIN, 253),
      webhookConfiguration: checkName('--webhook-config', flags.webhookConfig, DNS_SUBDOMAIN, 253),
      serviceName: checkName('--service', flags.service ?? 'modelgate', DNS_LABEL, 63),
      extraDnsNames: Object.freeze(
        extra
          .filter((n) => isIP(n) === 0)
          .map((n) => checkName('--tls-san', n.toLowerCase(), DNS_SUBDOMAIN, 253)),
      ),
      extraIps: Object.freeze(extra.filter((n) => isIP(n) !== 0)),
      certFile: flags.tlsCert ?? join(dir, 'tls.crt'),
      keyFile: flags.tlsKey ?? join(dir, 'tls.key'),
    });
  } else {
    for (const [key, flag] of SELF_MANAGE_ONLY) {
      if (given(flags[key])) throw new ConfigError(`${flag} needs --tls-self-manage`);
    }
  }
  return Object.freeze({
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    podName: env.POD_NAME || env.HOSTNAME || hostname(),
    secretNamespaces: Object.freeze(secretNamespaces),
    podPullSecrets: flags.podPullSecrets === true,
    events: flags.events !== false,
    ...(tls !== undefined ? { tls } : {}),
    ...(flags.webhookConfig !== undefined
      ? { webhookConfiguration: checkName('--webhook-config', flags.webhookConfig, DNS_SUBDOMAIN, 253) }
      : {}),
  });
}
