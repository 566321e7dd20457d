import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CertificateManager,
  caBundleOf,
  planTls,
  readTlsState,
  SECRET_KEYS,
  splitPem,
  type TlsState,
  tlsSecretData,
  webhookTrusts,
} from '../../../src/kube/certificates.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

const DAY = 86_400_000;
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const NAMES = ['modelgate', 'modelgate.modelgate-system', 'modelgate.modelgate-system.svc'];
const base = { dnsNames: NAMES, ips: [] as string[], caValidDays: 300, servingValidDays: 30 };
const trusting = (pems: string[]) => (pem: string) => pems.includes(pem);

function fresh(): TlsState {
  return planTls(undefined, { ...base, now: T0, webhookTrusts: () => false }).state;
}

const cert = (pem: string) => new X509Certificate(pem);

describe('planTls', () => {
  it('creates a CA and a serving certificate it signed, for the Service names', () => {
    const plan = planTls(undefined, { ...base, now: T0, webhookTrusts: () => false });
    expect(plan.steps).toEqual(['created']);
    const s = plan.state;
    expect(s.trust).toEqual([s.ca.certPem]);
    const serving = cert(s.serving.certPem);
    expect(serving.checkIssued(cert(s.ca.certPem))).toBe(true);
    expect(serving.subjectAltName).toContain('DNS:modelgate.modelgate-system.svc');
    expect(serving.ca).toBe(false);
    expect(cert(s.ca.certPem).ca).toBe(true);
  });

  it('changes nothing while both certificates are fresh', () => {
    const s = fresh();
    expect(planTls(s, { ...base, now: at(5), webhookTrusts: () => true }).steps).toEqual([]);
  });

  it('renews the serving certificate when a third of its life is left, from the same CA', () => {
    const s = fresh();
    const plan = planTls(s, { ...base, now: at(21), webhookTrusts: () => true });
    expect(plan.steps).toEqual(['serving-renewed']);
    expect(plan.state.ca).toEqual(s.ca);
    expect(plan.state.serving.certPem).not.toBe(s.serving.certPem);
    expect(cert(plan.state.serving.certPem).checkIssued(cert(s.ca.certPem))).toBe(true);
  });

  it('renews the serving certificate when the names change (another Service name or SAN)', () => {
    const s = fresh();
    const plan = planTls(s, { ...base, ips: ['127.0.0.1'], now: at(1), webhookTrusts: () => true });
    expect(plan.steps).toEqual(['serving-renewed']);
    expect(cert(plan.state.serving.certPem).subjectAltName).toContain('IP Address:127.0.0.1');
  });

  it('rotates the CA in two steps: the next CA joins the bundle, and is promoted only once the webhook trusts it', () => {
    const s0 = fresh();
    // A third of 300 days left: the rotation starts; the serving certificate stays with the old CA.
    const p1 = planTls(s0, { ...base, now: at(201), webhookTrusts: trusting([s0.ca.certPem]) });
    expect(p1.steps).toContain('ca-rotation-started');
    expect(p1.steps).toContain('trust-updated');
    const next = p1.state.next!;
    expect(p1.state.trust).toEqual([s0.ca.certPem, next.certPem]);
    expect(p1.state.ca).toEqual(s0.ca);

    // The webhook does not list the next CA yet: nothing is promoted.
    const p2 = planTls(p1.state, { ...base, now: at(202), webhookTrusts: trusting([s0.ca.certPem]) });
    expect(p2.steps).not.toContain('ca-rotated');

    // Now it does: promote, issue from the new CA, keep the old CA trusted until it expires.
    const p3 = planTls(p1.state, {
      ...base,
      now: at(202),
      webhookTrusts: trusting([s0.ca.certPem, next.certPem]),
    });
    expect(p3.steps).toContain('ca-rotated');
    expect(p3.state.ca).toEqual(next);
    expect(p3.state.next).toBeUndefined();
    expect(cert(p3.state.serving.certPem).checkIssued(cert(next.certPem))).toBe(true);
    expect(p3.state.trust).toEqual([next.certPem, s0.ca.certPem]);

    // Once the old CA has expired it leaves the bundle.
    const p4 = planTls(p3.state, { ...base, now: at(301), webhookTrusts: () => true });
    expect(p4.steps).toContain('trust-updated');
    expect(p4.state.trust).toEqual([next.certPem]);
  });

  it('starts over when the CA is about to expire with no rotation done (e.g. the pods were down for months)', () => {
    const s = fresh();
    const plan = planTls(s, { ...base, now: at(299.5), webhookTrusts: () => true });
    expect(plan.steps).toEqual(['ca-expiring-regenerated']);
    expect(plan.state.ca.certPem).not.toBe(s.ca.certPem);
  });

  it('reads back what it writes; an incomplete or mismatched Secret is no state', () => {
    const s = fresh();
    const data = Object.fromEntries(Object.entries(tlsSecretData(s)).map(([k, v]) => [k, Buffer.from(v)]));
    expect(readTlsState(data)).toEqual(s);
    expect(readTlsState(undefined)).toBeUndefined();
    expect(readTlsState({ ...data, [SECRET_KEYS.caKey]: Buffer.from('') })).toBeUndefined();
    const other = fresh();
    expect(
      readTlsState({ ...data, [SECRET_KEYS.servingKey]: Buffer.from(other.serving.keyPem) }),
    ).toBeUndefined();
  });

  it('knows whether a webhook configuration trusts a CA (every webhook of it must)', () => {
    const s = fresh();
    const bundle = caBundleOf(s);
    expect(splitPem(Buffer.from(bundle, 'base64').toString())).toHaveLength(1);
    const view = (b?: string) => ({
      uid: 'u',
      webhooks: [
        { name: 'a', caBundle: bundle },
        { name: 'b', ...(b ? { caBundle: b } : {}) },
      ],
    });
    expect(webhookTrusts(view(bundle), s.ca.certPem)).toBe(true);
    expect(webhookTrusts(view(), s.ca.certPem)).toBe(false);
  });
});

