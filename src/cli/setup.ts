import { readFileSync } from 'node:fs';
import { parseInsecureRegistry, parseNamespaceLabels, parsePositiveInt, parseUnmatched } from '../config.ts';
import { Engine, type ModelVerifier } from '../engine/engine.ts';
import { RegistryVerifier } from '../engine/registry-verifier.ts';
import { checkFormats, checkMlBom, checkProvenance } from '../evidence/index.ts';
import { RegistryClient } from '../oci/client.ts';
import { credentialsFromDockerConfig } from '../oci/credentials.ts';
import { legacyTagFetcher, SignatureVerifier } from '../verify/index.ts';
import { UsageError } from './io.ts';
import { formatPolicyErrors, loadPolicyFiles } from './policies.ts';

export interface EngineFlags {
  policyFile: string[];
  unmatched?: string;
  namespaceLabels?: string[];
  insecureRegistry?: string[];
  registryConfig?: string;
  deadlineMs?: string;
}

export interface RegistryFlags {
  insecureRegistry?: readonly string[];
  registryConfig?: string;
}

/** The registry client every command uses: TLS unless a registry is named insecure; credentials from a docker config. */
export function registryClientFrom(flags: RegistryFlags): RegistryClient {
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
    ...(credentials ? { credentials } : {}),
    userAgent: 'modelgate/0.1.0',
  });
}

export function verifierFrom(flags: RegistryFlags): { verifier: ModelVerifier; close(): Promise<void> } {
  const client = registryClientFrom(flags);
  // One SignatureVerifier per process: it keeps trust material per policy generation.
  // Policies here come from files the operator controls, so trustedRoot.file may be read.
  const signatures = new SignatureVerifier({ legacyTags: legacyTagFetcher(client), readFiles: true });
  const verifier = new RegistryVerifier(client, {
    signatures: signatures.check,
    formats: checkFormats,
    mlbom: checkMlBom(signatures),
    provenance: checkProvenance(signatures),
  });
  return { verifier, close: () => client.close() };
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
