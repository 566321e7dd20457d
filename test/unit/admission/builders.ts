import type { Decision, Finding } from '../../../src/engine/decision.ts';

export const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

/** A Pod as the API server sends it, naming `models` in the modelgate.dev/models annotation. */
export function pod(
  models: readonly string[] = ['registry.example.com/models/llm:v1'],
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'inference',
      namespace: 'ml',
      annotations: { 'modelgate.dev/models': models.join(',') },
    },
    spec: { containers: [{ name: 'server', image: 'registry.example.com/serve:1.0' }] },
  };
}

/** A well-formed AdmissionReview v1 request for a Pod CREATE; `request` fields override the defaults. */
export function review(request: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'ml',
      name: 'inference',
      operation: 'CREATE',
      userInfo: { username: 'alice', groups: ['system:authenticated'] },
      object: pod(),
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...request,
    },
  };
}

export function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    code: 'SIGNATURE_MISSING',
    fieldPath: "metadata.annotations['modelgate.dev/models']",
    reference: 'registry.example.com/models/llm:v1',
    policy: 'production-models',
    mode: 'Enforce',
    message: 'no signature found',
    fix: 'sign it',
    ...overrides,
  };
}

export const ALLOW: Decision = { allowed: true, warnings: [], findings: [] };

export function deny(message = 'modelgate refused pod ml/inference', status?: number): Decision {
  return status === undefined
    ? { allowed: false, message, warnings: [], findings: [finding()] }
    : { allowed: false, status, message, warnings: [], findings: [finding()] };
}

export function warn(...warnings: string[]): Decision {
  return { allowed: true, warnings, findings: warnings.map(() => finding({ mode: 'Warn' })) };
}
