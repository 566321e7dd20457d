/** in-toto statements carried in DSSE envelopes: parsed defensively, nothing assumed. */
import { CYCLONEDX_FIELD_NAMES } from '../evidence/mlbom/fields.ts';
import { isStrictJsonError, knownFields, parseStrictJson } from '../oci/strict-json.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPES: ReadonlySet<string> = new Set([
  'https://in-toto.io/Statement/v1',
  'https://in-toto.io/Statement/v0.1',
]);

/** cosign v3 `sign` (new bundle format): the statement that signs an image or artifact. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const MODEL_SIGNING_PREDICATE = 'https://model_signing/signature/v1.0';
/** model_signing before v1.0 (its v0.2 release): subjects are the files themselves. */
export const MODEL_SIGNING_DIGESTS_PREDICATE = 'https://model_signing/Digests/v0.1';

export interface StatementSubject {
  readonly name?: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface InTotoStatement {
  readonly _type: string;
  readonly subject: readonly StatementSubject[];
  readonly predicateType: string;
  readonly predicate?: unknown;
}

export type StatementParse =
  | { ok: true; statement: InTotoStatement }
  /** `code` is set when the payload is refused because its consumers could read it differently. */
  | { ok: false; error: string; code?: 'ARTIFACT_AMBIGUOUS' };

/**
 * Fields of the statement and of the predicates modelgate reads (SLSA v1 provenance, model_signing,
 * CycloneDX).
 * Go verifiers read statements with protojson or encoding/json, which accept other spellings of these
 * (`predicate_type`, `PredicateType`): any spelling but this one is refused.
 */
export const STATEMENT_FIELDS = knownFields([
  '_type',
  'subject',
  'name',
  'uri',
  'digest',
  'content',
  'downloadLocation',
  'mediaType',
  'annotations',
  'predicateType',
  'predicate',
  // SLSA provenance v1
  'buildDefinition',
  'buildType',
  'externalParameters',
  'internalParameters',
  'resolvedDependencies',
  'runDetails',
  'builder',
  'id',
  'version',
  'builderDependencies',
  'metadata',
  'invocationId',
  'startedOn',
  'finishedOn',
  'byproducts',
  'workflow',
  'repository',
  'ref',
  'path',
  'source',
  // model_signing
  'serialization',
  'method',
  'hash_type',
  'allow_symlinks',
  'ignore_paths',
  'shard_size',
  'resources',
  'algorithm',
  // CycloneDX, for ML-BOMs signed as attestations
  ...CYCLONEDX_FIELD_NAMES,
]);

/** Parses a DSSE payload as an in-toto statement. */
export function parseStatement(payloadType: string, payload: Uint8Array): StatementParse {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return { ok: false, error: `payload type ${payloadType} is not in-toto` };
  let json: unknown;
  try {
    json = parseStrictJson(payload, { known: STATEMENT_FIELDS, topLevel: 'any' });
  } catch (err) {
    if (isStrictJsonError(err) && err.code === 'ARTIFACT_AMBIGUOUS')
      return { ok: false, error: `payload is ambiguous: ${err.message}`, code: err.code };
    return { ok: false, error: 'payload is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: 'payload is not an object' };
  }
  const s = json as Record<string, unknown>;
  if (typeof s._type !== 'string' || !STATEMENT_TYPES.has(s._type)) {
    return { ok: false, error: `statement type ${String(s._type)} is not an in-toto statement` };
  }
  if (typeof s.predicateType !== 'string') return { ok: false, error: 'statement has no predicateType' };
  if (!Array.isArray(s.subject)) return { ok: false, error: 'statement has no subject list' };
  const subject: StatementSubject[] = [];
  for (const raw of s.subject) {
    if (typeof raw !== 'object' || raw === null)
      return { ok: false, error: 'statement subject is not an object' };
    const r = raw as Record<string, unknown>;
    const digest: Record<string, string> = {};
    if (typeof r.digest === 'object' && r.digest !== null) {
      for (const [k, v] of Object.entries(r.digest as Record<string, unknown>)) {
        if (typeof v === 'string') digest[k.toLowerCase()] = v.toLowerCase();
      }
    }
    subject.push(typeof r.name === 'string' ? { name: r.name, digest } : { digest });
  }
  return {
    ok: true,
    statement: { _type: s._type, subject, predicateType: s.predicateType, predicate: s.predicate },
  };
}

/** Whether a subject names an OCI digest (`sha256:<hex>`). */
export function subjectHasDigest(statement: InTotoStatement, ociDigest: string): boolean {
  const [alg, hex] = ociDigest.split(':');
  if (alg === undefined || hex === undefined) return false;
  return statement.subject.some((s) => s.digest[alg] === hex.toLowerCase());
}

/** The OCI digests a statement's subjects name, for messages. */
export function subjectDigests(statement: InTotoStatement): string[] {
  return statement.subject.flatMap((s) => Object.entries(s.digest).map(([k, v]) => `${k}:${v}`));
}
