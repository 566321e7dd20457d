/**
 * Self-managed webhook certificates (`serve --tls-self-manage`), for installs without cert-manager.
 *
 * One Secret is the source of truth for every replica: a CA (and its key), the serving certificate it
 * signed, the CA bundle the API server must trust and, during a CA rotation, the next CA. Each replica
 * reconciles on start and then every few minutes: it reads the Secret, plans what must change (a pure
 * function of the Secret, the webhook's current caBundle and the time), writes the Secret with optimistic
 * concurrency (create-if-absent, replace at a resourceVersion; a conflict means another replica won:
 * read again and re-plan), sets the caBundle of the named ValidatingWebhookConfiguration, and writes
 * its serving pair to files the HTTPS server reloads. Two replicas thus converge on one CA and never
 * fight.
 *
 * A CA rotation takes two steps so that no replica ever serves a certificate the API server does not
 * trust: first the next CA joins the bundle; only once the webhook configuration carries it is it
 * promoted and a serving certificate issued from it. The old CA stays in the bundle until it expires.
 * Nothing is generated at build time; the keys never leave the Secret and the pod's memory-backed volume.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { type CertifiedKeyPem, generateCa, generateServingCert } from '../admission/tls.ts';
import type { KubeApi, WebhookConfigurationView } from './api.ts';

/** What the TLS Secret holds. */
export interface TlsState {
  readonly ca: CertifiedKeyPem;
  readonly serving: CertifiedKeyPem;
  /** CA certificates the webhook's caBundle lists, PEM, current CA first. */
  readonly trust: readonly string[];
  /** A CA waiting to be promoted once the webhook trusts it. */
  readonly next?: CertifiedKeyPem;
}

export const SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  servingCert: 'tls.crt',
  servingKey: 'tls.key',
  trust: 'ca-bundle.crt',
  nextCaCert: 'next-ca.crt',
  nextCaKey: 'next-ca.key',
} as const;

export type PlanStep =
  | 'created'
  | 'ca-expiring-regenerated'
  | 'ca-rotation-started'
  | 'ca-rotated'
  | 'serving-renewed'
  | 'trust-updated';

export interface PlanOptions {
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly now: Date;
  /** Validity of a CA (default 3 years) and of a serving certificate (default 90 days). */
  readonly caValidDays?: number;
  readonly servingValidDays?: number;
  /** Whether the webhook's caBundle already lists this CA certificate (PEM). */
  readonly webhookTrusts: (caPem: string) => boolean;
}

export interface Plan {
  readonly state: TlsState;
  /** What changed; empty when the Secret is right as it is. */
  readonly steps: readonly PlanStep[];
}

const DAY_MS = 86_400_000;
export const DEFAULT_CA_DAYS = 3 * 365;
export const DEFAULT_SERVING_DAYS = 90;
/** Renew when less than this part of the validity is left. */
const RENEW_FRACTION = 1 / 3;
/** A CA this close to its end cannot be rotated in two steps any more: start over. */
const CA_LAST_RESORT_MS = DAY_MS;

/** Reads the Secret's data; undefined when it is absent, incomplete or unusable (then a new one is made). */
export function readTlsState(data: Readonly<Record<string, Buffer>> | undefined): TlsState | undefined {
  if (data === undefined) return undefined;
  const text = (k: string) => data[k]?.toString('utf8');
  const caCert = text(SECRET_KEYS.caCert);
  const caKey = text(SECRET_KEYS.caKey);
  const servingCert = text(SECRET_KEYS.servingCert);
  const servingKey = text(SECRET_KEYS.servingKey);
  if (!caCert || !caKey || !servingCert || !servingKey) return undefined;
  if (!pairMatches(caCert, caKey) || !pairMatches(servingCert, servingKey)) return undefined;
  const trust = splitPem(text(SECRET_KEYS.trust) ?? '');
  const nextCert = text(SECRET_KEYS.nextCaCert);
  const nextKey = text(SECRET_KEYS.nextCaKey);
  const next =
    nextCert && nextKey && pairMatches(nextCert, nextKey)
      ? { certPem: nextCert, keyPem: nextKey }
      : undefined;
  return {
    ca: { certPem: caCert, keyPem: caKey },
    serving: { certPem: servingCert, keyPem: servingKey },
    trust: trust.length > 0 ? trust : [caCert],
    ...(next ? { next } : {}),
  };
}

