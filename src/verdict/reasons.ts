/**
 * Stable reason codes. Pipelines and alerting match on these strings, so a code
 * is never renamed or reused; docs/reasons.md documents each one and a test
 * keeps that table and this list identical.
 */
export const REASON_CODES = [
  'REQUEST_INVALID',
  'REFERENCE_INVALID',
  'DIGEST_REQUIRED',
  'MODEL_UNGOVERNED',
  'POLICY_INVALID',
  'POLICY_NOT_LOADED',
  'REGISTRY_ERROR',
  'MANIFEST_DIGEST_MISMATCH',
  'ARTIFACT_AMBIGUOUS',
  'ARTIFACT_UNSUPPORTED',
  'SIGNATURE_MISSING',
  'SIGNATURE_INVALID',
  'IDENTITY_MISMATCH',
  'THRESHOLD_NOT_MET',
  'TRUST_UNAVAILABLE',
  'FORMAT_DENIED',
  'MLBOM_MISSING',
  'MLBOM_INVALID',
  'MLBOM_MISMATCH',
  'PROVENANCE_FAILED',
  'DEADLINE_EXCEEDED',
  'INTERNAL_ERROR',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** One line on how to fix each reason, appended to denial messages. */
export const REASON_FIX: Readonly<Record<ReasonCode, string>> = {
  REQUEST_INVALID: 'send a well-formed admission.k8s.io/v1 AdmissionReview with a request.uid and an object',
  REFERENCE_INVALID: 'write the model reference as host/path[:tag][@sha256:<64 hex>]',
  DIGEST_REQUIRED: 'pin the model by digest: append @sha256:<digest> (oras resolve REF prints it)',
  MODEL_UNGOVERNED:
    'add a ModelPolicy whose models globs cover this reference, or ask the operator to relax the unmatched setting',
  POLICY_INVALID: 'fix the ModelPolicy (kubectl describe modelpolicy NAME shows the invalid fields)',
  POLICY_NOT_LOADED:
    'retry in a moment: modelgate has not yet listed the ModelPolicies; if it persists, check its access to the API server',
  REGISTRY_ERROR:
    'check that the registry is reachable and that the pull secret grants read access, then retry',
  MANIFEST_DIGEST_MISMATCH:
    'the registry served content that does not match its digest: do not use this registry until it is fixed',
  ARTIFACT_AMBIGUOUS:
    'rewrite the document without duplicate keys or differently-cased field names (push it again with oras or cosign) and sign the new digest',
  ARTIFACT_UNSUPPORTED:
    'push the model as one manifest, or as an index of at most 16 platform manifests that are not indexes themselves',
  SIGNATURE_MISSING:
    'sign the model with a key or identity the policy trusts (cosign sign / model_signing sign) and push the signature with it',
  SIGNATURE_INVALID: 're-sign the model: the stored signature does not verify against this artifact',
  IDENTITY_MISMATCH:
    "sign with the identity the policy's authority names, or ask the operator to add your identity",
  THRESHOLD_NOT_MET: 'collect signatures from more of the authorities the policy names',
  TRUST_UNAVAILABLE:
    'create the Secret or ConfigMap named, let modelgate read it (chart value secretAccess), or in file mode use key.pem/trustedRoot.file',
  FORMAT_DENIED: 'convert the weights to an allowed format (e.g. safetensors) and push the model again',
  MLBOM_MISSING:
    'attach a CycloneDX ML-BOM to the model (oras attach --artifact-type application/vnd.cyclonedx+json)',
  MLBOM_INVALID: 'regenerate the ML-BOM with a CycloneDX 1.6 tool so that it validates against the schema',
  MLBOM_MISMATCH:
    "regenerate the ML-BOM so that its machine-learning-model component carries this model's digest",
  PROVENANCE_FAILED:
    'build the model on a trusted builder from an allowed source repository and attach its SLSA provenance',
  DEADLINE_EXCEEDED: 'retry; if it persists, check the registry latency or raise the verification deadline',
  INTERNAL_ERROR: 'retry; report a bug to the modelgate maintainers with the request uid from the logs',
};
