import { readFileSync } from 'node:fs';
import {
  parseInsecureRegistry,
  parseNamespaceLabels,
  parsePositiveInt,
  parseRedirectHost,
  parseUnmatched,
} from '../config.ts';
import { type CacheSettings, CachingVerifier, type LimitSettings } from '../engine/caching-verifier.ts';
import { Engine, type ModelVerifier } from '../engine/engine.ts';
// Types only: prom-client is loaded by `serve`, never by `verify` or `review` (CLI start-up).
import type { RegistryMetrics, VerificationMetrics } from '../engine/metrics.ts';
import { RegistryVerifier } from '../engine/registry-verifier.ts';
import {
  checkFormats,
  checkMlBom,
  checkProvenance,
  type FormatCheckOptions,
  formatCheck,
} from '../evidence/index.ts';
import { RegistryClient } from '../oci/client.ts';
import { credentialsFromDockerConfig } from '../oci/credentials.ts';
import type { RequestEvent } from '../oci/transport.ts';
import { legacyTagFetcher, SignatureVerifier, type SignatureVerifierOptions } from '../verify/index.ts';
import { UsageError } from './io.ts';
import { formatPolicyErrors, loadPolicyFiles } from './policies.ts';

export interface EngineFlags {
  policyFile: string[];
  unmatched?: string;
  namespaceLabels?: string[];
  insecureRegistry?: string[];
  allowRegistryRedirectHost?: string[];
  registryConfig?: string;
  deadlineMs?: string;
}

export interface RegistryFlags {
  insecureRegistry?: readonly string[];
  allowRegistryRedirectHost?: readonly string[];
  registryConfig?: string;
  /** Bounds one shared verification too (the CLI's `--deadline-ms`). */
  deadlineMs?: string;
}

/** How the verifier caches, bounds and reports (the server's; the one-shot commands take the defaults). */
export interface VerificationOptions {
  readonly cache?: Partial<CacheSettings>;
  readonly limits?: Partial<LimitSettings>;
  /** Verification, cache and registry metrics (made by `serve` in the admission metrics' registry). */
  readonly metrics?: { readonly registry?: RegistryMetrics; readonly verification?: VerificationMetrics };
  /** Each registry round trip (host, method, path, status, time, bytes: never headers). */
  readonly onRequest?: (e: RequestEvent) => void;
  /** Whole-read bound and read budget of the format check. */
  readonly formats?: FormatCheckOptions;
}

/** The registry client every command uses: TLS unless a registry is named insecure; credentials from a docker config. */
export function registryClientFrom(
  flags: RegistryFlags,
  onRequest?: (e: RequestEvent) => void,
): RegistryClient {
  const insecureRegistries = (flags.insecureRegistry ?? []).map(parseInsecureRegistry);
  let credentials: ReturnType<typeof credentialsFromDockerConfig> | undefined;
  if (flags.registryConfig !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.registryConfig, 'utf8');
    } catch (err) {
      throw new UsageError(
        `--registry-config: cannot read ${flags.registryConfig}: ${(err as Error).message}`,
      );
    }
    try {
      credentials = credentialsFromDockerConfig(text);
    } catch (err) {
      // The message names the file, never its contents: it holds secrets.
      throw new UsageError(
        `--registry-config: ${flags.registryConfig} is not a docker config.json (${(err as Error).name})`,
      );
    }
  }
  return new RegistryClient({
    insecureRegistries,
    allowedRedirectHosts: (flags.allowRegistryRedirectHost ?? []).map(parseRedirectHost),
    ...(credentials ? { credentials } : {}),
    userAgent: 'modelgate/0.1.0',
    ...(onRequest ? { onRequest } : {}),
  });
}

/**
 * The verifier of one process: the registry pipeline (evidence and checks) behind the decision cache,
 * coalescing and per-registry limits (CachingVerifier).
 */
export function verifierFrom(
  flags: RegistryFlags,
  opts: VerificationOptions = {},
): { verifier: CachingVerifier; signatures: SignatureVerifier; close(): Promise<void> } {
  const registryMetrics = opts.metrics?.registry;
  const onRequest =
    registryMetrics || opts.onRequest
      ? (e: RequestEvent) => {
          registryMetrics?.observe(e);
          opts.onRequest?.(e);
        }
      : undefined;
  const client = registryClientFrom(flags, onRequest);
  const deadlineMs =
    flags.deadlineMs === undefined ? undefined : parsePositiveInt('--deadline-ms', flags.deadlineMs, 600_000);
  // Policies here come from files the operator controls, so trustedRoot.file may be read.
  const { verifier, signatures } = verificationPipeline(
    client,
    { readFiles: true },
    {
      ...opts,
      limits: { ...(deadlineMs !== undefined ? { workTimeoutMs: deadlineMs } : {}), ...opts.limits },
    },
  );
  return { verifier, signatures, close: () => client.close() };
}

/**
 * The registry pipeline every mode shares: one SignatureVerifier per process (it keeps trust material per
 * policy content), the evidence checks, and the decision cache with coalescing and per-registry limits.
 */
export function verificationPipeline(
  client: RegistryClient,
  signatureOptions: Omit<SignatureVerifierOptions, 'legacyTags'>,
  opts: VerificationOptions,
): { verifier: CachingVerifier; signatures: SignatureVerifier } {
  const signatures = new SignatureVerifier({ legacyTags: legacyTagFetcher(client), ...signatureOptions });
  const inner = new RegistryVerifier(client, {
    signatures: signatures.check,
    formats: opts.formats ? formatCheck(opts.formats) : checkFormats,
    mlbom: checkMlBom(signatures),
    provenance: checkProvenance(signatures),
  });
  const verifier = new CachingVerifier({
    inner,
    // Verdicts are keyed by the trust material they were made with, not by the policy's uid.
    trust: signatures.trust,
    resolveTag: async (ref, signal) =>
      (await client.resolve(ref.registry, ref.repository, ref.tag ?? 'latest', signal)).digest,
    ...(opts.cache ? { cache: opts.cache } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.metrics?.verification ? { metrics: opts.metrics.verification } : {}),
  });
  return { verifier, signatures };
}

/** Builds the engine the CLI commands share with the server. Invalid policy files are a usage error. */
export function engineFromFlags(flags: EngineFlags, verifier: ModelVerifier): Engine {
  const { snapshot, errors } = loadPolicyFiles(flags.policyFile);
  if (errors.length > 0) throw new UsageError(`invalid policy files:\n${formatPolicyErrors(errors)}`);
  const labels = parseNamespaceLabels(flags.namespaceLabels ?? []);
  return new Engine({
    unmatched: parseUnmatched(flags.unmatched ?? 'deny'),
    deadlineMs: parsePositiveInt('--deadline-ms', flags.deadlineMs ?? '8000', 600_000),
    policies: () => snapshot,
    namespaceLabels: (ns) => labels[ns],
    verifier,
  });
}