/** The Secret's data for a state (values are PEM text). */
export function tlsSecretData(state: TlsState): Record<string, string> {
  return {
    [SECRET_KEYS.caCert]: state.ca.certPem,
    [SECRET_KEYS.caKey]: state.ca.keyPem,
    [SECRET_KEYS.servingCert]: state.serving.certPem,
    [SECRET_KEYS.servingKey]: state.serving.keyPem,
    [SECRET_KEYS.trust]: state.trust.join(''),
    ...(state.next
      ? { [SECRET_KEYS.nextCaCert]: state.next.certPem, [SECRET_KEYS.nextCaKey]: state.next.keyPem }
      : {}),
  };
}

/** The caBundle for the webhook configuration: the trusted CAs, PEM, base64. */
export function caBundleOf(state: TlsState): string {
  return Buffer.from(state.trust.join(''), 'utf8').toString('base64');
}

/** Decides what the TLS Secret must become. Pure but for key generation. */
export function planTls(current: TlsState | undefined, opts: PlanOptions): Plan {
  const caDays = opts.caValidDays ?? DEFAULT_CA_DAYS;
  const servingDays = opts.servingValidDays ?? DEFAULT_SERVING_DAYS;
  const now = opts.now.getTime();
  const fresh = (step: PlanStep): Plan => {
    const ca = generateCa({ commonName: 'modelgate-webhook-ca', validDays: caDays, now: opts.now });
    const serving = issue(ca, opts, servingDays);
    return { state: { ca, serving, trust: [ca.certPem] }, steps: [step] };
  };
  if (current === undefined) return fresh('created');
  const caEnd = notAfter(current.ca.certPem);
  if (caEnd - now < CA_LAST_RESORT_MS) return fresh('ca-expiring-regenerated');

  const steps: PlanStep[] = [];
  let ca = current.ca;
  let serving = current.serving;
  let next = current.next;
  if (
    next !== undefined &&
    notAfter(next.certPem) - now > CA_LAST_RESORT_MS &&
    opts.webhookTrusts(next.certPem)
  ) {
    ca = next;
    next = undefined;
    serving = issue(ca, opts, servingDays);
    steps.push('ca-rotated');
  } else if (next === undefined && caEnd - now < caDays * DAY_MS * RENEW_FRACTION) {
    next = generateCa({ commonName: 'modelgate-webhook-ca', validDays: caDays, now: opts.now });
    steps.push('ca-rotation-started');
  }
  if (!steps.includes('ca-rotated') && servingNeedsRenewal(serving, ca, opts, servingDays)) {
    serving = issue(ca, opts, servingDays);
    steps.push('serving-renewed');
  }
  const trust = uniquePem([
    ca.certPem,
    ...current.trust.filter((p) => safeNotAfter(p) > now),
    ...(next ? [next.certPem] : []),
  ]);
  if (trust.join('') !== current.trust.join('')) steps.push('trust-updated');
  return { state: { ca, serving, trust, ...(next ? { next } : {}) }, steps };
}

function issue(ca: CertifiedKeyPem, opts: PlanOptions, days: number): CertifiedKeyPem {
  // A serving certificate never outlives the CA that signed it.
  const caLeft = Math.floor((notAfter(ca.certPem) - opts.now.getTime()) / DAY_MS);
  return generateServingCert(ca, opts.dnsNames, opts.ips, {
    validDays: Math.max(1, Math.min(days, caLeft)),
    now: opts.now,
  });
}

