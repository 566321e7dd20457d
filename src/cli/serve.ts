import { readFileSync, statSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startAdmissionServer } from '../admission/server.ts';
import { type ServeConfig, type ServeFlags, serveConfig } from '../config.ts';
import { Engine, type ModelVerifier } from '../engine/engine.ts';
import { createRegistryMetrics, createVerificationMetrics } from '../engine/metrics.ts';
import { warmUpCycloneDxValidator } from '../evidence/mlbom/index.ts';
import type { Cluster, ClusterOptions } from '../kube/cluster.ts';
import { RegistryClient } from '../oci/client.ts';
import { credentialsFromDockerConfig, type StaticCredentialStore } from '../oci/credentials.ts';
import type { PolicySnapshot } from '../policy/snapshot.ts';
import { publicGoodTrustedRoot } from '../verify/trust.ts';
import { UsageError } from './io.ts';
import { formatPolicyErrors, loadPolicyFiles } from './policies.ts';
import { type VerificationOptions, verificationPipeline, verifierFrom } from './setup.ts';

const POLICY_POLL_MS = 5_000;

/** `modelgate serve`: the webhook on policies from files, reloaded when a file changes. */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  // Configuration is read here, once, and passed down.
  const config = serveConfig(flags, process.env);
  // Asynchronous writes: a synchronous write per admission costs the event loop
  // more than the decision itself (see docs/performance.md). Flushed on shutdown.
  const logDestination = pino.destination({ dest: 1, sync: false });
  const logger = pino({ level: config.logLevel, base: { app: 'modelgate' } }, logDestination);
  if (config.policySource === 'kubernetes') return serveCluster(config, logger, logDestination);
  const first = loadPolicyFiles(config.policyFiles);
  if (first.errors.length > 0)
    throw new UsageError(`invalid policy files:\n${formatPolicyErrors(first.errors)}`);
  let snapshot: PolicySnapshot = first.snapshot;
  logger.info({ policies: snapshot.policies.map((p) => p.name) }, 'policies loaded');

  // One registry for every metric: admission, verification, caches, registry requests.
  const metrics = new Registry();
  const registry = verifierFrom(
    {
      insecureRegistry: config.insecureRegistries,
      allowRegistryRedirectHost: config.allowedRedirectHosts,
      ...(config.registryConfigFile ? { registryConfig: config.registryConfigFile } : {}),
    },
    serveVerificationOptions(config, metrics, logger),
  );
  const engine = new Engine({
    unmatched: config.unmatched,
    deadlineMs: config.deadlineMs,
    policies: () => snapshot,
    namespaceLabels: (ns) => config.namespaceLabels[ns],
    verifier: registry.verifier,
  });

  const stopWatching = watchPolicies(
    config,
    logger,
    () => snapshot,
    (next, trustFilesChanged) => {
      snapshot = next;
      // A trusted_root.json file changed under an unchanged policy: compile its trust again (the new
      // material gives it a new key, so no verdict made with the old one is used).
      if (trustFilesChanged) registry.signatures.trust.invalidate();
    },
  );
  // Before the server answers (and /readyz says ready), not inside the first admission that needs them:
  // the ML-BOM validator's first run and the public-good trusted root's parse took ~130 and ~50 ms.
  warmUpCycloneDxValidator();
  publicGoodTrustedRoot();
  const server = await startAdmissionServer({
    host: config.host,
    port: config.port,
    tls: {
      ...(config.tlsCertFile ? { certFile: config.tlsCertFile } : {}),
      ...(config.tlsKeyFile ? { keyFile: config.tlsKeyFile } : {}),
    },
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.deadlineMs + 1_500,
    decide: (request, signal) => engine.review(request, signal),
    ready: () => true,
    logger,
    metrics,
  });
  logger.info(
    { url: server.url, unmatched: config.unmatched, deadlineMs: config.deadlineMs },
    'modelgate serving',
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      stopWatching();
      Promise.allSettled([server.close(), registry.close()]).then(() => {
        logDestination.flushSync();
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * Polls the policy files and the trusted_root.json files they name; a policy file that no longer
 * validates keeps the previous policies in force.
 */
function watchPolicies(
  config: ServeConfig,
  logger: pino.Logger,
  current: () => PolicySnapshot,
  apply: (s: PolicySnapshot, trustFilesChanged: boolean) => void,
): () => void {
  const stampOf = (files: readonly string[]) =>
    files
      .map((f) => {
        try {
          const s = statSync(f);
          return `${s.mtimeMs}:${s.size}:${s.ino}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  const trustFiles = () => [
    ...new Set(
      current().policies.flatMap((p) =>
        (p.spec.signatures?.authorities ?? []).flatMap((a) => {
          const file = (a.keyless?.trustedRoot ?? a.key?.trustedRoot)?.file;
          return file === undefined ? [] : [file];
        }),
      ),
    ),
  ];
  let last = stampOf(config.policyFiles);
  let lastTrust = stampOf(trustFiles());
  const timer = setInterval(() => {
    const now = stampOf(config.policyFiles);
    const nowTrust = stampOf(trustFiles());
    if (now === last && nowTrust === lastTrust) return;
    const trustFilesChanged = nowTrust !== lastTrust;
    const policyFilesChanged = now !== last;
    last = now;
    lastTrust = nowTrust;
    if (!policyFilesChanged) {
      apply(current(), true);
      logger.info('trusted root files changed: trust compiled again');
      return;
    }
    const next = loadPolicyFiles(config.policyFiles);
    if (next.errors.length > 0) {
      logger.error(
        { errors: formatPolicyErrors(next.errors) },
        'policy files invalid: keeping the previous policies',
      );
      return;
    }
    apply(next.snapshot, trustFilesChanged);
    lastTrust = stampOf(trustFiles());
    logger.info({ policies: next.snapshot.policies.map((p) => p.name) }, 'policies reloaded');
  }, POLICY_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

// ---- cluster mode (`serve --kubernetes`) ----------------------------------------------------------------

/**
 * The webhook as it runs in a cluster: ModelPolicies and namespace labels from informers, Secrets and
 * ConfigMaps for trust material and pull secrets, refusal Events, and (with --tls-self-manage) its own
 * CA and serving certificate. Ready once the first lists are in (and the certificate is in place).
 */
async function serveCluster(
  config: ServeConfig,
  logger: pino.Logger,
  logDestination: ReturnType<typeof pino.destination>,
): Promise<void> {
  const kube = config.kubernetes!;
  const cluster = await connectCluster({
    ...(kube.kubeconfig !== undefined ? { kubeconfig: kube.kubeconfig } : {}),
    ...(kube.namespace !== undefined ? { namespace: kube.namespace } : {}),
    podName: kube.podName,
    secretNamespaces: kube.secretNamespaces,
    podPullSecrets: kube.podPullSecrets,
    events: kube.events,
    ...(kube.tls !== undefined ? { tls: kube.tls } : {}),
    ...(kube.webhookConfiguration !== undefined ? { webhookConfiguration: kube.webhookConfiguration } : {}),
    logger,
    ...fallbackCredentials(config),
  });
  logger.info(
    {
      namespace: cluster.namespace,
      secretNamespaces: kube.secretNamespaces.length > 0 ? kube.secretNamespaces : 'any',
      podPullSecrets: kube.podPullSecrets,
      events: kube.events,
      tls: kube.tls ? 'self-managed' : config.tlsCertFile ? 'files' : 'generated',
    },
    'cluster mode',
  );
  const metrics = new Registry();
  const registry = clusterVerifier(config, metrics, logger, cluster);
  const engine = new Engine({
    unmatched: config.unmatched,
    deadlineMs: config.deadlineMs,
    policies: () => cluster.snapshot(),
    // Until the first list is in, /validate refuses (POLICY_NOT_LOADED) rather than decide on no policy.
    policiesLoaded: () => cluster.policiesLoaded(),
    policiesLoading: cluster.policiesLoading,
    namespaceLabels: (ns) => cluster.namespaceLabels(ns),
    verifier: registry.verifier,
  });

  // The server needs its certificate before it listens: with --tls-self-manage it comes from the Secret.
  const shutdown = new AbortController();
  const stopEarly = () => shutdown.abort(new Error('shutting down'));
  process.once('SIGTERM', stopEarly);
  process.once('SIGINT', stopEarly);
  try {
    await cluster.certificates?.start(shutdown.signal);
  } catch (err) {
    await cluster.close();
    await registry.close();
    logDestination.flushSync();
    if (shutdown.signal.aborted) return;
    throw err;
  }
  process.off('SIGTERM', stopEarly);
  process.off('SIGINT', stopEarly);
  const tlsFiles = kube.tls
    ? { certFile: kube.tls.certFile, keyFile: kube.tls.keyFile }
    : {
        ...(config.tlsCertFile ? { certFile: config.tlsCertFile } : {}),
        ...(config.tlsKeyFile ? { keyFile: config.tlsKeyFile } : {}),
      };
  // Before the server answers (and /readyz says ready), not inside the first admission that needs them:
  // the ML-BOM validator's first run and the public-good trusted root's parse took ~130 and ~50 ms.
  warmUpCycloneDxValidator();
  publicGoodTrustedRoot();
  const server = await startAdmissionServer({
    host: config.host,
    port: config.port,
    tls: tlsFiles,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.deadlineMs + 1_500,
    decide: (request, signal) => cluster.decide(request, (req) => engine.review(req, signal)),
    ready: () => cluster.ready(),
    logger,
    metrics,
  });
  logger.info(
    { url: server.url, unmatched: config.unmatched, deadlineMs: config.deadlineMs },
    'modelgate serving (cluster mode)',
  );
  void cluster.synced().then(() => logger.info('ready'));

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      Promise.allSettled([server.close(), cluster.close(), registry.close()])
        // The serving key is written again from the Secret at the next start: leave no copy behind.
        .then(() => (kube.tls ? removeServingFiles(kube.tls.certFile, kube.tls.keyFile) : undefined))
        .then(() => {
          logDestination.flushSync();
          resolve();
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Removes the serving pair, and its folder when nothing else is in it. */
async function removeServingFiles(certFile: string, keyFile: string): Promise<void> {
  await Promise.allSettled([rm(keyFile, { force: true }), rm(certFile, { force: true })]);
  await rmdir(dirname(keyFile)).catch(() => {});
}

/**
 * The Kubernetes client is loaded only in cluster mode: it costs about 80 MiB of
 * heap that file mode (and the CLI) never needs.
 */
async function connectCluster(opts: ClusterOptions): Promise<Cluster> {
  const { startCluster, ClusterConfigError } = await import('../kube/cluster.ts');
  try {
    return startCluster(opts);
  } catch (err) {
    if (err instanceof ClusterConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** `--registry-config` as the credentials used when no pull secret applies. */
function fallbackCredentials(config: ServeConfig): { fallbackCredentials?: StaticCredentialStore } {
  const file = config.registryConfigFile;
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--registry-config: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return { fallbackCredentials: credentialsFromDockerConfig(text) };
  } catch (err) {
    // The message names the file, never its contents: it holds secrets.
    throw new UsageError(`--registry-config: ${file} is not a docker config.json (${(err as Error).name})`);
  }
}

/**
 * The verifier chain of setup.ts's verifierFrom, with what cluster mode changes: registry credentials
 * from pull secrets (per verification), trust material from Secrets and ConfigMaps (never from files a
 * policy names), and compiled trust dropped when a Secret or ConfigMap it came from changes.
 */
function clusterVerifier(
  config: ServeConfig,
  metrics: Registry,
  logger: pino.Logger,
  cluster: Cluster,
): { verifier: ModelVerifier; close(): Promise<void> } {
  const options = serveVerificationOptions(config, metrics, logger);
  const registryMetrics = options.metrics?.registry;
  const client = new RegistryClient({
    insecureRegistries: config.insecureRegistries,
    allowedRedirectHosts: config.allowedRedirectHosts,
    credentials: cluster.credentials,
    userAgent: 'modelgate/0.1.0',
    onRequest: (e) => {
      registryMetrics?.observe(e);
      options.onRequest?.(e);
    },
  });
  const { verifier: caching, signatures } = verificationPipeline(
    client,
    { trustedRoots: cluster.objects, secrets: cluster.objects, readFiles: false },
    options,
  );
  cluster.onTrustChange((contentKey) => signatures.trust.invalidate(contentKey));
  cluster.watchTrust(signatures.trust);
  // Pull secrets are read outside the decision cache: a cached verdict costs no Secret read.
  return { verifier: cluster.verifier(caching), close: () => client.close() };
}

/** What `serve` configures: caches and limits from its flags, metrics beside the admission metrics, trace logs. */
export function serveVerificationOptions(
  config: ServeConfig,
  metrics: Registry,
  logger: pino.Logger,
): VerificationOptions {
  const v = config.verification;
  return {
    cache: {
      maxEntries: v.cacheMaxEntries,
      ttlMs: v.cacheTtlMs,
      negativeMaxEntries: v.negativeCacheMaxEntries,
      negativeTtlMs: v.negativeCacheTtlMs,
      tagMaxEntries: v.cacheMaxEntries,
      tagTtlMs: v.tagCacheTtlMs,
    },
    // A verification outlives no admission by more than the deadline.
    limits: { perRegistry: v.registryConcurrency, workTimeoutMs: config.deadlineMs },
    metrics: { registry: createRegistryMetrics(metrics), verification: createVerificationMetrics(metrics) },
    formats: { verifiedBlobBytes: v.formatWholeBlobBytes, budgetBytes: v.formatReadBudgetBytes },
    // The event carries no header: credentials and tokens cannot reach the log through it.
    onRequest: (e) => {
      if (logger.isLevelEnabled('trace')) logger.trace({ registryRequest: e }, 'registry request');
    },
  };
}
