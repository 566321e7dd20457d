import { X509Certificate } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmissionServer } from '../../../src/admission/server.ts';
import type { Decision } from '../../../src/engine/decision.ts';
import { REASON_FIX } from '../../../src/verdict/reasons.ts';
import { ALLOW, deny, review, UID, warn } from '../../unit/admission/builders.ts';
import { metric, type Reply, sendRequest, startTestServer, type TestServer } from './harness.ts';

interface ReviewReply {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
  };
}

function answer(reply: Reply): ReviewReply['response'] {
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toBe('application/json');
  const body = reply.json as ReviewReply;
  expect(body.apiVersion).toBe('admission.k8s.io/v1');
  expect(body.kind).toBe('AdmissionReview');
  return body.response;
}

function httpError(reply: Reply, status: number): string {
  expect(reply.status).toBe(status);
  expect(reply.headers['content-type']).toBe('application/json');
  const body = reply.json as { error?: unknown; response?: unknown };
  expect(body.response).toBeUndefined();
  expect(typeof body.error).toBe('string');
  return body.error as string;
}

let current: TestServer | undefined;
async function start(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  current = await startTestServer(opts);
  return current;
}
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

describe('POST /validate', () => {
  it('answers an allowed decision with the uid, and hands decide the parsed request', async () => {
    const t = await start({ decide: async () => ALLOW });
    const res = answer(await t.validate(review()));
    expect(res).toEqual({ uid: UID, allowed: true });
    expect(t.decided).toHaveLength(1);
    const { request, signal } = t.decided[0]!;
    expect(request.uid).toBe(UID);
    expect(request.kind).toEqual({ group: '', version: 'v1', kind: 'Pod' });
    expect((request.object as { kind: string }).kind).toBe('Pod');
    expect(signal.aborted).toBe(false);
    const entry = t.logs.find((l) => l.msg === 'admission decision');
    expect(entry).toMatchObject({
      uid: UID,
      kind: 'Pod',
      namespace: 'ml',
      name: 'inference',
      operation: 'CREATE',
      allowed: true,
      result: 'allowed',
      codes: [],
    });
    expect(typeof entry?.['durationMs']).toBe('number');
  });

  it('answers a denial with its status and message, and logs the finding codes', async () => {
    const t = await start({ decide: async () => deny('modelgate refused pod ml/inference: unsigned') });
    const res = answer(await t.validate(review()));
    expect(res).toEqual({
      uid: UID,
      allowed: false,
      status: {
        code: 403,
        message: 'modelgate refused pod ml/inference: unsigned',
        reason: 'Forbidden',
        details: { causes: [expect.objectContaining({ reason: 'SIGNATURE_MISSING' })] },
      },
    });
    expect(t.logs.find((l) => l.msg === 'admission decision')).toMatchObject({
      uid: UID,
      allowed: false,
      result: 'denied',
      codes: ['SIGNATURE_MISSING'],
    });
  });

  it('answers a Warn-mode decision with warnings', async () => {
    const t = await start({ decide: async () => warn('modelgate: model is unsigned') });
    const res = answer(await t.validate(review()));
    expect(res).toEqual({ uid: UID, allowed: true, warnings: ['modelgate: model is unsigned'] });
    expect(t.logs.find((l) => l.msg === 'admission decision')?.['result']).toBe('warned');
  });

  it('refuses malformed JSON with 400 and a clear error, never allowing', async () => {
    const t = await start();
    for (const body of ['{"apiVersion": ', 'not json', '{"a":1}}', "{'single':'quotes'}"]) {
      const reply = await t.send('POST', '/validate', body, { 'content-type': 'application/json' });
      expect(httpError(reply, 400)).toMatch(/^malformed JSON: /);
    }
    expect(
      httpError(await t.send('POST', '/validate', '', { 'content-type': 'application/json' }), 400),
    ).toBe('request body is empty: send an AdmissionReview');
    expect(t.decided).toHaveLength(0);
  });

  it('reads a body that starts with a byte order mark', async () => {
    const t = await start();
    const reply = await t.send('POST', '/validate', `\ufeff${JSON.stringify(review())}`, {
      'content-type': 'application/json; charset=UTF-8',
    });
    expect(answer(reply).allowed).toBe(true);
  });

  it('refuses anything but application/json with 415', async () => {
    const t = await start();
    const body = JSON.stringify(review());
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'content-type': 'text/plain' }, /needs Content-Type: application\/json, got "text\/plain"/],
      [{}, /needs Content-Type: application\/json, got none/],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, /needs Content-Type: application\/json/],
      [{ 'content-type': 'application/json; charset=latin1' }, /unsupported charset "latin1": send UTF-8/],
      [
        { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        /unsupported Content-Encoding "gzip"/,
      ],
    ];
    for (const [headers, error] of cases) {
      expect(httpError(await t.send('POST', '/validate', body, headers), 415)).toMatch(error);
    }
    // Parameters and case do not matter.
    const ok = await t.send('POST', '/validate', body, {
      'content-type': 'Application/JSON; charset="utf-8"',
    });
    expect(answer(ok).allowed).toBe(true);
    expect(t.decided).toHaveLength(1);
  });

  it('refuses an oversized body with 413 and goes on serving, on the same connection too', async () => {
    const t = await start({ maxBodyBytes: 4096 });
    const big = JSON.stringify(review({ object: { pad: 'x'.repeat(100_000) } }));
    const first = await t.send('POST', '/validate', big, { 'content-type': 'application/json' });
    expect(httpError(first, 413)).toBe('request body larger than the limit of 4096 bytes (--max-body-bytes)');
    const after = await t.validate(review());
    expect(answer(after).allowed).toBe(true);
    expect(after.reusedSocket).toBe(true);
    expect(t.decided).toHaveLength(1);
  });

  it('refuses an oversized chunked body (no Content-Length) with 413', async () => {
    const t = await start({ maxBodyBytes: 4096 });
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest(
        `${t.server.url}/validate`,
        { method: 'POST', agent: t.agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              json: JSON.parse(text),
            } as Reply);
          });
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
      req.end();
    });
    expect(httpError(reply, 413)).toMatch(/larger than the limit of 4096 bytes/);
    expect(answer(await t.validate(review())).allowed).toBe(true);
  });

  it('survives a client that keeps sending far past the limit', async () => {
    const t = await start({ maxBodyBytes: 1024 });
    const huge = Buffer.alloc(40 * 1024 * 1024, 0x20);
    const outcome = await sendRequest(t.agent, `${t.server.url}/validate`, 'POST', huge, {
      'content-type': 'application/json',
    }).then(
      (r) => r.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    // Either the answer arrives before the server drops the connection, or the reset does.
    expect([413, 'ECONNRESET', 'EPIPE']).toContain(outcome);
    expect((await t.send('GET', '/healthz')).status).toBe(200);
    expect(answer(await t.validate(review())).allowed).toBe(true);
  });

  it('refuses JSON that is not an AdmissionReview with 400 when no uid can be read', async () => {
    const t = await start();
    for (const body of [[], 'string', 42, null, { kind: 'Pod' }, review({ uid: '' })]) {
      const error = httpError(await t.validate(body), 400);
      expect(error).toMatch(/^not a valid admission.k8s.io\/v1 AdmissionReview: /);
    }
    expect(t.decided).toHaveLength(0);
  });

  it('denies an invalid AdmissionReview that has a uid with REQUEST_INVALID, code 400', async () => {
    const t = await start();
    const res = answer(await t.validate(review({ kind: 'Pod', operation: 'CREATE', object: null })));
    expect(res.uid).toBe(UID);
    expect(res.allowed).toBe(false);
    expect(res.status?.code).toBe(400);
    expect(res.status?.reason).toBe('BadRequest');
    expect(res.status?.message).toMatch(/^REQUEST_INVALID: the AdmissionReview is not valid: request.kind: /);
    expect(res.status?.message).toContain('request.object: must be an object for CREATE');
    expect(res.status?.message).toContain(REASON_FIX.REQUEST_INVALID);
    expect(t.decided).toHaveLength(0);
  });

  it('denies with INTERNAL_ERROR when decide throws, rejects or returns something else', async () => {
    const failures: (() => Promise<Decision>)[] = [
      async () => {
        throw new Error('boom: registry client exploded');
      },
      () => {
        throw new TypeError('synchronous throw');
      },
      async () => undefined as unknown as Decision,
      async () => ({ allowed: true }) as unknown as Decision,
    ];
    for (const decide of failures) {
      const t = await start({ decide });
      const res = answer(await t.validate(review()));
      expect(res.uid).toBe(UID);
      expect(res.allowed).toBe(false);
      expect(res.status?.code).toBe(500);
      expect(res.status?.message).toMatch(/^INTERNAL_ERROR: modelgate failed to evaluate the request \(uid /);
      expect(res.status?.message).not.toContain('boom');
      const entry = t.logs.find((l) => l.msg === 'admission decision failed');
      expect(entry).toMatchObject({ uid: UID, allowed: false, result: 'error' });
      expect(entry?.['err']).toBeDefined();
      await t.stop();
      current = undefined;
    }
  });

  it('denies with DEADLINE_EXCEEDED when decide outlives requestTimeoutMs, and aborts its signal', async () => {
    const t = await start({ requestTimeoutMs: 150, decide: () => new Promise<Decision>(() => {}) });
    const began = Date.now();
    const res = answer(await t.validate(review()));
    expect(Date.now() - began).toBeGreaterThanOrEqual(140);
    expect(res).toMatchObject({ uid: UID, allowed: false, status: { code: 504, reason: 'Timeout' } });
    expect(res.status?.message).toMatch(/^DEADLINE_EXCEEDED: no decision within 150 ms/);
    const signal = t.decided[0]!.signal;
    expect(signal.aborted).toBe(true);
    expect(String(signal.reason)).toMatch(/no decision within 150 ms/);
    expect(t.logs.find((l) => l.msg === 'admission decision failed')?.['result']).toBe('error');
  });

  it('ignores a decision that comes after the deadline', async () => {
    const t = await start({
      requestTimeoutMs: 50,
      decide: () => new Promise<Decision>((resolve) => setTimeout(() => resolve(ALLOW), 200)),
    });
    expect(answer(await t.validate(review())).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect((await t.send('GET', '/healthz')).status).toBe(200);
  });

  it('aborts the signal when the client goes away', async () => {
    let aborted: unknown;
    const t = await start({
      decide: (_req, signal) =>
        new Promise<Decision>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            reject(signal.reason);
          });
        }),
    });
    const req = httpsRequest(`${t.server.url}/validate`, {
      method: 'POST',
      agent: false,
      ca: t.server.caPem,
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', () => {});
    req.end(JSON.stringify(review()));
    await until(() => t.decided.length === 1);
    req.destroy();
    await until(() => aborted !== undefined);
    expect(String(aborted)).toMatch(/client closed the connection/);
  });

  it('answers GET /validate with 405', async () => {
    const t = await start();
    const reply = await t.send('GET', '/validate');
    expect(httpError(reply, 405)).toBe('method not allowed: use POST /validate');
    expect(reply.headers['allow']).toBe('POST');
  });

  it('never logs the request body or its headers', async () => {
    const t = await start({ decide: async () => deny() });
    const secret = review({
      object: { kind: 'Pod', metadata: { annotations: { token: 'hunter2-annotation' } } },
    });
    await t.send('POST', '/validate', JSON.stringify(secret), {
      'content-type': 'application/json',
      authorization: 'Bearer hunter2-token',
    });
    await t.send('POST', '/validate', '{"broken": "hunter2-broken', {
      'content-type': 'application/json',
      authorization: 'Bearer hunter2-token',
    });
    const all = JSON.stringify(t.logs);
    expect(all).not.toContain('hunter2');
    expect(all.toLowerCase()).not.toContain('authorization');
  });

  it('reuses kept-alive connections', async () => {
    const t = await start();
    const first = await t.validate(review());
    const second = await t.validate(review());
    expect(first.reusedSocket).toBe(false);
    expect(second.reusedSocket).toBe(true);
    expect(second.headers['connection']).toBe('keep-alive');
    expect(second.headers['x-powered-by']).toBeUndefined();
  });

  it('answers concurrent requests each with its own uid', async () => {
    const t = await start({
      decide: async (req) => (req.uid.endsWith('0') ? deny() : ALLOW),
    });
    const uids = Array.from({ length: 60 }, (_, i) => `uid-${i}`);
    const replies = await Promise.all(uids.map((uid) => t.validate(review({ uid }))));
    replies.forEach((reply, i) => {
      const res = answer(reply);
      expect(res.uid).toBe(uids[i]);
      expect(res.allowed).toBe(!uids[i]!.endsWith('0'));
    });
  });

  it('never allows an arbitrary JSON body that is not a valid review', async () => {
    const t = await start({ decide: async () => ALLOW });
    const broken = fc
      .tuple(
        fc.constantFrom('uid', 'kind', 'operation', 'object', 'apiVersion', 'request'),
        fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })),
      )
      .filter(([field, value]) => {
        // Values that would still make a valid review are not "broken".
        if (field === 'uid') return !(typeof value === 'string' && value.length > 0 && value.length <= 256);
        if (field === 'object') return typeof value !== 'object' || value === null || Array.isArray(value);
        if (field === 'operation')
          return !['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(value as string);
        return true;
      })
      .map(([field, value]) => {
        const r = review() as Record<string, Record<string, unknown>>;
        if (field === 'apiVersion') return { ...r, apiVersion: value };
        if (field === 'request') return { ...r, request: value };
        return { ...r, request: { ...r['request'], [field]: value } };
      });
    const bodies = fc.oneof(fc.jsonValue(), broken);
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const reply = await t.send('POST', '/validate', JSON.stringify(body) ?? 'null', {
          'content-type': 'application/json',
        });
        if (reply.status === 200) {
          expect((reply.json as ReviewReply).response.allowed).toBe(false);
        } else {
          expect(reply.status).toBeGreaterThanOrEqual(400);
          expect(reply.status).toBeLessThan(500);
        }
      }),
      { numRuns: 200 },
    );
    expect(t.decided).toHaveLength(0);
  });
});

