/**
 * `POST /validate` is served before express; the other spellings of the path that express routes to the
 * same handler must answer exactly as it does, and so must a failure the handler does not expect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/engine/decision.ts';
import { ALLOW, deny, review, UID, warn } from '../../unit/admission/builders.ts';
import { metric, startTestServer, type TestServer } from './harness.ts';

let current: TestServer | undefined;
async function start(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  current = await startTestServer(opts);
  return current;
}
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

const JSON_HEADERS = { 'content-type': 'application/json' };

describe('POST /validate before express', () => {
  it('answers the same on /validate as on the paths express routes there', async () => {
    const t = await start({ decide: async (req) => (req.uid === 'd' ? deny() : warn('careful')) });
    for (const uid of [UID, 'd']) {
      const body = JSON.stringify(review({ uid }));
      const replies = [];
      for (const path of ['/validate', '/validate?timeout=10s', '/validate/', '/VALIDATE']) {
        replies.push(await t.send('POST', path, body, JSON_HEADERS));
      }
      const [fast, ...viaExpress] = replies;
      for (const reply of viaExpress) {
        expect(reply.status).toBe(fast!.status);
        expect(reply.text).toBe(fast!.text);
        expect(reply.headers['content-type']).toBe(fast!.headers['content-type']);
        expect(reply.headers['content-length']).toBe(fast!.headers['content-length']);
        expect(reply.headers['allow']).toBeUndefined();
        expect(reply.headers['x-powered-by']).toBeUndefined();
      }
      expect(fast!.headers['content-length']).toBe(String(Buffer.byteLength(fast!.text)));
    }
    const decisions = t.logs.filter((l) => l.msg === 'admission decision');
    expect(decisions).toHaveLength(8);
    expect(decisions.every((l) => typeof l['uid'] === 'string')).toBe(true);
  });

  it('answers the same refusals on both paths', async () => {
    const t = await start({ maxBodyBytes: 4096 });
    const cases: [string, Record<string, string>][] = [
      ['not json', JSON_HEADERS],
      ['', JSON_HEADERS],
      [JSON.stringify(review()), { 'content-type': 'text/plain' }],
      [JSON.stringify(review({ object: { pad: 'x'.repeat(10_000) } })), JSON_HEADERS],
      [JSON.stringify({ kind: 'Pod' }), JSON_HEADERS],
      [JSON.stringify(review({ object: null })), JSON_HEADERS],
    ];
    for (const [body, headers] of cases) {
      const fast = await t.send('POST', '/validate', body, headers);
      const slow = await t.send('POST', '/validate?x=1', body, headers);
      expect(slow.status).toBe(fast.status);
      expect(slow.text).toBe(fast.text);
      expect(slow.headers['content-type']).toBe('application/json');
      expect(fast.headers['content-type']).toBe('application/json');
    }
    expect(t.decided).toHaveLength(0);
  });

  it('answers a failure the handler does not expect with 500 on both paths, never allowing', async () => {
    // A decision whose warnings are not strings passes the shape check but breaks the encoder.
    const broken = { allowed: true, warnings: [42], findings: [] } as unknown as Decision;
    const t = await start({ decide: async () => broken });
    for (const path of ['/validate', '/validate/']) {
      const reply = await t.send('POST', path, JSON.stringify(review()), JSON_HEADERS);
      expect(reply.status).toBe(500);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.json).toEqual({ error: 'internal error' });
    }
    expect(t.logs.filter((l) => l.msg === 'unhandled error in request handler')).toHaveLength(2);
    // Still serving.
    expect((await t.send('GET', '/healthz')).status).toBe(200);
  });

  it('logs exactly one line per decision and counts each request once', async () => {
    const t = await start({ decide: async () => ALLOW });
    for (let i = 0; i < 5; i++) await t.validate(review({ uid: `u-${i}` }));
    const lines = t.logs.filter((l) => l.msg === 'admission decision');
    expect(lines.map((l) => l['uid'])).toEqual(['u-0', 'u-1', 'u-2', 'u-3', 'u-4']);
    const text = (await t.send('GET', '/metrics')).text;
    expect(metric(text, 'modelgate_admission_requests_total{result="allowed"}')).toBe(5);
    expect(metric(text, 'modelgate_admission_duration_seconds_count{result="allowed"}')).toBe(5);
  });
});
