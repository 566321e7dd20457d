import { parseNamespaceLabels, parsePositiveInt, parseUnmatched } from '../config.ts';
import { Engine, type ModelVerifier } from '../engine/engine.ts';
import { offlineVerifier } from '../engine/pending.ts';
import { UsageError } from './io.ts';
import { formatPolicyErrors, loadPolicyFiles } from './policies.ts';

export interface EngineFlags {
  policyFile: string[];
  unmatched?: string;
  namespaceLabels?: string[];
  insecureRegistry?: string[];
  deadlineMs?: string;
}

/** Builds the engine the CLI commands share with the server. Invalid policy files are a usage error. */
export function engineFromFlags(flags: EngineFlags, verifier: ModelVerifier = offlineVerifier): Engine {
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
