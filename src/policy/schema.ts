/**
 * The ModelPolicy resource, defined once. This one schema gives the
 * TypeScript type (`ModelPolicySpec`), the runtime validation
 * (`validate.ts`) and the CRD's openAPIV3Schema (`crd.ts`), so that the three
 * cannot drift apart.
 *
 * Rules that span fields are written twice on purpose: as CEL in
 * `x-kubernetes-validations` (the API server enforces them on apply) and in
 * `rules.ts` (the CLI and the webhook enforce them on files and on objects
 * that bypassed the API server's validation), with the same messages. The
 * corpus in test/fixtures/policy/invalid.yaml exercises rules.ts; the e2e
 * suite applies it to a real API server to exercise the CEL.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  FILE_GLOB_PATTERN,
  MAX_FILE_GLOB_LENGTH,
  MAX_NAMESPACE_GLOB_LENGTH,
  MAX_PATTERN_LENGTH,
  MODEL_GLOB_PATTERN,
  NAMESPACE_GLOB_PATTERN,
} from '../reference/glob.ts';

export const API_GROUP = 'modelgate.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'ModelPolicy';

const MAX_LIST = 256;
const MAX_NAME = 253;
const MAX_PEM = 16_384;

const str = (maxLength: number, opts: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, maxLength, ...opts });

function stringEnum<const T extends readonly string[]>(values: T, opts: Record<string, unknown> = {}) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    opts,
  ) as unknown as TSchema & { static: T[number] };
}

export const POLICY_MODES = ['Enforce', 'Warn', 'Audit'] as const;
/** What a file's bytes were identified as (docs/policies.md, "Formats"): a contract, names are stable. */
export const MODEL_FORMATS = [
  'safetensors',
  'gguf',
  'onnx',
  'numpy',
  'json',
  'text',
  'tokenizer',
  'image',
  'keras-h5',
  'pickle',
  'pytorch-zip',
  'torchscript',
  'keras-lambda',
  'code',
  'archive',
  'unknown',
] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/**
 * Formats positively identified as data (nothing in them runs when a loader opens them): the only
 * ones admitted when a policy says nothing about formats. Everything else is refused (fail closed).
 */
export const DEFAULT_ALLOWED_FORMATS: readonly ModelFormat[] = [
  'safetensors',
  'gguf',
  'onnx',
  'numpy',
  'json',
  'text',
  'tokenizer',
  'image',
];

/** Formats refused when a policy says nothing about formats (every format not allowed by default). */
export const DEFAULT_DENIED_FORMATS: readonly ModelFormat[] = MODEL_FORMATS.filter(
  (f) => !DEFAULT_ALLOWED_FORMATS.includes(f),
);

const SecretKeyRef = Type.Object(
  {
    namespace: str(63, { description: 'Namespace of the Secret.' }),
    name: str(MAX_NAME, { description: 'Name of the Secret.' }),
    key: str(MAX_NAME, { description: 'Key in the Secret whose value is used.' }),
  },
  {
    additionalProperties: false,
    description:
      'A Secret key holding a PEM public key (cluster only; modelgate needs get on Secrets in its namespace: the chart value secretAccess). In file mode use pem.',
  },
);

