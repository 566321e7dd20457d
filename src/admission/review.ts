/**
 * AdmissionReview v1 codec. Pure: it reads what the API server sent and encodes a Decision as the answer;
 * the HTTP layer only adapts. Parsing never throws, whatever the body.
 */
import type { Decision } from '../engine/decision.ts';
import { withFix } from '../engine/message.ts';
import { REASON_FIX, type ReasonCode } from '../verdict/reasons.ts';

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

/**
 * Deepest nesting of arrays and objects accepted in an AdmissionReview. Built-in pod-carrying kinds reach
 * about 20 levels (a CronJob's pod affinity terms, with their managedFields twin); 128 leaves room for
 * custom resources. V8's JSON.parse takes time per level: a 6 MB body of nested arrays blocked the event
 * loop for ~3 s, and recursive walkers after it would overflow the stack.
 */
export const MAX_JSON_DEPTH = 128;

export type JsonBudget =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly uid?: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
// Strings worth remembering (keys at the top two levels, apiVersion, kind, uid) are short; longer ones
// are skipped without being decoded.
const MAX_CAPTURE_BYTES = MAX_UID_LENGTH * 6 + 2;

/**
 * A linear pre-scan of a JSON body, before JSON.parse: refuses nesting deeper than `maxDepth`. On a
 * refusal it also says the request's uid when the body is an AdmissionReview v1 whose `request.uid`
 * came before the over-deep part (the API server writes `uid` first), so that the refusal can be an
 * AdmissionReview denial rather than an HTTP error the API server would treat as a webhook failure.
 * Malformed JSON is left to JSON.parse. Never throws; one pass over the bytes.
 */
export function checkJsonDepth(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): JsonBudget {
  const containers = new Uint8Array(maxDepth + 1); // 1: object, 2: array, per level
  let depth = 0;
  let expectKey = false; // inside an object, the next string is a key
  let key1: string | undefined; // current key of the root object
  let key2: string | undefined; // current key of the object one level down
  let apiVersion: string | undefined;
  let kind: string | undefined;
  let uid: string | undefined;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (c === QUOTE) {
      const end = stringEnd(bytes, i + 1);
      if (end < 0) break; // unterminated: JSON.parse says so
      const isKey = expectKey && containers[depth] === 1;
      if (depth <= 2 && end - i + 1 <= MAX_CAPTURE_BYTES) {
        const text = decodeJsonString(bytes, i, end + 1);
        if (isKey) {
          if (depth === 1) key1 = text;
          else key2 = text;
        } else if (depth === 1 && key1 === 'apiVersion') apiVersion = text;
        else if (depth === 1 && key1 === 'kind') kind = text;
        else if (depth === 2 && key1 === 'request' && key2 === 'uid' && containers[1] === 1) uid = text;
      } else if (isKey && depth <= 2) {
        if (depth === 1) key1 = undefined;
        else key2 = undefined;
      }
      expectKey = false;
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === maxDepth) {
        const error = `body: JSON nested deeper than ${maxDepth} levels`;
        const envelope = apiVersion === ADMISSION_API_VERSION && kind === ADMISSION_KIND;
        return envelope && isUid(uid) ? { ok: false, error, uid } : { ok: false, error };
      }
      depth += 1;
      containers[depth] = c === OPEN_OBJECT ? 1 : 2;
      expectKey = c === OPEN_OBJECT;
      if (depth === 2) key2 = undefined;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth -= 1;
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = containers[depth] === 1;
    } else if (c === COLON) {
      expectKey = false;
    }
    i += 1;
  }
  return { ok: true };
}

/** Index of the quote that closes the string whose content starts at `from`, or -1. */
function stringEnd(bytes: Uint8Array, from: number): number {
  // One walk, escapes stepped over: a native search per quote would cost a call per escaped quote.
  const n = bytes.length;
  let k = from;
  while (k < n) {
    const b = bytes[k];
    if (b === QUOTE) return k;
    k += b === BACKSLASH ? 2 : 1;
  }
  return -1;
}

function decodeJsonString(bytes: Uint8Array, start: number, end: number): string | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(start, end)));
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
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
    readonly status?: {
      readonly code: number;
      readonly message: string;
      readonly reason?: string;
      readonly details?: { readonly causes: readonly StatusCause[] };
    };
    readonly warnings?: readonly string[];
  };
}

/**
 * One finding of a denial, as Kubernetes' own `metav1.StatusCause`: `reason` is the reason code, `field`
 * the field path, `message` the reference, policy and fix. The API server passes `status.details` of a
 * webhook's denial on to the client, so pipelines read codes per reference instead of parsing text.
 */
export interface StatusCause {
  readonly reason: string;
  readonly field: string;
  readonly message: string;
}

/** Causes listed at most (the message lists every finding); each cause's message at most this long. */
export const MAX_CAUSES = 64;
export const MAX_CAUSE_MESSAGE_CHARS = 1024;

/** The causes of a denial: its Enforce findings, in order, deduplicated. */
export function statusCauses(decision: Decision): StatusCause[] {
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  for (const f of decision.findings) {
    if (f.mode !== 'Enforce') continue;
    const who = f.policy ? `modelgate policy ${f.policy}` : 'modelgate, no policy';
    const message = truncateChars(
      `${f.reference} (${who}): ${withFix(f.message, f.fix)}`,
      MAX_CAUSE_MESSAGE_CHARS,
    );
    const key = `${f.code}\0${f.fieldPath}\0${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ reason: f.code, field: f.fieldPath, message });
    if (out.length === MAX_CAUSES) break;
  }
  return out;
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
    status?: AdmissionReviewResponse['response']['status'];
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
    const causes = statusCauses(decision);
    response.status = {
      code,
      message,
      ...(reason === undefined ? {} : { reason }),
      ...(causes.length > 0 ? { details: { causes } } : {}),
    };
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
/**
 * The answer to an AdmissionReview that cannot be read but names its uid: one for `serve` and
 * `review`, so that both say the same thing with the same fix.
 */
export function invalidReviewDenial(error: string): Decision {
  return serverDenial('REQUEST_INVALID', 400, `the AdmissionReview is not valid: ${error}`);
}

export function serverDenial(code: ReasonCode, status: number, detail: string): Decision {
  const fix = REASON_FIX[code];
  return {
    allowed: false,
    status,
    message: `${code}: ${withFix(detail, fix)}`,
    warnings: [],
    // About the request as a whole, like the engine's own REQUEST_INVALID: no reference, no policy.
    findings: [{ code, fieldPath: 'request', reference: '-', mode: 'Enforce', message: detail, fix }],
  };
}