describe('health, readiness and metrics', () => {
  it('answers /healthz and /readyz, and does not log them', async () => {
    let ready = false;
    const t = await start({ ready: () => ready });
    const health = await t.send('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.text).toBe('ok');
    expect((await t.send('GET', '/readyz')).status).toBe(503);
    ready = true;
    const readyz = await t.send('GET', '/readyz');
    expect(readyz.status).toBe(200);
    expect(readyz.text).toBe('ok');
    await t.send('GET', '/metrics');
    const requestLogs = t.logs.filter((l) => l.msg !== 'admission server listening' && l.level >= 30);
    expect(
      requestLogs.filter(
        (l) => l.msg !== 'no TLS files given: serving with a generated self-signed certificate',
      ),
    ).toEqual([]);
  });

  it('reports not ready when ready() throws', async () => {
    const t = await start({
      ready: () => {
        throw new Error('informer not synced');
      },
    });
    expect((await t.send('GET', '/readyz')).status).toBe(503);
  });

  it('answers an unknown path with 404', async () => {
    const t = await start();
    expect(httpError(await t.send('GET', '/nope'), 404)).toBe('not found');
  });

  it('serves admission and process metrics', async () => {
    const t = await start({
      decide: async (req) => {
        if (req.uid === 'a') return ALLOW;
        if (req.uid === 'w') return warn('careful');
        if (req.uid === 'd') return deny();
        throw new Error('x');
      },
    });
    for (const uid of ['a', 'a', 'w', 'd', 'e']) await t.validate(review({ uid }));
    await t.send('POST', '/validate', 'nope', { 'content-type': 'application/json' });
    const reply = await t.send('GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    const text = reply.text;
    expect(metric(text, 'modelgate_admission_requests_total{result="allowed"}')).toBe(2);
    expect(metric(text, 'modelgate_admission_requests_total{result="warned"}')).toBe(1);
    expect(metric(text, 'modelgate_admission_requests_total{result="denied"}')).toBe(1);
    expect(metric(text, 'modelgate_admission_requests_total{result="error"}')).toBe(2);
    expect(metric(text, 'modelgate_admission_duration_seconds_count{result="allowed"}')).toBe(2);
    expect(metric(text, 'modelgate_admission_duration_seconds_bucket{le="10",result="allowed"}')).toBe(2);
    expect(
      metric(text, 'modelgate_admission_duration_seconds_bucket{le="0.001",result="error"}'),
    ).toBeDefined();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('refuses options it cannot serve with', async () => {
    const base = {
      port: 0,
      host: '127.0.0.1',
      tls: {},
      maxBodyBytes: 1024,
      ready: () => true,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      decide: async () => ALLOW,
    };
    await expect(startAdmissionServer({ ...base, maxBodyBytes: 0 })).rejects.toThrow(/maxBodyBytes must be/);
    await expect(startAdmissionServer({ ...base, requestTimeoutMs: -1 })).rejects.toThrow(
      /requestTimeoutMs must be/,
    );
  });

  it('shares one registry between two servers without throwing', async () => {
    const registry = new Registry();
    const logger = pino({ level: 'silent' });
    const base = { port: 0, host: '127.0.0.1', tls: {}, maxBodyBytes: 1024, ready: () => true, logger };
    const a = await startAdmissionServer({ ...base, metrics: registry, decide: async () => ALLOW });
    const b = await startAdmissionServer({ ...base, metrics: registry, decide: async () => ALLOW });
    await Promise.all([a.close(), b.close()]);
  });
});

describe('TLS', () => {
  it('serves a generated self-signed certificate for localhost, 127.0.0.1 and ::1, returned as caPem', async () => {
    const t = await start({ tls: { dnsNames: ['modelgate.modelgate-system.svc'] } });
    expect(t.server.caPem).toBeDefined();
    const cert = new X509Certificate(t.server.caPem!);
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, DNS:modelgate.modelgate-system.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    // Hostname verification passes for both the IP and the name (the agent trusts only this certificate).
    const byName = await sendRequest(t.agent, `https://localhost:${t.server.port}/healthz`, 'GET');
    expect(byName.status).toBe(200);
    expect(byName.fingerprint256).toBe(cert.fingerprint256);
    expect(
      t.logs.some((l) => l.msg === 'no TLS files given: serving with a generated self-signed certificate'),
    ).toBe(true);
  });

  it('is refused by a client that does not trust it', async () => {
    const t = await start();
    const untrusting = new Agent({ keepAlive: false });
    await expect(sendRequest(untrusting, `${t.server.url}/healthz`, 'GET')).rejects.toMatchObject({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
  });

  it('refuses TLS 1.1', async () => {
    const t = await start();
    const error = await new Promise<Error>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: t.server.port,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        rejectUnauthorized: false,
      });
      socket.on('error', resolve);
      socket.on('secureConnect', () => resolve(new Error('connected')));
    });
    expect(error.message).not.toBe('connected');
  });

  it('stops accepting connections once closed', async () => {
    const t = await start();
    await t.stop();
    current = undefined;
    await expect(
      sendRequest(new Agent({ ca: t.server.caPem }), `${t.server.url}/healthz`, 'GET'),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
