import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../../../src/admission/review.ts';
import type { Decision, Finding } from '../../../src/engine/decision.ts';
import type { EventBody, WriteResult } from '../../../src/kube/api.ts';
import {
  AUDITED_REASON,
  DENIED_REASON,
  denialEvent,
  EventRecorder,
  eventNote,
  findingEvents,
  MAX_NOTE_BYTES,
  REPORTING_CONTROLLER,
  truncateBytes,
  WARNED_REASON,
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
    // Code and reference first, once: no "modelgate refused ... modelgate refused" prefix.
    expect(e?.note).toBe(
      'DIGEST_REQUIRED r/m:1 (modelgate, no policy, spec.template.spec.volumes[0].image.reference): m. Fix: f',
    );
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
    expect(e?.note.startsWith('DIGEST_REQUIRED r/m:1 ')).toBe(true);
  });

  it('keeps the note within 1 kB, cut on a character boundary, the fix whole', () => {
    const long: Decision = {
      ...denied,
      findings: [{ ...denied.findings[0]!, message: `ü${'é'.repeat(2000)}` }],
    };
    const e = denialEvent(request(), long, SOURCE, NOW, 'a');
    expect(Buffer.byteLength(e!.note, 'utf8')).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    expect(e!.note).toContain('é…');
    expect(e!.note.endsWith('. Fix: f')).toBe(true);
    // A refusal without findings (the server's own) shows its message, cut.
    const bare = denialEvent(
      request(),
      { ...denied, message: `ü${'é'.repeat(2000)}`, findings: [] },
      SOURCE,
      NOW,
      'a',
    );
    expect(Buffer.byteLength(bare!.note, 'utf8')).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    expect(bare!.note.endsWith('…')).toBe(true);
    expect(truncateBytes('short', 10)).toBe('short');
  });
});

const finding = (over: Partial<Finding>): Finding => ({
  code: 'SIGNATURE_MISSING',
  fieldPath: 'spec.template.spec.volumes[0].image.reference',
  reference: 'r.example/m@sha256:00',
  policy: 'rollout',
  mode: 'Warn',
  message: 'no signature found',
  fix: 'sign it',
  ...over,
});

describe('findingEvents', () => {
  it('records Warn findings as a ModelWarned Warning and Audit findings as a ModelAudited Normal Event', () => {
    const d: Decision = {
      allowed: true,
      warnings: ['w'],
      findings: [
        finding({ mode: 'Warn' }),
        finding({ mode: 'Audit', policy: 'preview', code: 'MLBOM_MISSING', fix: 'attach one' }),
      ],
    };
    const events = findingEvents(request(), d);
    expect(events.map((e) => [e.reason, e.type])).toEqual([
      [WARNED_REASON, 'Warning'],
      [AUDITED_REASON, 'Normal'],
    ]);
    expect(events[0]!.note).toBe(
      'SIGNATURE_MISSING r.example/m@sha256:00 (modelgate policy rollout, spec.template.spec.volumes[0].image.reference): no signature found. Fix: sign it',
    );
    expect(events[1]!.note.startsWith('MLBOM_MISSING r.example/m@sha256:00 (modelgate policy preview')).toBe(
      true,
    );
    expect(findingEvents(request({ dryRun: true }), d)).toEqual([]);
    expect(findingEvents(request(), allowed)).toEqual([]);
  });

  it('a refusal records only its Enforce findings, as ModelRefused', () => {
    const d: Decision = {
      ...denied,
      findings: [...denied.findings, finding({ mode: 'Audit' })],
    };
    const events = findingEvents(request(), d);
    expect(events.map((e) => e.reason)).toEqual([DENIED_REASON]);
    expect(events[0]!.findings.map((f) => f.code)).toEqual(['DIGEST_REQUIRED']);
  });

  it('lists further findings while they fit in 1 kB, then counts the rest', () => {
    const many = Array.from({ length: 30 }, (_, i) => finding({ reference: `r.example/m${i}@sha256:00` }));
    const note = eventNote(many);
    expect(Buffer.byteLength(note, 'utf8')).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    const lines = note.split('\n');
    expect(lines[0]!.startsWith('SIGNATURE_MISSING r.example/m0@sha256:00 ')).toBe(true);
    expect(lines.at(-1)).toBe(`(+${30 - (lines.length - 1)} more findings)`);
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

  it('writes ModelWarned and ModelAudited Events for admitted objects, deduplicated like refusals', async () => {
    const api = new FakeKubeApi();
    const r = new EventRecorder({ api, source: SOURCE, logger: silentLogger, seriesIntervalMs: 0 });
    const audited: Decision = { allowed: true, warnings: [], findings: [finding({ mode: 'Audit' })] };
    r.record(request(), audited);
    r.record(request(), audited);
    r.record(request(), { allowed: true, warnings: ['w'], findings: [finding({ mode: 'Warn' })] });
    await r.idle();
    expect(api.events.map((e) => [e.reason, e.type])).toEqual([
      [AUDITED_REASON, 'Normal'],
      [WARNED_REASON, 'Warning'],
    ]);
    r.close();
  });

  it('a refusal served from the negative cache is the same Event, though its note says until when', async () => {
    const api = new FakeKubeApi();
    const r = new EventRecorder({ api, source: SOURCE, logger: silentLogger, seriesIntervalMs: 0 });
    const at = (time: string): Decision => ({
      ...denied,
      findings: [{ ...denied.findings[0]!, message: `m (cached refusal, re-checked after ${time})` }],
    });
    r.record(request(), denied);
    r.record(request(), at('12:03:04Z'));
    r.record(request(), at('12:03:14Z'));
    await r.idle();
    expect(api.events).toHaveLength(1);
    expect(api.series.at(-1)?.series.count).toBe(3);
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
