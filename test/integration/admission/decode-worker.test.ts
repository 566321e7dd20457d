// Large AdmissionReview bodies are decoded in a worker thread, off the event loop. The answer must be
// the one the inline path gives: the same request, the same references at the same field paths, the
// same refusals (deep JSON with its uid, malformed JSON); and a worker that dies fails its request
// closed (HTTP 500), then the next large request is decoded by a new worker.
import { afterEach, describe, expect, it } from 'vitest';
import { ReviewDecoder } from '../../../src/admission/decoder.ts';
import type { AdmissionRequest } from '../../../src/admission/review.ts';
import { extractModelReferences } from '../../../src/workload/extract.ts';
import { podTemplatesOf } from '../../../src/workload/podspecs.ts';
import { ALLOW, pod, review, UID } from '../../unit/admission/builders.ts';
import { startTestServer, type TestServer } from './harness.ts';

let current: TestServer | undefined;
const decoders: ReviewDecoder[] = [];
afterEach(async () => {
  await current?.stop();
  current = undefined;
  for (const d of decoders.splice(0)) await d.close();
});

/** A Pod whose env holds `n` plain variables and one `oci://` reference at index `at`. */
function bigPod(n: number, at: number): Record<string, unknown> {
  const env = Array.from({ length: n }, (_, i) => ({ name: `V${i}`, value: `value-${i}-${'x'.repeat(80)}` }));
  env[at] = { name: 'MODEL', value: '--model=oci://registry.example.com/models/llm:v1' };
  const p = pod();
  return { ...p, spec: { containers: [{ name: 'server', image: 'registry.example.com/serve:1.0', env }] } };
}

const referencesOf = (r: AdmissionRequest) => {
  const t = podTemplatesOf(r.kind, r.object, r.subResource);
  if (!t.ok) throw new Error(t.error);
  return t.templates.flatMap((x) => extractModelReferences(x, () => true).references);
};

describe('decoding large admission bodies in a worker', () => {
  it('a 3 MB Pod reaches decide pruned, with the reference at its field path, like a small one', async () => {
    const t = await startTestServer({ decide: async () => ALLOW });
    current = t;
    const big = review({ object: bigPod(30_000, 23_456) });
    expect(JSON.stringify(big).length).toBeGreaterThan(3_000_000);
    const reply = await t.validate(big);
    expect((reply.json as { response: { uid: string; allowed: boolean } }).response).toEqual({
      uid: UID,
      allowed: true,
    });
    const small = review({ object: bigPod(10, 3) });
    await t.validate(small);
    expect(t.decided).toHaveLength(2);
    const [b, s] = t.decided.map((d) => d.request);
    expect(b!.uid).toBe(UID);
    expect(b!.name).toBe('inference');
    expect(referencesOf(b!)).toEqual([
      {
        raw: 'registry.example.com/models/llm:v1',
        fieldPath: "metadata.annotations['modelgate.dev/models']",
        source: 'annotation',
      },
      {
        raw: 'registry.example.com/serve:1.0',
        fieldPath: 'spec.containers[0].image',
        source: 'containerImage',
      },
      {
        raw: 'oci://registry.example.com/models/llm:v1',
        fieldPath: 'spec.containers[0].env[23456].value',
        source: 'env',
      },
    ]);
    // What crossed back from the worker is small: plain values are gone.
    expect(JSON.stringify(b!.object).length).toBeLessThan(400_000);
    expect(referencesOf(s!).map((r) => r.source)).toEqual(['annotation', 'containerImage', 'env']);
  });

  it('refuses large bodies as the inline path does: deep JSON with the uid, malformed JSON with 400', async () => {
    const t = await startTestServer({ decide: async () => ALLOW });
    current = t;
    const padding = 'x'.repeat(400_000);
    const deep = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${UID}","pad":"${padding}","object":${'['.repeat(300)}${']'.repeat(300)}}}`;
    const r1 = await t.send('POST', '/validate', deep, { 'content-type': 'application/json' });
    expect(r1.status).toBe(200);
    expect((r1.json as { response: { status: { message: string } } }).response.status.message).toMatch(
      /^REQUEST_INVALID: .*nested deeper than/,
    );
    const r2 = await t.send('POST', '/validate', `{"pad":"${padding}"`, {
      'content-type': 'application/json',
    });
    expect(r2.status).toBe(400);
    expect((r2.json as { error: string }).error).toMatch(/^malformed JSON/);
    expect(t.decided).toHaveLength(0);
  });

  it('a worker that dies fails its request (no answer is made up), and a new worker decodes the next one', async () => {
    let calls = 0;
    const dying = new URL('./dying-decode-worker.ts', import.meta.url);
    const d = new ReviewDecoder({ inlineBytes: 1024, maxBodyBytes: 1 << 20, workerUrl: dying });
    decoders.push(d);
    const body = () => Buffer.from(JSON.stringify({ ...review(), pad: 'y'.repeat(4096), n: ++calls }));
    // The test worker exits on its first job and answers every later one.
    await expect(d.decode(body())).rejects.toMatchObject({
      name: 'DecodeFailure',
      message: expect.stringMatching(/exited \(code 3\)/),
    });
    const ok = await d.decode(body());
    expect(ok).toMatchObject({ kind: 'review', parse: { ok: true, request: { uid: UID } } });
  });
});
