import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADMISSION_API_VERSION,
  ADMISSION_KIND,
  admissionResponse,
  boundWarnings,
  MAX_MESSAGE_CHARS,
  MAX_UID_LENGTH,
  MAX_WARNING_RUNES,
  MAX_WARNINGS,
  MAX_WARNINGS_TOTAL_RUNES,
  parseAdmissionReview,
  type ReviewParse,
  serverDenial,
} from '../../../src/admission/review.ts';
import { REASON_FIX } from '../../../src/verdict/reasons.ts';
import { ALLOW, deny, finding, pod, review, UID, warn } from './builders.ts';

function failure(parse: ReviewParse): { error: string; uid?: string } {
  if (parse.ok) throw new Error(`expected a parse failure, got ${JSON.stringify(parse.request)}`);
  return parse;
}

describe('parseAdmissionReview', () => {
  it('reads a Pod CREATE review', () => {
    const parsed = parseAdmissionReview(review());
    expect(parsed).toEqual({
      ok: true,
      request: {
        uid: UID,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'ml',
        name: 'inference',
        operation: 'CREATE',
        object: pod(),
        dryRun: false,
        userInfo: { username: 'alice' },
      },
    });
  });

  it('keeps only the username of userInfo', () => {
    const parsed = parseAdmissionReview(
      review({ userInfo: { username: 'bob', groups: ['a'], extra: { x: ['y'] } } }),
    );
    expect(parsed.ok && parsed.request.userInfo).toEqual({ username: 'bob' });
    const noName = parseAdmissionReview(review({ userInfo: { groups: ['a'] } }));
    expect(noName.ok && noName.request.userInfo).toEqual({});
  });

  it('reads the optional fields when present and leaves them out when absent or null', () => {
    const full = parseAdmissionReview(
      review({ subResource: 'ephemeralcontainers', operation: 'UPDATE', oldObject: pod(), dryRun: true }),
    );
    expect(full.ok).toBe(true);
    if (!full.ok) return;
    expect(full.request.subResource).toBe('ephemeralcontainers');
    expect(full.request.oldObject).toEqual(pod());
    expect(full.request.dryRun).toBe(true);

    const minimal = parseAdmissionReview({
      apiVersion: ADMISSION_API_VERSION,
      kind: ADMISSION_KIND,
      request: {
        uid: 'u',
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        operation: 'CREATE',
        object: {},
      },
    });
    expect(minimal).toEqual({
      ok: true,
      request: {
        uid: 'u',
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        operation: 'CREATE',
        object: {},
      },
    });

    const nulls = parseAdmissionReview(
      review({
        namespace: null,
        name: '',
        subResource: null,
        dryRun: null,
        userInfo: null,
        resource: undefined,
      }),
    );
    expect(nulls.ok).toBe(true);
    if (!nulls.ok) return;
    for (const key of ['namespace', 'name', 'subResource', 'dryRun', 'userInfo', 'resource', 'oldObject']) {
      expect(nulls.request).not.toHaveProperty(key);
    }
  });

  it('accepts a DELETE or CONNECT without an object, as null', () => {
    for (const operation of ['DELETE', 'CONNECT']) {
      const parsed = parseAdmissionReview(review({ operation, object: undefined, oldObject: pod() }));
      expect(parsed.ok && parsed.request.object).toBeNull();
    }
  });

  it('refuses a body that is not an object, without a uid', () => {
    for (const body of [null, undefined, 'AdmissionReview', 42, true, [review()]]) {
      expect(failure(parseAdmissionReview(body))).toEqual({
        ok: false,
        error: 'body: must be a JSON object (an AdmissionReview)',
      });
    }
  });

  it('refuses a wrong apiVersion or kind, and does not echo the uid outside a v1 envelope', () => {
    const v1beta1 = failure(parseAdmissionReview({ ...review(), apiVersion: 'admission.k8s.io/v1beta1' }));
    expect(v1beta1.error).toContain(
      'apiVersion: must be "admission.k8s.io/v1", got "admission.k8s.io/v1beta1"',
    );
    expect(v1beta1.uid).toBeUndefined();

    const kind = failure(parseAdmissionReview({ ...review(), kind: 'AdmissionRequest' }));
    expect(kind.error).toContain('kind: must be "AdmissionReview", got "AdmissionRequest"');
    expect(kind.uid).toBeUndefined();

    const neither = failure(parseAdmissionReview({ request: review()['request'] }));
    expect(neither.error).toBe(
      'apiVersion: must be "admission.k8s.io/v1", got nothing; kind: must be "AdmissionReview", got nothing',
    );
  });

  it('refuses a missing or non-object request', () => {
    for (const request of [undefined, null, 'x', [1], 3]) {
      const f = failure(
        parseAdmissionReview({ apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, request }),
      );
      expect(f.error).toMatch(/^request: must be an object, got /);
      expect(f.uid).toBeUndefined();
    }
  });

  it('refuses a missing, empty, non-string or over-long uid, without a uid', () => {
    for (const uid of [undefined, '', 7, null, { id: 'x' }, 'u'.repeat(MAX_UID_LENGTH + 1)]) {
      const f = failure(parseAdmissionReview(review({ uid })));
      expect(f.error).toBe('request.uid: must be a non-empty string of at most 256 characters');
      expect(f.uid).toBeUndefined();
    }
    expect(parseAdmissionReview(review({ uid: 'u'.repeat(MAX_UID_LENGTH) })).ok).toBe(true);
  });

  it('refuses a bad kind and reports each bad field, with the uid', () => {
    const notObject = failure(parseAdmissionReview(review({ kind: 'Pod' })));
    expect(notObject).toEqual({
      ok: false,
      uid: UID,
      error: 'request.kind: must be an object with string fields group, version, kind, got "Pod"',
    });
    const fields = failure(parseAdmissionReview(review({ kind: { group: 1, version: '', kind: null } })));
    expect(fields.uid).toBe(UID);
    expect(fields.error).toBe(
      'request.kind.group: must be a string, got number 1; ' +
        'request.kind.version: must be a non-empty string, got ""; ' +
        'request.kind.kind: must be a non-empty string, got null',
    );
  });

  it('refuses a bad resource, when one is given', () => {
    const f = failure(parseAdmissionReview(review({ resource: { group: '', version: 'v1' } })));
    expect(f.error).toBe('request.resource.resource: must be a non-empty string, got nothing');
    expect(f.uid).toBe(UID);
    expect(failure(parseAdmissionReview(review({ resource: [] }))).error).toMatch(
      /^request.resource: must be an object/,
    );
  });

  it('refuses non-string namespace, name and subResource', () => {
    const f = failure(parseAdmissionReview(review({ namespace: 1, name: ['a'], subResource: {} })));
    expect(f.error).toBe(
      'request.subResource: must be a string, got an object; ' +
        'request.namespace: must be a string, got number 1; ' +
        'request.name: must be a string, got an array',
    );
  });

  it('refuses a missing, empty or unknown operation', () => {
    for (const operation of [undefined, '', 5, 'create', 'PATCH']) {
      const f = failure(parseAdmissionReview(review({ operation })));
      expect(f.error).toMatch(/^request.operation: must be one of CREATE, UPDATE, DELETE, CONNECT, got /);
      expect(f.uid).toBe(UID);
    }
  });

  it('refuses a CREATE or UPDATE without an object', () => {
    for (const operation of ['CREATE', 'UPDATE']) {
      for (const object of [undefined, null, 'pod', [pod()]]) {
        const f = failure(parseAdmissionReview(review({ operation, object })));
        expect(f.error).toMatch(new RegExp(`^request.object: must be an object for ${operation}, got `));
        expect(f.uid).toBe(UID);
      }
    }
  });

  it('refuses a non-boolean dryRun and a malformed userInfo', () => {
    expect(failure(parseAdmissionReview(review({ dryRun: 'true' }))).error).toBe(
      'request.dryRun: must be a boolean, got "true"',
    );
    expect(failure(parseAdmissionReview(review({ userInfo: 'alice' }))).error).toBe(
      'request.userInfo: must be an object, got "alice"',
    );
    expect(failure(parseAdmissionReview(review({ userInfo: { username: 5 } }))).error).toBe(
      'request.userInfo.username: must be a string, got number 5',
    );
  });

  it('collects every invalid field in one error', () => {
    const f = failure(
      parseAdmissionReview(review({ kind: null, operation: 1, object: null, dryRun: 0, namespace: false })),
    );
    expect(f.error.split('; ')).toHaveLength(4);
    expect(f.uid).toBe(UID);
  });

  it('never echoes a long string value into the error', () => {
    const f = failure(parseAdmissionReview(review({ operation: 'X'.repeat(10_000), object: null })));
    expect(f.error.length).toBeLessThan(200);
    const g = failure(parseAdmissionReview(review({ kind: 'Y'.repeat(10_000) })));
    expect(g.error).toContain('a 10000-character string');
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true }), (body) => {
        const parsed = parseAdmissionReview(body);
        expect(typeof parsed.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('never accepts a review with one required field broken', () => {
    const breakers: Record<string, unknown[]> = {
      uid: [undefined, '', 1],
      kind: [undefined, 'Pod', { group: '', version: 'v1' }],
      operation: [undefined, '', 0],
      object: [undefined, null, 'x'],
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(breakers)),
        fc.nat(2),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (field, which, extra) => {
          const request = { ...extra, ...(review()['request'] as object) } as Record<string, unknown>;
          request[field] = breakers[field]?.[which];
          expect(parseAdmissionReview({ ...review(), request }).ok).toBe(false);
        },
      ),
    );
  });
});

