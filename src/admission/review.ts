/**
 * AdmissionReview v1 codec. Pure: it reads what the API server sent and encodes a Decision as the answer;
 * the HTTP layer only adapts. Parsing never throws, whatever the body.
 */
import type { Decision } from '../engine/decision.ts';
import { REASON_FIX, type ReasonCode } from '../engine/reasons.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

/** The API server's uid is a UUID; anything far longer is not one of its requests. */
export const MAX_UID_LENGTH = 256;
/**
 * Warning limits of the API server (k8s.io/apiserver warning filter): each warning is truncated to 256
 * runes once all of them exceed 4096 runes, then the rest are dropped. We stay inside both, and say
 * how many were left out instead of letting them vanish.
 */
export const MAX_WARNING_RUNES = 256;
export const MAX_WARNINGS = 50;
export const MAX_WARNINGS_TOTAL_RUNES = 4096;
/** Upper bound on a denial message; the engine keeps its own far below this. */
export const MAX_MESSAGE_CHARS = 32 * 1024;

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/** The part of an AdmissionReview request that modelgate reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource?: GroupVersionResource;
  readonly subResource?: string;
  readonly namespace?: string;
  readonly name?: string;
  /** CREATE, UPDATE, DELETE or CONNECT (checked). */
  readonly operation: string;
  /** The admitted object; null for DELETE and CONNECT. */
  readonly object: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
  readonly userInfo?: { readonly username?: string };
}

/**
 * `uid` is set on a failure when the request carried a readable uid: the caller can then answer with an
 * AdmissionReview denial that the API server shows to the user, instead of an HTTP error.
 */
export type ReviewParse =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly error: string; readonly uid?: string };

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isUid(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_UID_LENGTH;
}

/** The operations of admission.k8s.io/v1. */
export const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
// Operations whose request must carry the new object (DELETE carries oldObject, CONNECT options).
const OPERATIONS_WITH_OBJECT = new Set(['CREATE', 'UPDATE']);

/** Reads an AdmissionReview v1 request, collecting every invalid field with its path. Never throws. */
export function parseAdmissionReview(body: unknown): ReviewParse {
  if (!isObject(body)) return { ok: false, error: 'body: must be a JSON object (an AdmissionReview)' };
  const errors: string[] = [];
  if (body['apiVersion'] !== ADMISSION_API_VERSION) {
    errors.push(
      `apiVersion: must be ${JSON.stringify(ADMISSION_API_VERSION)}, got ${describe(body['apiVersion'])}`,
    );
  }
  if (body['kind'] !== ADMISSION_KIND) {
    errors.push(`kind: must be ${JSON.stringify(ADMISSION_KIND)}, got ${describe(body['kind'])}`);
  }
  const req = body['request'];
  if (!isObject(req)) {
    errors.push(`request: must be an object, got ${describe(req)}`);
    return { ok: false, error: errors.join('; ') };
  }
  // A uid is echoed back only inside a v1 envelope: the API server reads the answer as the version it sent.
  const envelopeOk = errors.length === 0;

  const uid = req['uid'];
  if (!isUid(uid))
    errors.push(`request.uid: must be a non-empty string of at most ${MAX_UID_LENGTH} characters`);

  const kind = readTriple(req['kind'], 'request.kind', ['group', 'version', 'kind'], errors);
  const resource =
    req['resource'] === undefined
      ? undefined
      : readTriple(req['resource'], 'request.resource', ['group', 'version', 'resource'], errors);
  const subResource = optionalString(req, 'subResource', errors);
  const namespace = optionalString(req, 'namespace', errors);
  const name = optionalString(req, 'name', errors);

  const operation = req['operation'];
  if (typeof operation !== 'string' || !OPERATIONS.includes(operation)) {
    errors.push(`request.operation: must be one of ${OPERATIONS.join(', ')}, got ${describe(operation)}`);
  }
  const object = req['object'] ?? null;
  if (typeof operation === 'string' && OPERATIONS_WITH_OBJECT.has(operation) && !isObject(object)) {
    errors.push(`request.object: must be an object for ${operation}, got ${describe(req['object'])}`);
  }
  const dryRun = req['dryRun'];
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean') {
    errors.push(`request.dryRun: must be a boolean, got ${describe(dryRun)}`);
  }
  let userInfo: AdmissionRequest['userInfo'];
  const rawUser = req['userInfo'];
  if (rawUser !== undefined && rawUser !== null) {
    if (!isObject(rawUser)) {
      errors.push(`request.userInfo: must be an object, got ${describe(rawUser)}`);
    } else {
      const username = rawUser['username'];
      if (username !== undefined && typeof username !== 'string') {
        errors.push(`request.userInfo.username: must be a string, got ${describe(username)}`);
      }
      // Only the name: groups and extra are not ours to carry around.
      userInfo = typeof username === 'string' ? { username } : {};
    }
  }

  if (errors.length > 0 || !isUid(uid) || kind === undefined || typeof operation !== 'string') {
    const error = errors.join('; ');
    return envelopeOk && isUid(uid) ? { ok: false, error, uid } : { ok: false, error };
  }

  const request: {
    -readonly [K in keyof AdmissionRequest]: AdmissionRequest[K];
  } = { uid, kind, operation, object };
  if (resource !== undefined) request.resource = resource;
  if (subResource !== undefined) request.subResource = subResource;
  if (namespace !== undefined) request.namespace = namespace;
  if (name !== undefined) request.name = name;
  if (req['oldObject'] !== undefined && req['oldObject'] !== null) request.oldObject = req['oldObject'];
  if (typeof dryRun === 'boolean') request.dryRun = dryRun;
  if (userInfo !== undefined) request.userInfo = userInfo;
  return { ok: true, request };
}

