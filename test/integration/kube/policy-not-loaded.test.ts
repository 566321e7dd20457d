// Issue 16, finding 4: in cluster mode `/validate` decides only once the first full ModelPolicy list is in.
// The real `modelgate serve --kubernetes` runs against a scripted API server on loopback that refuses to
// list ModelPolicies at first (as an API server that is starting, or unreachable, would): a modelcar
// image that a policy will govern must not be admitted meanwhile (with no policy, no image counts as a
// model); it is refused with POLICY_NOT_LOADED within the deadline. Once the list is served, the same
// request is decided by the policy.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_CODES } from '../../../src/verdict/reasons.ts';
import { type FakeServer, sendJson, startFakeServer } from '../../support/fake-server.ts';
import { type ServeProcess, startServe } from '../../support/serve.ts';

const DEADLINE_MS = 1_500;
const MODELCAR = 'registry.example/models/pickle:v1';

function codesOf(message: string | undefined): string[] {
  return REASON_CODES.filter((c) => new RegExp(`\\b${c}\\b`).test(message ?? ''));
}

/** A Pod whose init container is a modelcar image (a model only if a policy's globs say so). */
function modelcarReview(uid: string): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'ml',
      name: `pod-${uid}`,
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `pod-${uid}` },
        spec: {
          initContainers: [{ name: 'model', image: MODELCAR }],
          containers: [{ name: 'c', image: 'busybox' }],
        },
      },
    },
  };
}

describe('cluster mode: no decision before the policies are loaded (real serve --kubernetes)', () => {
  let dir: string;
  let api: FakeServer;
  let serve: ServeProcess;
  let listing = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-not-loaded-'));
    api = await startFakeServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const watch = url.searchParams.get('watch');
      if (watch === 'true' || watch === '1') {
        // A watch that stays open and says nothing.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return;
      }
      if (req.method !== 'GET') {
        sendJson(res, 200, {});
        return;
      }
      if (url.pathname === '/apis/modelgate.dev/v1alpha1/modelpolicies') {
        if (!listing) {
          sendJson(res, 503, {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'ServiceUnavailable',
            code: 503,
          });
          return;
        }
        sendJson(res, 200, {
          apiVersion: 'modelgate.dev/v1alpha1',
          kind: 'ModelPolicyList',
          metadata: { resourceVersion: '10' },
          items: [
            {
              apiVersion: 'modelgate.dev/v1alpha1',
              kind: 'ModelPolicy',
              metadata: { name: 'models', uid: 'a0000000-0000-4000-8000-000000000001', generation: 1 },
              spec: { models: ['registry.example/models/**'], signatures: { required: false } },
            },
          ],
        });
        return;
      }
      if (url.pathname === '/api/v1/namespaces') {
        sendJson(res, 200, {
          apiVersion: 'v1',
          kind: 'NamespaceList',
          metadata: { resourceVersion: '5' },
          items: [],
        });
        return;
      }
      sendJson(res, 404, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
      });
    });
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'fake', cluster: { server: `http://${api.host}`, 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'u', user: { token: 'not-a-secret' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u', namespace: 'modelgate-system' } }],
        'current-context': 'fake',
      }),
    );
    serve = await startServe([
      '--kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'modelgate-system',
      '--no-events',
      '--deadline-ms',
      String(DEADLINE_MS),
    ]);
  });

  afterAll(async () => {
    await serve?.stop();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses with POLICY_NOT_LOADED (never an allow) within the deadline, then decides once the list is in', async () => {
    // The lists were tried and refused: the process is up, not ready.
    expect((await serve.send('GET', '/readyz')).status).toBe(503);
    const early = await serve.validate(modelcarReview('n-1'));
    expect(early.status).toBe(200);
    expect(early.answer.allowed).toBe(false);
    expect(codesOf(early.answer.message)).toEqual(['POLICY_NOT_LOADED']);
    // It waited for the list within the deadline, then answered: before the API server's timeout.
    expect(early.ms).toBeGreaterThan(DEADLINE_MS - 100);
    expect(early.ms).toBeLessThan(DEADLINE_MS + 1_500);

    listing = true;
    const until = Date.now() + 30_000;
    while ((await serve.send('GET', '/readyz')).status !== 200) {
      if (Date.now() > until) throw new Error(`never ready:\n${serve.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Now the policy governs the modelcar image: a tag is refused by its own rule, without any network.
    const decided = await serve.validate(modelcarReview('n-2'));
    expect(decided.answer.allowed).toBe(false);
    expect(codesOf(decided.answer.message)).toEqual(['DIGEST_REQUIRED']);
  }, 90_000);
});