function servingNeedsRenewal(
  serving: CertifiedKeyPem,
  ca: CertifiedKeyPem,
  opts: PlanOptions,
  days: number,
): boolean {
  let cert: X509Certificate;
  let caCert: X509Certificate;
  try {
    cert = new X509Certificate(serving.certPem);
    caCert = new X509Certificate(ca.certPem);
  } catch {
    return true;
  }
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return true;
  const left = new Date(cert.validTo).getTime() - opts.now.getTime();
  if (left < days * DAY_MS * RENEW_FRACTION) return true;
  return !namesExactly(cert, opts.dnsNames, opts.ips);
}

/** Whether a certificate names exactly these hosts in its subjectAltName. */
export function namesExactly(
  cert: X509Certificate,
  dnsNames: readonly string[],
  ips: readonly string[],
): boolean {
  const entries = (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length !== new Set(dnsNames).size + new Set(ips).size) return false;
  return (
    dnsNames.every((d) => cert.checkHost(d, { subject: 'never', wildcards: false }) !== undefined) &&
    ips.every((ip) => cert.checkIP(ip) !== undefined)
  );
}

function pairMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function notAfter(pem: string): number {
  return new Date(new X509Certificate(pem).validTo).getTime();
}

function safeNotAfter(pem: string): number {
  try {
    return notAfter(pem);
  } catch {
    return 0;
  }
}

/** Splits a PEM bundle into its certificates (each ending in a newline). */
export function splitPem(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
    (m) => `${m[0]}\n`,
  );
}

