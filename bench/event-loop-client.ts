/**
 * The client side of bench/event-loop.ts, in a worker thread: it builds the AdmissionReview bodies and
 * sends them, so that neither its JSON work nor its TLS encryption runs on the server's event loop,
 * which is the one measured.
 */
import { Agent, request } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientSetup {
  readonly url: string;
  readonly caPem?: string;
  readonly signed: readonly string[];
  readonly requests: number;
}

/** What the main thread asks for, one phase at a time, and what it gets back. */
export type ToClient = { readonly run: number };
export type FromClient =
  | { readonly phases: readonly { name: string; requests: number }[] }
  | { readonly done: number; readonly error?: string };

const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

function review(namespace: string, object: Record<string, unknown>): Buffer {
  return Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: UID,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace,
        name: 'p',
        operation: 'CREATE',
        userInfo: { username: 'bench' },
        object,
      },
    }),
  );
}

function pod(namespace: string, models: readonly string[], spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace, annotations: { 'modelgate.dev/models': models.join(',') } },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

/** A body with the deep part after the uid, as the API server orders its fields. */
function deepReview(bytes: number): Buffer {
  const depth = Math.floor(bytes / 2);
  const head = review('ml', { ...pod('ml', []), spec: { x: 0 } }).toString();
  return Buffer.from(head.replace('{"x":0}', `{"x":${'['.repeat(depth)}${']'.repeat(depth)}}`));
}

/** A Pod of about `bytes` bytes: one container with that many bytes of plain env vars. */
function flatReview(model: string, bytes: number): Buffer {
  const env = Array.from({ length: Math.floor(bytes / 96) }, (_, i) => ({
    name: `VAR_${i}`,
    value: 'x'.repeat(64),
  }));
  return review('ml', pod('ml', [model], { containers: [{ name: 'c', image: 'busybox', env }] }));
}

interface Phase {
  readonly name: string;
  readonly bodies: readonly Buffer[];
  /** What every answer must say, to be sure the phase went where it was meant to. */
  readonly expect: (allowed: boolean, message: string) => boolean;
}

function phases(setup: ClientSetup): Phase[] {
  const [first, second] = setup.signed as [string, string];
  const n = setup.requests;
  const benign = review('ml', pod('ml', [first]));
  const longName = 'a'.repeat(63);
  const longRepo = `evil.example.com/${'a'.repeat(110)}/${'a'.repeat(110)}@sha256:${'0'.repeat(64)}`;
  const refs = Array.from(
    { length: 8_000 },
    (_, i) => `unrelated-${i % 50}.example.org/team/model-${i}@sha256:${i.toString(16).padStart(64, '0')}`,
  );
  const allowed = (a: boolean) => a;
  return [
    { name: 'first ML-BOM check (cold verification)', bodies: [benign], expect: allowed },
    {
      name: 'second model, cold verification (process warm)',
      bodies: [review('ml', pod('ml', [second]))],
      expect: allowed,
    },
    { name: 'baseline: benign Pods, warm', bodies: Array(n).fill(benign), expect: allowed },
    {
      name: 'pathological globs (namespace and model)',
      bodies: Array(n).fill(review(longName, pod(longName, Array(50).fill(longRepo)))),
      expect: allowed,
    },
    {
      name: '6 MB deeply nested AdmissionReview',
      bodies: Array(8).fill(deepReview(6_000_000)),
      expect: (a, m) => !a && m.startsWith('REQUEST_INVALID'),
    },
    {
      name: '3 MB flat AdmissionReview (env vars)',
      bodies: Array(8).fill(flatReview(first, 3e6)),
      expect: allowed,
    },
    {
      name: '6 MB flat AdmissionReview (env vars)',
      bodies: Array(8).fill(flatReview(first, 6e6)),
      expect: allowed,
    },
    {
      name: 'large annotation (8,000 references, 800 KB)',
      bodies: Array(20).fill(review('ml', pod('ml', refs))),
      // More references than the engine checks: a coded refusal, without a stall.
      expect: (a, m) => !a && m.length > 0,
    },
  ];
}

const setup = workerData as ClientSetup;
const agent = new Agent({ keepAlive: true, maxSockets: 4, ...(setup.caPem ? { ca: setup.caPem } : {}) });

function post(body: Buffer): Promise<{ allowed: boolean; message: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${setup.url}/validate`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const json = JSON.parse(Buffer.concat(chunks).toString()) as {
            response?: { allowed: boolean; status?: { message: string } };
            error?: string;
          };
          resolve({
            allowed: json.response?.allowed ?? false,
            message: json.response?.status?.message ?? json.error ?? '',
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const all = phases(setup);
const port = parentPort!;
port.postMessage({
  phases: all.map((p) => ({ name: p.name, requests: p.bodies.length })),
} satisfies FromClient);
port.on('message', async (msg: ToClient) => {
  const phase = all[msg.run]!;
  let next = 0;
  // Four requests in flight, as an API server with several webhook connections sends them.
  const worker = async () => {
    while (next < phase.bodies.length) {
      const answer = await post(phase.bodies[next++]!);
      if (!phase.expect(answer.allowed, answer.message)) {
        throw new Error(`${phase.name}: unexpected answer ${JSON.stringify(answer).slice(0, 300)}`);
      }
    }
  };
  try {
    await Promise.all([worker(), worker(), worker(), worker()]);
    port.postMessage({ done: msg.run } satisfies FromClient);
  } catch (err) {
    port.postMessage({ done: msg.run, error: (err as Error).message } satisfies FromClient);
  }
  if (msg.run === all.length - 1) agent.destroy();
});
