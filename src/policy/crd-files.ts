import { stringify } from 'yaml';
import { modelPolicyCrd } from './crd.ts';

/** Committed copies of the CRD, relative to the repository root. */
export const CRD_FILES = [
  'manifests/crds/modelgate.dev_modelpolicies.yaml',
  'charts/modelgate/crds/modelgate.dev_modelpolicies.yaml',
] as const;

export function renderCrdYaml(): string {
  return `# Generated from src/policy/schema.ts by scripts/gen-crd.ts: do not edit.\n${stringify(modelPolicyCrd(), { lineWidth: 0 })}`;
}