function manager(api: FakeKubeApi, dir: string, now = () => T0) {
  return new CertificateManager({
    api,
    namespace: 'modelgate-system',
    secretName: 'modelgate-tls',
    webhookConfiguration: 'modelgate',
    dnsNames: NAMES,
    ips: ['127.0.0.1'],
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    logger: silentLogger,
    now,
  });
}

describe('CertificateManager', () => {
  it('creates the Secret (owned by the webhook configuration), sets every caBundle and writes the files', async () => {
    const api = new FakeKubeApi();
    api.webhook = { uid: 'vwc-uid', webhooks: [{ name: 'validate.modelgate.dev' }] };
    const dir = mkdtempSync(join(tmpdir(), 'mg-tls-'));
    const m = manager(api, dir);
    expect(m.ready()).toBe(false);
    const r = await m.reconcile();
    expect(r).toEqual({ steps: ['created'], caBundlePatched: true, filesWritten: true });
    expect(m.ready()).toBe(true);
    const stored = api.secrets.get('modelgate-system/modelgate-tls')!;
    expect(stored.ownerReferences).toEqual([
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        name: 'modelgate',
        uid: 'vwc-uid',
      },
    ]);
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe(stored.data['tls.crt']!.toString());
    const ca = stored.data['ca.crt']!.toString();
    expect(webhookTrusts((await api.readWebhookConfiguration('modelgate'))!, ca)).toBe(true);

    // A second reconcile with nothing to do writes nothing.
    const again = await m.reconcile();
    expect(again).toEqual({ steps: [], caBundlePatched: false, filesWritten: false });
    expect(api.count('replaceSecret')).toBe(0);
  });

  it('two replicas starting together converge on one CA (create-if-absent, conflicts re-read)', async () => {
    const api = new FakeKubeApi();
    api.webhook = { uid: 'u', webhooks: [{ name: 'validate.modelgate.dev' }] };
    const a = manager(api, mkdtempSync(join(tmpdir(), 'mg-a-')));
    const b = manager(api, mkdtempSync(join(tmpdir(), 'mg-b-')));
    await Promise.all([a.reconcile(), b.reconcile()]);
    const ca = api.secrets.get('modelgate-system/modelgate-tls')!.data['ca.crt']!.toString();
    expect(api.count('createSecret')).toBeGreaterThanOrEqual(1);
    expect(webhookTrusts((await api.readWebhookConfiguration('x'))!, ca)).toBe(true);
    // Both serve a certificate from the CA that won.
    for (const d of [a, b]) expect((await d.reconcile()).steps).toEqual([]);
  });

  it('fails (and is retried by start) while the webhook configuration does not exist', async () => {
    const api = new FakeKubeApi();
    const m = manager(api, mkdtempSync(join(tmpdir(), 'mg-c-')));
    await expect(m.reconcile()).rejects.toThrow('ValidatingWebhookConfiguration modelgate not found');
    expect(m.ready()).toBe(false);
  });

  it('puts a next CA in the caBundle, then promotes it on a later reconcile', async () => {
    const api = new FakeKubeApi();
    api.webhook = { uid: 'u', webhooks: [{ name: 'w1' }, { name: 'w2' }] };
    let now = T0;
    const m = new CertificateManager({
      ...{
        api,
        namespace: 'ns',
        secretName: 's',
        webhookConfiguration: 'modelgate',
        dnsNames: NAMES,
        ips: [],
      },
      certFile: join(mkdtempSync(join(tmpdir(), 'mg-d-')), 'tls.crt'),
      keyFile: join(mkdtempSync(join(tmpdir(), 'mg-d-')), 'tls.key'),
      logger: silentLogger,
      caValidDays: 300,
      servingValidDays: 30,
      now: () => now,
    });
    await m.reconcile();
    now = at(201);
    expect((await m.reconcile()).steps).toContain('ca-rotation-started');
    expect(splitPem(Buffer.from(api.webhook.webhooks[1]!.caBundle!, 'base64').toString())).toHaveLength(2);
    now = at(201.1);
    expect((await m.reconcile()).steps).toContain('ca-rotated');
  });
});