describe('admissionResponse', () => {
  it('encodes an allowed decision without status or warnings', () => {
    expect(admissionResponse(UID, ALLOW)).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: UID, allowed: true },
    });
  });

  it('encodes a denial with code 403, the message and the reason by default', () => {
    expect(admissionResponse(UID, deny('refused: unsigned'))).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: UID,
        allowed: false,
        status: {
          code: 403,
          message: 'refused: unsigned',
          reason: 'Forbidden',
          // Kubernetes' StatusCause convention: the code per field path, for pipelines to read.
          details: {
            causes: [
              {
                reason: 'SIGNATURE_MISSING',
                field: "metadata.annotations['modelgate.dev/models']",
                message:
                  'registry.example.com/models/llm:v1 (modelgate policy production-models): no signature found. Fix: sign it',
              },
            ],
          },
        },
      },
    });
  });

  it('lists each Enforce finding once as a cause, not the Warn and Audit ones, within bounds', () => {
    const d = deny('x');
    const many = {
      ...d,
      findings: [
        finding({ code: 'FORMAT_DENIED', fieldPath: 'spec.containers[0].args[1]' }),
        finding({ code: 'FORMAT_DENIED', fieldPath: 'spec.containers[0].args[1]' }),
        finding({ code: 'MLBOM_MISSING', mode: 'Warn' }),
        finding({ code: 'PROVENANCE_FAILED', mode: 'Audit' }),
        ...Array.from({ length: 100 }, (_, i) =>
          finding({
            code: 'SIGNATURE_INVALID',
            fieldPath: `spec.volumes[${i}].image.reference`,
            message: 'm'.repeat(3000),
          }),
        ),
      ],
    };
    const causes = admissionResponse(UID, many).response.status?.details?.causes ?? [];
    expect(causes[0]).toMatchObject({ reason: 'FORMAT_DENIED', field: 'spec.containers[0].args[1]' });
    expect(causes[1]).toMatchObject({
      reason: 'SIGNATURE_INVALID',
      field: 'spec.volumes[0].image.reference',
    });
    expect(causes).toHaveLength(64);
    expect(causes.map((c) => c.reason)).not.toContain('MLBOM_MISSING');
    expect(Math.max(...causes.map((c) => c.message.length))).toBeLessThanOrEqual(1024);
    // An allowed answer has no status at all (the API server ignores it).
    expect(admissionResponse(UID, { ...many, allowed: true }).response.status).toBeUndefined();
  });

  it("uses the decision's status code, with its Kubernetes reason where there is one", () => {
    const cases: [number, string | undefined][] = [
      [400, 'BadRequest'],
      [422, 'Invalid'],
      [429, 'TooManyRequests'],
      [500, 'InternalError'],
      [503, 'ServiceUnavailable'],
      [504, 'Timeout'],
      [418, undefined],
    ];
    for (const [code, reason] of cases) {
      const { details: _causes, ...status } = admissionResponse(UID, deny('x', code)).response.status ?? {};
      expect(status).toEqual(reason === undefined ? { code, message: 'x' } : { code, message: 'x', reason });
    }
  });

  it('falls back to 403 for a denial status that is not an HTTP error code', () => {
    for (const code of [0, 200, 302, 600, 403.5, Number.NaN]) {
      expect(admissionResponse(UID, deny('x', code)).response.status?.code).toBe(403);
    }
  });

  it('gives a denial without a message a generic one', () => {
    const decision = { allowed: false, warnings: [], findings: [] };
    expect(admissionResponse(UID, decision).response.status?.message).toBe('denied by modelgate');
    expect(admissionResponse(UID, { ...decision, message: '' }).response.status?.message).toBe(
      'denied by modelgate',
    );
  });

  it('truncates a huge denial message', () => {
    const message =
      admissionResponse(UID, deny('m'.repeat(MAX_MESSAGE_CHARS * 2))).response.status?.message ?? '';
    expect(message.length).toBe(MAX_MESSAGE_CHARS);
    expect(message.endsWith('... (truncated)')).toBe(true);
    // An astral character straddling the cut is dropped whole.
    const astral = `${'m'.repeat(MAX_MESSAGE_CHARS - 16)}😀${'m'.repeat(100)}`;
    const cut = admissionResponse(UID, deny(astral)).response.status?.message ?? '';
    expect(cut).toBe(`${'m'.repeat(MAX_MESSAGE_CHARS - 16)}... (truncated)`);
  });

  it('carries warnings on an allowed answer and on a denial, and none when empty', () => {
    expect(admissionResponse(UID, warn('w1', 'w2')).response).toEqual({
      uid: UID,
      allowed: true,
      warnings: ['w1', 'w2'],
    });
    const denial = admissionResponse(UID, { ...deny('no'), warnings: ['also this'] });
    expect(denial.response.warnings).toEqual(['also this']);
    expect(admissionResponse(UID, warn()).response).not.toHaveProperty('warnings');
    expect(admissionResponse(UID, warn('', '  ')).response).not.toHaveProperty('warnings');
  });

  it('echoes the uid exactly', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 256 }), fc.boolean(), (uid, allowed) => {
        expect(admissionResponse(uid, { ...ALLOW, allowed }).response.uid).toBe(uid);
      }),
    );
  });
});

