import { afterEach, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../../src/admission/review.ts';
import { ALLOW, review, UID } from '../../unit/admission/builders.ts';
import { startTestServer, type TestServer } from './harness.ts';

let current: TestServer | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

const deep = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;

describe('POST /validate with over-deep JSON', () => {
  it('denies it with REQUEST_INVALID and the uid, without parsing it and without calling decide', async () => {
    const t = await startTestServer({ decide: async () => ALLOW });
    current = t;
    const body = review({ object: { ...(review().request as { object: object }).object, spec: deep(300) } });
    const reply = await t.validate(body);
    expect(reply.status).toBe(200);
    const res = (
      reply.json as {
        response: { uid: string; allowed: boolean; status?: { code: number; message: string } };
      }
    ).response;
    expect(res.uid).toBe(UID);
    expect(res.allowed).toBe(false);
    expect(res.status?.code).toBe(400);
    expect(res.status?.message).toMatch(
      new RegExp(
        `^REQUEST_INVALID: the AdmissionReview is not valid: body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
      ),
    );
    expect(t.decided).toHaveLength(0);
    // Nesting within the limit still reaches decide.
    const ok = await t.validate(
      review({ object: { ...(review().request as { object: object }).object, x: deep(100) } }),
    );
    expect((ok.json as { response: { allowed: boolean } }).response.allowed).toBe(true);
    expect(t.decided).toHaveLength(1);
  });

  it('answers 400 when no uid came before the deep part', async () => {
    const t = await startTestServer({ decide: async () => ALLOW });
    current = t;
    const reply = await t.send('POST', '/validate', `{"x":${'['.repeat(1000)}${']'.repeat(1000)}}`, {
      'content-type': 'application/json',
    });
    expect(reply.status).toBe(400);
    expect((reply.json as { error: string }).error).toMatch(/JSON nested deeper than/);
  });
});
