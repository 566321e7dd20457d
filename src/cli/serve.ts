import { statSync } from 'node:fs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startAdmissionServer } from '../admission/server.ts';
import { type ServeConfig, type ServeFlags, serveConfig } from '../config.ts';
import { Engine, type PolicySnapshot } from '../engine/engine.ts';
import { UsageError } from './io.ts';
import { formatPolicyErrors, loadPolicyFiles } from './policies.ts';
import { verifierFrom } from './setup.ts';

const POLICY_POLL_MS = 5_000;

/** `modelgate serve`: the webhook on policies from files, reloaded when a file changes. */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  // Configuration is read here, once, and passed down.
  const config = serveConfig(flags, process.env);
  // Asynchronous writes: a synchronous write per admission costs the event loop
  // more than the decision itself (see docs/performance.md). Flushed on shutdown.
  const logDestination = pino.destination({ dest: 1, sync: false });
  const logger = pino({ level: config.logLevel, base: { app: 'modelgate' } }, logDestination);
  const first = loadPolicyFiles(config.policyFiles);
  if (first.errors.length > 0)
    throw new UsageError(`invalid policy files:\n${formatPolicyErrors(first.errors)}`);
  let snapshot: PolicySnapshot = first.snapshot;
  logger.info({ policies: snapshot.policies.map((p) => p.name) }, 'policies loaded');

  const registry = verifierFrom({
    insecureRegistry: config.insecureRegistries,
    ...(config.registryConfigFile ? { registryConfig: config.registryConfigFile } : {}),
  });
  const engine = new Engine({
    unmatched: config.unmatched,
    deadlineMs: config.deadlineMs,
    policies: () => snapshot,
    namespaceLabels: (ns) => config.namespaceLabels[ns],
    verifier: registry.verifier,
  });

  const stopWatching = watchPolicies(config, logger, (next) => {
    snapshot = next;
  });
  const metrics = new Registry();
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

/** Polls the policy files; a file that no longer validates keeps the previous policies in force. */
function watchPolicies(
  config: ServeConfig,
  logger: pino.Logger,
  apply: (s: PolicySnapshot) => void,
): () => void {
  const stamp = () =>
    config.policyFiles
      .map((f) => {
        try {
          const s = statSync(f);
          return `${s.mtimeMs}:${s.size}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    const next = loadPolicyFiles(config.policyFiles);
    if (next.errors.length > 0) {
      logger.error(
        { errors: formatPolicyErrors(next.errors) },
        'policy files invalid: keeping the previous policies',
      );
      return;
    }
    apply(next.snapshot);
    logger.info({ policies: next.snapshot.policies.map((p) => p.name) }, 'policies reloaded');
  }, POLICY_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