function fingerprint(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

function uniquePem(pems: readonly string[]): string[] {
  const seen = new Set<string>();
  return pems.filter((p) => {
    const f = fingerprint(p) ?? p;
    if (seen.has(f)) return false;
    seen.add(f);
    return true;
  });
}

/** Whether every webhook of the configuration has a caBundle that lists `caPem`. */
export function webhookTrusts(view: WebhookConfigurationView, caPem: string): boolean {
  const want = fingerprint(caPem);
  if (want === undefined || view.webhooks.length === 0) return false;
  return view.webhooks.every((w) => {
    if (!w.caBundle) return false;
    const pems = splitPem(Buffer.from(w.caBundle, 'base64').toString('utf8'));
    return pems.some((p) => fingerprint(p) === want);
  });
}

export interface CertificateManagerOptions {
  readonly api: Pick<
    KubeApi,
    'readSecret' | 'createSecret' | 'replaceSecret' | 'readWebhookConfiguration' | 'setWebhookCaBundle'
  >;
  readonly namespace: string;
  readonly secretName: string;
  readonly webhookConfiguration: string;
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  /** Where the serving pair is written for the HTTPS server (which reloads it on change). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly logger: Logger;
  /** How often to reconcile (default 5 min, with jitter). */
  readonly intervalMs?: number;
  readonly caValidDays?: number;
  readonly servingValidDays?: number;
  readonly now?: () => Date;
}

export interface ReconcileResult {
  readonly steps: readonly PlanStep[];
  readonly caBundlePatched: boolean;
  readonly filesWritten: boolean;
}

const MAX_CONFLICTS = 5;

/** Keeps the TLS Secret, the webhook's caBundle and the serving files in step (see the file comment). */
export class CertificateManager {
  readonly #opts: CertificateManagerOptions;
  #timer: NodeJS.Timeout | undefined;
  #ready = false;
  #running: Promise<ReconcileResult> | undefined;

  constructor(opts: CertificateManagerOptions) {
    this.#opts = opts;
  }

  /** True once a serving pair trusted by the webhook configuration has been written to the files. */
  ready(): boolean {
    return this.#ready;
  }

  /** One reconcile; concurrent calls share it. Throws when the API refuses or keeps conflicting. */
  reconcile(): Promise<ReconcileResult> {
    this.#running ??= this.#reconcile().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Reconciles until it succeeds once (backing off up to 30 s), then keeps reconciling in the background. */
  async start(signal?: AbortSignal): Promise<void> {
    let delay = 500;
    for (;;) {
      try {
        await this.reconcile();
        break;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        this.#opts.logger.warn(
          { err: { message: (err as Error).message }, retryInMs: delay },
          'cannot set up the webhook certificate yet',
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
    this.#schedule();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const base = this.#opts.intervalMs ?? 300_000;
    const jittered = base * (0.8 + Math.random() * 0.4);
    this.#timer = setTimeout(() => {
      this.reconcile()
        .catch((err: unknown) => {
          this.#opts.logger.error(
            { err: { message: (err as Error).message } },
            'webhook certificate reconcile failed',
          );
        })
        .finally(() => {
          if (this.#timer !== undefined) this.#schedule();
        });
    }, jittered);
    this.#timer.unref();
  }

  async #reconcile(): Promise<ReconcileResult> {
    const o = this.#opts;
    const now = o.now ?? (() => new Date());
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const webhook = await o.api.readWebhookConfiguration(o.webhookConfiguration);
      if (webhook === undefined) {
        throw new Error(`ValidatingWebhookConfiguration ${o.webhookConfiguration} not found`);
      }
      const secret = await o.api.readSecret(o.namespace, o.secretName);
      const current = readTlsState(secret?.data);
      const plan = planTls(current, {
        dnsNames: o.dnsNames,
        ips: o.ips,
        now: now(),
        ...(o.caValidDays !== undefined ? { caValidDays: o.caValidDays } : {}),
        ...(o.servingValidDays !== undefined ? { servingValidDays: o.servingValidDays } : {}),
        webhookTrusts: (pem) => webhookTrusts(webhook, pem),
      });
      if (plan.steps.length > 0) {
        const write = {
          namespace: o.namespace,
          name: o.secretName,
          data: tlsSecretData(plan.state),
          labels: { 'app.kubernetes.io/name': 'modelgate', 'app.kubernetes.io/component': 'webhook-tls' },
          // Deleted with the webhook configuration (helm uninstall) by the garbage collector.
          ownerReferences: [
            {
              apiVersion: 'admissionregistration.k8s.io/v1',
              kind: 'ValidatingWebhookConfiguration',
              name: o.webhookConfiguration,
              uid: webhook.uid,
            },
          ],
        };
        const r =
          secret === undefined
            ? await o.api.createSecret(write)
            : await o.api.replaceSecret(write, secret.resourceVersion);
        if (r !== 'done') {
          o.logger.debug({ result: r, attempt }, 'TLS Secret changed under us: reading it again');
          continue;
        }
        o.logger.info(
          { secret: `${o.namespace}/${o.secretName}`, steps: plan.steps },
          'webhook certificate Secret updated',
        );
      }
      const caBundle = caBundleOf(plan.state);
      const stale = webhook.webhooks
        .map((w, index) => ({ index, name: w.name, caBundle: w.caBundle }))
        .filter((w) => w.caBundle !== caBundle);
      let caBundlePatched = false;
      if (stale.length > 0) {
        const r = await o.api.setWebhookCaBundle(o.webhookConfiguration, stale, caBundle);
        if (r !== 'done') {
          o.logger.debug({ result: r, attempt }, 'webhook configuration changed under us: trying again');
          continue;
        }
        caBundlePatched = true;
        o.logger.info(
          { webhookConfiguration: o.webhookConfiguration, webhooks: stale.map((w) => w.name) },
          'webhook caBundle set',
        );
      }
      const filesWritten = await this.#writeFiles(plan.state.serving);
      this.#ready = true;
      return { steps: plan.steps, caBundlePatched, filesWritten };
    }
    throw new Error(
      `gave up after ${MAX_CONFLICTS} conflicting writes to the TLS Secret or webhook configuration`,
    );
  }

  async #writeFiles(serving: CertifiedKeyPem): Promise<boolean> {
    const o = this.#opts;
    const same = async (file: string, text: string) =>
      (await readFile(file, 'utf8').catch(() => '')) === text;
    if ((await same(o.certFile, serving.certPem)) && (await same(o.keyFile, serving.keyPem))) return false;
    // The key first, each replaced by a rename: the server polls both and keeps its pair until they match.
    await atomicWrite(o.keyFile, serving.keyPem, 0o600);
    await atomicWrite(o.certFile, serving.certPem, 0o644);
    o.logger.info({ certFile: o.certFile }, 'serving certificate written');
    return true;
  }
}

async function atomicWrite(file: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}
