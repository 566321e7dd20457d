// Issue 16, finding 5: the HTTPS listener of the real `modelgate serve` closes connections that never
// send a ClientHello (after the handshake timeout, not Node's default 120 s), and requests whose headers
// never finish (after the header timeout), while a real AdmissionReview still gets its answer at once.
import { mkdtemp, rm } from 'node:fs/promises';
import { type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LISTENER_DEFAULTS } from '../../../src/config.ts';
import { podReview, type ServeProcess, startServe } from '../../support/serve.ts';
import { writePolicies } from '../../support/signed-models.ts';
import { startTestServer } from './harness.ts';

const IDLE = 64;

/** Resolves with the milliseconds from `since` to the socket's close. */
function closedAfter(socket: Socket, since: number): Promise<number> {
  return new Promise((resolve) => socket.once('close', () => resolve(performance.now() - since)));
}

describe('HTTPS listener limits (real serve)', () => {
  let dir: string;
  let serve: ServeProcess;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-listener-'));
    const policyFile = await writePolicies(dir, [
      {
        apiVersion: 'modelgate.dev/v1alpha1',
        kind: 'ModelPolicy',
        metadata: { name: 'none' },
        spec: { models: ['registry.invalid/**'], signatures: { required: false } },
      },
    ]);
    serve = await startServe(['--policy-file', policyFile]);
    port = Number(new URL(serve.url).port);
  });

  afterAll(async () => {
    await serve?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('closes idle pre-TLS connections after the handshake timeout, and still answers an AdmissionReview in time', async () => {
    const started = performance.now();
    const idle: Socket[] = [];
    for (let i = 0; i < IDLE; i++) {
      const s = tcpConnect(port, '127.0.0.1');
      s.on('error', () => {});
      idle.push(s);
    }
    await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
    const closes = idle.map((s) => closedAfter(s, started));

    // A headers request that never finishes: TLS done, half a request line sent.
    const slow = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    slow.on('error', () => {});
    await new Promise((r) => slow.once('secureConnect', r));
    const slowStarted = performance.now();
    slow.write('POST /validate HTTP/1.1\r\nHost: x\r\n');
    let slowAnswer = '';
    slow.on('data', (d: Buffer) => {
      slowAnswer += d.toString('latin1');
    });
    const slowClosed = closedAfter(slow, slowStarted);

    // While they are held, a real admission is answered, well within a webhook's timeout.
    const answered = await serve.validate(podReview('l-1', ['registry.example/ungoverned/m:v1']));
    expect(answered.status).toBe(200);
    expect(answered.ms).toBeLessThan(2_000);

    const times = await Promise.all(closes);
    const limit = LISTENER_DEFAULTS.handshakeTimeoutMs;
    for (const t of times) {
      expect(t).toBeGreaterThan(limit - 500);
      // Node's default would be 120 s; the check runs every second.
      expect(t).toBeLessThan(limit + 3_000);
    }
    const slowTime = await slowClosed;
    expect(slowTime).toBeGreaterThan(LISTENER_DEFAULTS.headersTimeoutMs - 500);
    expect(slowTime).toBeLessThan(LISTENER_DEFAULTS.headersTimeoutMs + 3_000);
    expect(slowAnswer).toMatch(/^HTTP\/1\.1 408 /);

    // And the server still answers afterwards.
    const again = await serve.validate(podReview('l-2', []));
    expect(again.answer.allowed).toBe(true);
  }, 60_000);
});

describe('HTTPS listener connection cap (admission server)', () => {
  it('closes connections beyond the cap as they arrive, logs it once, and serves again once below it', async () => {
    const t = await startTestServer({ listener: { maxConnections: 4 } });
    try {
      const port = t.server.port;
      const held: Socket[] = [];
      for (let i = 0; i < 4; i++) {
        const s = tcpConnect(port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      // Give the server a turn to count them.
      await new Promise((r) => setTimeout(r, 100));
      const extra = tcpConnect(port, '127.0.0.1');
      extra.on('error', () => {});
      extra.resume();
      const closedMs = await closedAfter(extra, performance.now());
      expect(closedMs).toBeLessThan(1_000);
      expect(t.logs.filter((l) => l.msg.includes('connection cap'))).toHaveLength(1);
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect((await t.send('GET', '/healthz')).status).toBe(200);
    } finally {
      await t.stop();
    }
  });
});