const ConfigMapKeyRef = Type.Object(
  {
    namespace: str(63, { description: 'Namespace of the ConfigMap.' }),
    name: str(MAX_NAME, { description: 'Name of the ConfigMap.' }),
    key: str(MAX_NAME, {
      description: 'Key in the ConfigMap (data or binaryData) holding trusted_root.json.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'A ConfigMap key holding a trusted_root.json (cluster only; modelgate needs get on ConfigMaps in its namespace: the chart value secretAccess).',
  },
);

const TrustedRootRef = Type.Object(
  {
    configMapRef: Type.Optional(ConfigMapKeyRef),
    file: Type.Optional(
      str(4096, { description: 'Path of a trusted_root.json file (CLI only; ignored in the cluster).' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A Sigstore trusted root (Fulcio, Rekor, CT log and TSA keys) other than the embedded public-good one.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.configMapRef) != has(self.file)',
        message: 'set exactly one of configMapRef or file',
      },
    ],
  },
);

const Keyless = Type.Object(
  {
    issuer: str(1024, { description: 'OIDC issuer of the signing certificate, compared exactly.' }),
    subject: Type.Optional(str(1024, { description: 'Certificate subject (SAN), compared exactly.' })),
    subjectRegExp: Type.Optional(
      str(1024, {
        description: 'Regular expression the subject must match as a whole (it is anchored: ^(?:...)$).',
      }),
    ),
    trustedRoot: Type.Optional(TrustedRootRef),
  },
  {
    additionalProperties: false,
    description:
      'A Sigstore keyless identity: a Fulcio certificate for this OIDC issuer and subject, logged in Rekor.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.subject) != has(self.subjectRegExp)',
        message: 'set exactly one of subject or subjectRegExp',
      },
    ],
  },
);

const Key = Type.Object(
  {
    pem: Type.Optional(
      Type.String({ minLength: 1, maxLength: MAX_PEM, description: 'Public key, PEM (SPKI).' }),
    ),
    secretRef: Type.Optional(SecretKeyRef),
    // For key-signed bundles with a log entry in a private Rekor; its certificate authorities are unused.
    trustedRoot: Type.Optional(TrustedRootRef),
  },
  {
    additionalProperties: false,
    description: 'A public key (cosign sign --key, model_signing key): inline as pem, or in a Secret.',
    'x-kubernetes-validations': [
      { rule: 'has(self.pem) != has(self.secretRef)', message: 'set exactly one of pem or secretRef' },
    ],
  },
);

const Authority = Type.Object(
  {
    name: str(63, {
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      description: 'Name of the authority, unique in the policy; denials and reports use it.',
    }),
    keyless: Type.Optional(Keyless),
    key: Type.Optional(Key),
    transparencyLog: Type.Optional(
      Type.Object(
        {
          required: Type.Boolean({
            description:
              'Require a transparency-log entry. Always true for keyless authorities; defaults to false for keys.',
          }),
        },
        { additionalProperties: false, description: 'Whether a transparency-log (Rekor) entry is required.' },
      ),
    ),
  },
  {
    additionalProperties: false,
    'x-kubernetes-validations': [
      { rule: 'has(self.keyless) != has(self.key)', message: 'set exactly one of keyless or key' },
      {
        rule: '!has(self.keyless) || !has(self.transparencyLog) || self.transparencyLog.required',
        message: 'keyless authorities always require a transparency-log entry',
      },
    ],
  },
);

/**
 * What a policy says when it requires no signature (`signatures: {required: false}`), and what it says
 * when it omits the section or its authorities. Shared by the CEL rules below and by rules.ts, so that
 * `kubectl apply` and `policy lint` refuse with the same words.
 */
export const SIGNATURES_ABSENT_MESSAGE =
  'say what signatures a model needs: list who must sign (signatures: {authorities: [{name: ..., key: {...}}]}), or write signatures: {required: false} to admit unsigned models';
export const AUTHORITIES_REQUIRED_MESSAGE =
  'signatures.required is true (the default): list the authorities that must sign, or write signatures: {required: false} to admit unsigned models';
export const NOT_REQUIRED_EXTRAS_MESSAGE =
  'signatures.required is false: remove authorities and allowUnsignedFiles, or set required: true';

