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
  { additionalProperties: false },
);

const ConfigMapKeyRef = Type.Object(
  {
    namespace: str(63),
    name: str(MAX_NAME),
    key: str(MAX_NAME),
  },
  { additionalProperties: false },
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
        { additionalProperties: false },
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

const Signatures = Type.Object(
  {
    threshold: Type.Integer({
      minimum: 1,
      maximum: MAX_LIST,
      default: 1,
      description: 'How many distinct authorities must have signed the model.',
    }),
    authorities: Type.Array(Authority, { minItems: 1, maxItems: 32 }),
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
    'x-kubernetes-validations': [
      {
        rule: 'self.threshold <= size(self.authorities)',
        message: 'threshold must not exceed the number of authorities',
      },
      {
        rule: 'self.authorities.all(a, self.authorities.exists_one(b, b.name == a.name))',
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
  { additionalProperties: false },
);

const Provenance = Type.Object(
  {
    required: Type.Boolean({ default: true }),
    builderIds: Type.Optional(
      Type.Array(str(1024), { maxItems: 64, description: 'Allowed SLSA builder ids (exact).' }),
    ),
    sourceRepositories: Type.Optional(
      Type.Array(str(1024), { maxItems: 64, description: 'Allowed source repository URIs (exact).' }),
    ),
    signedBy: Type.Optional(Type.Array(str(63), { maxItems: 32 })),
  },
  { additionalProperties: false },
);

const LabelSelectorRequirement = Type.Object(
  {
    key: str(317),
    operator: stringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const),
    values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: MAX_LIST })),
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
    matchLabels: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 63 }))),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, { maxItems: 64 })),
  },
  { additionalProperties: false },
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
  { additionalProperties: false },
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
      Type.Array(Type.Object({ namespace: str(63), name: str(MAX_NAME) }, { additionalProperties: false }), {
        maxItems: 16,
        description: 'kubernetes.io/dockerconfigjson Secrets with credentials for the governed registries.',
      }),
    ),
    signatures: Type.Optional(Signatures),
    formats: Type.Optional(Formats),
    mlbom: Type.Optional(MLBOM),
    provenance: Type.Optional(Provenance),
  },
  {
    additionalProperties: false,
    'x-kubernetes-validations': [
      {
        rule: '!has(self.mlbom) || !has(self.mlbom.signedBy) || (has(self.signatures) && self.mlbom.signedBy.all(n, self.signatures.authorities.exists(a, a.name == n)))',
        message: 'mlbom.signedBy must name authorities listed in signatures.authorities',
      },
      {
        rule: '!has(self.provenance) || !has(self.provenance.signedBy) || (has(self.signatures) && self.provenance.signedBy.all(n, self.signatures.authorities.exists(a, a.name == n)))',
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