function readTriple<K extends string>(
  value: unknown,
  path: string,
  keys: readonly [K, K, K],
  errors: string[],
): Record<K, string> | undefined {
  if (!isObject(value)) {
    errors.push(`${path}: must be an object with string fields ${keys.join(', ')}, got ${describe(value)}`);
    return undefined;
  }
  const out = {} as Record<K, string>;
  let ok = true;
  for (const key of keys) {
    const field = value[key];
    // The core API group is the empty string; version and kind/resource never are.
    const allowEmpty = key === 'group';
    if (typeof field !== 'string' || (!allowEmpty && field.length === 0)) {
      errors.push(
        `${path}.${key}: must be a ${allowEmpty ? '' : 'non-empty '}string, got ${describe(field)}`,
      );
      ok = false;
    } else {
      out[key] = field;
    }
  }
  return ok ? out : undefined;
}

function optionalString(req: JsonObject, key: string, errors: string[]): string | undefined {
  const value = req[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    errors.push(`request.${key}: must be a string, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

/** A short, bounded description of a JSON value for an error message (never the value wholesale). */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return value.length > 64 ? `a ${value.length}-character string` : JSON.stringify(value);
  }
  return `${typeof value} ${String(value)}`.slice(0, 80);
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: typeof ADMISSION_KIND;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: { readonly code: number; readonly message: string; readonly reason?: string };
    readonly warnings?: readonly string[];
  };
}

// metav1.StatusReason for the codes a denial uses.
const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The AdmissionReview v1 answer to request `uid` carrying `decision`. */
export function admissionResponse(uid: string, decision: Decision): AdmissionReviewResponse {
  const warnings = boundWarnings(decision.warnings);
  const response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: readonly string[];
  } = { uid, allowed: decision.allowed };
  if (!decision.allowed) {
    const code = denialCode(decision.status);
    const message = truncateChars(
      decision.message !== undefined && decision.message.length > 0
        ? decision.message
        : 'denied by modelgate',
      MAX_MESSAGE_CHARS,
    );
    const reason = STATUS_REASONS[code];
    response.status = reason === undefined ? { code, message } : { code, message, reason };
  }
  if (warnings.length > 0) response.warnings = warnings;
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** A denial carries an HTTP error code; anything else in `status` falls back to 403. */
function denialCode(status: number | undefined): number {
  return status !== undefined && Number.isInteger(status) && status >= 400 && status <= 599 ? status : 403;
}

/**
 * Warnings as the API server will pass them on: printable, deduplicated, each at most 256 runes, at most
 * 50 and 4096 runes in all, the last one saying how many were left out.
 */
export function boundWarnings(warnings: readonly string[]): string[] {
  const clean: string[] = [];
  const seen = new Set<string>();
  for (const w of warnings) {
    const text = truncateRunes(printable(w), MAX_WARNING_RUNES);
    if (text.length === 0 || seen.has(text)) continue;
    seen.add(text);
    clean.push(text);
  }
  const out: string[] = [];
  let total = 0;
  // Room for the closing "N more" line, kept whenever something is left out.
  const reserve = 80;
  for (let i = 0; i < clean.length; i++) {
    const text = clean[i] as string;
    const runes = runeLength(text);
    const last = i === clean.length - 1;
    const budgetLeft = MAX_WARNINGS_TOTAL_RUNES - total - (last ? 0 : reserve);
    const countLeft = MAX_WARNINGS - out.length - (last ? 0 : 1);
    if (runes > budgetLeft || countLeft <= 0) {
      const left = clean.length - i;
      out.push(`modelgate: ${left} more warning${left === 1 ? '' : 's'} not shown (see the modelgate logs)`);
      break;
    }
    out.push(text);
    total += runes;
  }
  return out;
}

// C0 and C1 controls and DEL: an HTTP Warning header cannot carry them.
const CONTROL_CHARS = /\p{Cc}+/gu;

function printable(s: string): string {
  return s.replace(CONTROL_CHARS, ' ').trim();
}

function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function truncateRunes(s: string, max: number): string {
  if (s.length <= max) return s; // UTF-16 length bounds the rune count from above
  const runes = Array.from(s);
  return runes.length <= max ? s : `${runes.slice(0, max - 1).join('')}…`;
}

function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  const suffix = '... (truncated)';
  let cut = max - suffix.length;
  const before = s.charCodeAt(cut - 1);
  if (before >= 0xd800 && before <= 0xdbff) cut--; // never split a surrogate pair
  return s.slice(0, cut) + suffix;
}

/** A denial the server makes itself (no engine finding behind it), e.g. for an unreadable request. */
export function serverDenial(code: ReasonCode, status: number, detail: string): Decision {
  return {
    allowed: false,
    status,
    message: `${code}: ${detail}. Fix: ${REASON_FIX[code]}`,
    warnings: [],
    findings: [],
  };
}