const Signatures = Type.Object(
  {
    // Optional in the type (so that `{required: false}` is a whole section in code too); defaulted by
    // validation and by the API server alike.
    required: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          'Whether a model must be signed. false admits unsigned models (and takes no authorities); true (the default) needs authorities.',
      }),
    ),
    threshold: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_LIST,
        default: 1,
        description: 'How many distinct authorities must have signed the model.',
      }),
    ),
    authorities: Type.Optional(
      Type.Array(Authority, {
        minItems: 1,
        maxItems: 32,
        description:
          'Who may sign: each a keyless identity or a public key. Required unless required is false.',
      }),
    ),
    allowUnsignedFiles: Type.Optional(
      Type.Array(str(MAX_FILE_GLOB_LENGTH, { pattern: FILE_GLOB_PATTERN }), {
        maxItems: MAX_LIST,
        description:
          'File-name globs of artifact files that an OpenSSF model signature need not cover (e.g. README.md).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Who must have signed the model. Required: list authorities, or write {required: false} to admit unsigned models.',
    'x-kubernetes-validations': [
      { rule: '!self.required || has(self.authorities)', message: AUTHORITIES_REQUIRED_MESSAGE },
      {
        rule: 'self.required || (!has(self.authorities) && !has(self.allowUnsignedFiles))',
        message: NOT_REQUIRED_EXTRAS_MESSAGE,
      },
      {
        rule: '!has(self.authorities) || self.threshold <= size(self.authorities)',
        message: 'threshold must not exceed the number of authorities',
      },
      {
        rule: '!has(self.authorities) || self.authorities.all(a, self.authorities.exists_one(b, b.name == a.name))',
        message: 'authority names must be unique',
      },
    ],
  },
);

const Formats = Type.Object(
  {
    allow: Type.Optional(
      Type.Array(stringEnum(MODEL_FORMATS), {
        maxItems: MODEL_FORMATS.length,
        description:
          'When set, only these formats are admitted. When formats is absent: safetensors, gguf, onnx, numpy, json, text, tokenizer, image.',
      }),
    ),
    deny: Type.Optional(
      Type.Array(stringEnum(MODEL_FORMATS), {
        maxItems: MODEL_FORMATS.length,
        description:
          'Formats refused (pickle also refuses pytorch-zip and torchscript). Without allow, every other format is admitted except unknown.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Which file formats are admitted, by their bytes. Absent: only safetensors, gguf, onnx, numpy, json, text, tokenizer, image.',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.allow) || !has(self.deny) || self.allow.all(f, !(f in self.deny))',
        message: 'a format cannot be both allowed and denied',
      },
    ],
  },
);

const MLBOM = Type.Object(
  {
    required: Type.Boolean({ default: true, description: 'Refuse a model without a CycloneDX ML-BOM.' }),
    requireHashMatch: Type.Boolean({
      default: true,
      description:
        "The ML-BOM's machine-learning-model component must carry the manifest digest or every weight file's digest.",
    }),
    requiredFields: Type.Optional(
      Type.Array(str(256), {
        maxItems: 64,
        description:
          'Dotted paths that must be present in the model component, e.g. modelCard.modelParameters.datasets.',
      }),
    ),
    signedBy: Type.Optional(
      Type.Array(str(63), {
        maxItems: 32,
        description: 'Authorities (by name) one of which must have signed the ML-BOM as an attestation.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'A CycloneDX ML-BOM attached to the model. Absent: no ML-BOM is required or read.',
  },
);

const Provenance = Type.Object(
  {
    required: Type.Boolean({ default: true, description: 'Refuse a model without SLSA provenance.' }),
    builderIds: Type.Optional(
      Type.Array(str(1024), { maxItems: 64, description: 'Allowed SLSA builder ids (exact).' }),
    ),
    sourceRepositories: Type.Optional(
      Type.Array(str(1024), { maxItems: 64, description: 'Allowed source repository URIs (exact).' }),
    ),
    signedBy: Type.Optional(
      Type.Array(str(63), {
        maxItems: 32,
        description: 'Authorities (by name) one of which must have signed the provenance attestation.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'SLSA v1 provenance attached to the model. Absent: no provenance is required or read.',
  },
);

const LabelSelectorRequirement = Type.Object(
  {
    key: str(317, { description: 'The label key.' }),
    operator: stringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, {
      description: 'How the label is compared with values.',
    }),
    values: Type.Optional(
      Type.Array(Type.String({ maxLength: 63 }), {
        maxItems: MAX_LIST,
        description: 'Label values: needed by In and NotIn, refused by Exists and DoesNotExist.',
      }),
    ),
  },
  {
    additionalProperties: false,
    'x-kubernetes-validations': [
      {
        rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
        message: 'In and NotIn need values; Exists and DoesNotExist take none',
      },
    ],
  },
);

const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: 63 }), {
        description: 'Labels the namespace must carry, with these values.',
      }),
    ),
    matchExpressions: Type.Optional(
      Type.Array(LabelSelectorRequirement, {
        maxItems: 64,
        description: 'Label requirements the namespace must meet (all of them).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'A label selector over namespaces. Absent: no label condition.',
  },
);

const Match = Type.Object(
  {
    namespaces: Type.Optional(
      Type.Array(str(MAX_NAMESPACE_GLOB_LENGTH, { pattern: NAMESPACE_GLOB_PATTERN }), {
        maxItems: MAX_LIST,
        description: 'Namespace names or globs (*, ?). Absent: every namespace.',
      }),
    ),
    namespaceSelector: Type.Optional(LabelSelector),
  },
  {
    additionalProperties: false,
    description:
      'Which namespaces the policy applies to (both conditions when both are set). Absent: every namespace.',
  },
);

export const ModelPolicySpecSchema = Type.Object(
  {
    mode: stringEnum(POLICY_MODES, {
      default: 'Enforce',
      description: 'Enforce denies, Warn admits with a warning, Audit admits and records.',
    }),
    match: Type.Optional(Match),
    models: Type.Array(str(MAX_PATTERN_LENGTH, { pattern: MODEL_GLOB_PATTERN }), {
      minItems: 1,
      maxItems: MAX_LIST,
      description:
        'Globs over host/repository the policy governs: * within a path segment, ** across segments.',
    }),
    requireDigest: Type.Boolean({
      default: true,
      description: 'Refuse references not pinned by digest (tags can be moved after admission).',
    }),
    pullSecrets: Type.Optional(
      Type.Array(
        Type.Object(
          {
            namespace: str(63, { description: 'Namespace of the pull secret.' }),
            name: str(MAX_NAME, { description: 'Name of the pull secret.' }),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 16,
          description: 'kubernetes.io/dockerconfigjson Secrets with credentials for the governed registries.',
        },
      ),
    ),
    signatures: Type.Optional(Signatures),
    formats: Type.Optional(Formats),
    mlbom: Type.Optional(MLBOM),
    provenance: Type.Optional(Provenance),
  },
  {
    additionalProperties: false,
    description:
      'Which models the policy governs (models, match) and what they need: signatures (required: list authorities, or {required: false}), formats, an ML-BOM, provenance.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.signatures)',
        message: SIGNATURES_ABSENT_MESSAGE,
        fieldPath: '.signatures',
        reason: 'FieldValueRequired',
      },
      {
        rule: '!has(self.mlbom) || !has(self.mlbom.signedBy) || (has(self.signatures) && has(self.signatures.authorities) && self.mlbom.signedBy.all(n, self.signatures.authorities.exists(a, a.name == n)))',
        message: 'mlbom.signedBy must name authorities listed in signatures.authorities',
      },
      {
        rule: '!has(self.provenance) || !has(self.provenance.signedBy) || (has(self.signatures) && has(self.signatures.authorities) && self.provenance.signedBy.all(n, self.signatures.authorities.exists(a, a.name == n)))',
        message: 'provenance.signedBy must name authorities listed in signatures.authorities',
      },
    ],
  },
);

export type ModelPolicySpec = Static<typeof ModelPolicySpecSchema>;
export type AuthoritySpec = Static<typeof Authority>;
export type LabelSelectorSpec = Static<typeof LabelSelector>;
export type PolicyMode = (typeof POLICY_MODES)[number];

/** A ModelPolicy as users write it (and as the API server stores it). */
export interface ModelPolicy {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid?: string; generation?: number; [k: string]: unknown };
  spec: ModelPolicySpec;
  status?: unknown;
}
