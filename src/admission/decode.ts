/**
 * Turns an admission request body into the AdmissionRequest the engine reads: the nesting budget,
 * UTF-8, JSON, the AdmissionReview envelope, and the admitted object pruned to what modelgate reads of
 * it (src/workload/prune.ts). Pure and synchronous: src/admission/decoder.ts runs it inline for small
 * bodies and in a worker thread for large ones, where JSON.parse alone would block the event loop for
 * tens of milliseconds (about 15 ms per MB).
 */
import { pruneAdmittedObject } from '../workload/prune.ts';
import { checkJsonDepth, parseAdmissionReview, type ReviewParse } from './review.ts';

export type DecodedBody =
  /** An AdmissionReview, or a refusal of one that may carry its uid (answered as a denial). */
  | { readonly kind: 'review'; readonly parse: ReviewParse }
  /** Not JSON at all: answered with an HTTP error. */
  | { readonly kind: 'http-error'; readonly status: number; readonly message: string };

export function decodeReviewBody(body: Uint8Array): DecodedBody {
  // Before JSON.parse, which takes seconds over deep nesting: refused as REQUEST_INVALID.
  const budget = checkJsonDepth(body);
  if (!budget.ok) {
    const parse: ReviewParse =
      budget.uid === undefined
        ? { ok: false, error: budget.error }
        : { ok: false, error: budget.error, uid: budget.uid };
    return { kind: 'review', parse };
  }
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.trim().length === 0)
    return { kind: 'http-error', status: 400, message: 'request body is empty: send an AdmissionReview' };
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return { kind: 'http-error', status: 400, message: `malformed JSON: ${(err as Error).message}` };
  }
  const parse = parseAdmissionReview(json);
  if (!parse.ok) return { kind: 'review', parse };
  const { oldObject: _old, ...request } = parse.request;
  return {
    kind: 'review',
    parse: {
      ok: true,
      request: { ...request, object: pruneAdmittedObject(request.kind, request.object, request.subResource) },
    },
  };
}
