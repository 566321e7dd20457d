import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../../../src/admission/review.ts';
import type { Decision } from '../../../src/engine/decision.ts';
import type { EventBody, WriteResult } from '../../../src/kube/api.ts';
import {
  DENIED_REASON,
  denialEvent,
  EventRecorder,
  MAX_NOTE_BYTES,
  REPORTING_CONTROLLER,
  truncateBytes,
} from '../../../src/kube/events.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

const NOW = new Date('2026-03-04T05:06:07.123Z');
const SOURCE = { instance: 'modelgate-7d9f-abcde' };

function request(over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'u1',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    namespace: 'prod',
    name: 'serve-llm',
    operation: 'CREATE',
    object: { metadata: { name: 'serve-llm' } },
    ...over,
  };
}

const denied: Decision = {
  allowed: false,
  status: 403,
  message: 'modelgate refused Deployment prod/serve-llm: DIGEST_REQUIRED',
  warnings: [],
  findings: [
    {
      code: 'DIGEST_REQUIRED',
      fieldPath: 'spec.template.spec.volumes[0].image.reference',
      reference: 'r/m:1',
      mode: 'Enforce',
      message: 'm',
      fix: 'f',
    },
  ],
};
const allowed: Decision = { allowed: true, warnings: [], findings: [] };

describe('denialEvent', () => {
  it('shapes an events.k8s.io/v1 Warning in the object namespace, regarding the refused object', () => {
    const e = denialEvent(request(), denied, SOURCE, NOW, 'abc');
    expect(e).toMatchObject({
      metadata: { name: 'serve-llm.abc', namespace: 'prod' },
      eventTime: NOW,
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: SOURCE.instance,
      action: 'Admit',
      reason: DENIED_REASON,
      type: 'Warning',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'prod', name: 'serve-llm' },
    });
    expect(e?.note).toContain('creation of Deployment serve-llm');
    expect(e?.note).toContain('DIGEST_REQUIRED');
  });

  it('records nothing for an allowed object, a dry run, or an object without a namespace', () => {
    expect(denialEvent(request(), allowed, SOURCE, NOW, 'a')).toBeUndefined();
    expect(denialEvent(request({ dryRun: true }), denied, SOURCE, NOW, 'a')).toBeUndefined();
    expect(denialEvent(request({ namespace: '' }), denied, SOURCE, NOW, 'a')).toBeUndefined();
  });

  it('names a pod with a generated name after its generateName, and core objects with apiVersion v1', () => {
    const req = request({
      kind: { group: '', version: 'v1', kind: 'Pod' },
      name: '',
      object: { metadata: { generateName: 'job-x-', uid: 'pod-uid' } },
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
    });
    const e = denialEvent(req, denied, SOURCE, NOW, 'ff');
    expect(e?.metadata.name).toBe('job-x.ff');
    expect(e?.regarding).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: 'prod',
      name: 'job-x-',
      uid: 'pod-uid',
    });
    expect(e?.note).toContain('update of Pod/ephemeralcontainers');
  });

  it('keeps the note within 1 kB, cut on a character boundary', () => {
    const long = { ...denied, message: `ü${'é'.repeat(2000)}` };
    const e = denialEvent(request(), long, SOURCE, NOW, 'a');
    expect(Buffer.byteLength(e!.note, 'utf8')).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    expect(e!.note.endsWith('…')).toBe(true);
    expect(truncateBytes('short', 10)).toBe('short');
  });
});

function clock(start = NOW.getTime()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('EventRecorder', () => {
  it('creates one Event per refusal, none for allowed or dry-run requests, and never blocks', async () => {
    const api = new FakeKubeApi();
    const r = new EventRecorder({ api, source: SOURCE, logger: silentLogger });
    r.record(request(), allowed);
    r.record(request({ dryRun: true }), denied);
    r.record(request(), denied);
    await r.idle();
    expect(api.events).toHaveLength(1);
    r.close();
  });

  it('turns repeats of one refusal into a series count on the first Event, patched at most every interval', async () => {
    const api = new FakeKubeApi();
    const c = clock();
    const r = new EventRecorder({
      api,
      source: SOURCE,
      logger: silentLogger,
      now: c.now,
      seriesIntervalMs: 1000,
    });
    r.record(request(), denied);
    await r.idle();
    c.advance(10);
    r.record(request(), denied);
    r.record(request(), denied);
    // Not yet due: the series is written once the interval since the Event has passed.
    c.advance(1000);
    await new Promise((res) => setTimeout(res, 1100));
    await r.idle();
    expect(api.events).toHaveLength(1);
    expect(api.series).toHaveLength(1);
    expect(api.series[0]).toMatchObject({
      namespace: 'prod',
      name: api.events[0]!.metadata.name,
      series: { count: 3 },
    });
    r.close();
  });

  it('a different object or reason is a new Event; an old refusal past the window is a new Event', async () => {
    const api = new FakeKubeApi();
    const c = clock();
    const r = new EventRecorder({
      api,
      source: SOURCE,
      logger: silentLogger,
      now: c.now,
      dedupeWindowMs: 60_000,
    });
    r.record(request(), denied);
    r.record(request({ name: 'other', object: { metadata: { name: 'other' } } }), denied);
    await r.idle();
    c.advance(61_000);
    r.record(request(), denied);
    await r.idle();
    expect(api.events.map((e) => e.regarding.name)).toEqual(['serve-llm', 'other', 'serve-llm']);
    r.close();
  });

  it('drops what does not fit in the bounded queue instead of growing', async () => {
    let release: (v: WriteResult) => void = () => {};
    const api = {
      createEvent: (_e: EventBody) => new Promise<WriteResult>((res) => (release = res)),
      patchEventSeries: async () => 'done' as const,
    };
    const r = new EventRecorder({ api, source: SOURCE, logger: silentLogger, queueSize: 3 });
    for (let i = 0; i < 10; i++) {
      r.record(request({ name: `d${i}`, object: { metadata: { name: `d${i}` } } }), denied);
    }
    expect(r.dropped).toBeGreaterThanOrEqual(6);
    release('done');
    r.close();
  });

  it('rate-limits writes to the API', async () => {
    const api = new FakeKubeApi();
    const c = clock();
    const r = new EventRecorder({
      api,
      source: SOURCE,
      logger: silentLogger,
      now: c.now,
      ratePerSecond: 1,
      burst: 2,
    });
    for (let i = 0; i < 5; i++)
      r.record(request({ name: `d${i}`, object: { metadata: { name: `d${i}` } } }), denied);
    await new Promise((res) => setTimeout(res, 30));
    expect(api.events).toHaveLength(2);
    r.close();
  });

  it('survives an API that throws', async () => {
    const api = new FakeKubeApi();
    api.failures.set('createEvent', 1);
    const r = new EventRecorder({ api, source: SOURCE, logger: silentLogger });
    r.record(request(), denied);
    await r.idle();
    r.record(request(), denied);
    await r.idle();
    expect(api.events).toHaveLength(1);
    r.close();
  });
});