describe('boundWarnings', () => {
  it('replaces control characters, trims, and drops empty and duplicate warnings', () => {
    expect(boundWarnings(['a\nb\r\n\tc', ' x ', 'x', '\u0000', 'd\u0085e', 'a\nb\r\n\tc'])).toEqual([
      'a b c',
      'x',
      'd e',
    ]);
  });

  it('cuts a warning at 256 runes, counting astral characters as one', () => {
    const [long] = boundWarnings(['w'.repeat(1000)]);
    expect(long).toBe(`${'w'.repeat(MAX_WARNING_RUNES - 1)}…`);
    const emoji = '😀'.repeat(MAX_WARNING_RUNES);
    expect(boundWarnings([emoji])).toEqual([emoji]);
    expect(Array.from(boundWarnings([`${emoji}!`])[0] ?? '')).toHaveLength(MAX_WARNING_RUNES);
  });

  it('keeps at most 50, the last one counting the rest', () => {
    const many = Array.from({ length: 120 }, (_, i) => `w${i}`);
    const out = boundWarnings(many);
    expect(out).toHaveLength(MAX_WARNINGS);
    expect(out.slice(0, -1)).toEqual(many.slice(0, MAX_WARNINGS - 1));
    expect(out.at(-1)).toBe('modelgate: 71 more warnings not shown (see the modelgate logs)');
    expect(boundWarnings(many.slice(0, MAX_WARNINGS))).toEqual(many.slice(0, MAX_WARNINGS));
  });

  it('keeps the total within 4096 runes', () => {
    const big = Array.from({ length: 30 }, (_, i) => `${i}`.padEnd(200, '.'));
    const out = boundWarnings(big);
    expect(out.join('').length).toBeLessThanOrEqual(MAX_WARNINGS_TOTAL_RUNES);
    expect(out).toHaveLength(21);
    expect(out.at(-1)).toBe('modelgate: 10 more warnings not shown (see the modelgate logs)');
    // The last warning needs no room for a "more" line.
    const exact = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(256, '.'));
    expect(boundWarnings(exact)).toEqual(exact);
  });

  it('always stays within every limit', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 600 }), { maxLength: 200 }), (warnings) => {
        const out = boundWarnings(warnings);
        expect(out.length).toBeLessThanOrEqual(MAX_WARNINGS);
        let total = 0;
        for (const w of out) {
          const runes = Array.from(w).length;
          expect(runes).toBeGreaterThan(0);
          expect(runes).toBeLessThanOrEqual(MAX_WARNING_RUNES);
          expect(w).not.toMatch(/\p{Cc}/u);
          total += runes;
        }
        expect(total).toBeLessThanOrEqual(MAX_WARNINGS_TOTAL_RUNES);
      }),
    );
  });
});

describe('serverDenial', () => {
  it('is a coded denial with the fix, and one finding about the request (its cause on the wire)', () => {
    const d = serverDenial('INTERNAL_ERROR', 500, 'modelgate failed');
    expect(d).toEqual({
      allowed: false,
      status: 500,
      message: `INTERNAL_ERROR: modelgate failed. Fix: ${REASON_FIX.INTERNAL_ERROR}`,
      warnings: [],
      findings: [
        {
          code: 'INTERNAL_ERROR',
          fieldPath: 'request',
          reference: '-',
          mode: 'Enforce',
          message: 'modelgate failed',
          fix: REASON_FIX.INTERNAL_ERROR,
        },
      ],
    });
    expect(admissionResponse(UID, d).response.status?.details?.causes).toEqual([
      expect.objectContaining({ reason: 'INTERNAL_ERROR', field: 'request' }),
    ]);
  });
});
