// In-memory stand-ins for the Kubernetes API (api.ts) and a logger, for the controllers' unit tests.
import { pino } from 'pino';
import type {
  ConfigMapObject,
  EventBody,
  EventSeries,
  KubeApi,
  MatchCondition,
  SecretObject,
  SecretWrite,
  WebhookConfigurationView,
  WriteResult,
} from '../../../src/kube/api.ts';

export const silentLogger = pino({ level: 'silent' });

interface StoredSecret {
  resourceVersion: string;
  data: Record<string, Buffer>;
  ownerReferences?: SecretWrite['ownerReferences'];
}

/** A KubeApi over maps, counting calls; `fail` makes the next calls of a method throw. */
export class FakeKubeApi implements KubeApi {
  readonly secrets = new Map<string, StoredSecret>();
  readonly configMaps = new Map<string, ConfigMapObject>();
  readonly serviceAccounts = new Map<string, string[]>();
  webhook:
    | {
        uid: string;
        resourceVersion?: string;
        webhooks: { name: string; caBundle?: string; matchConditions?: MatchCondition[] }[];
      }
    | undefined;
  readonly statuses: { name: string; status: unknown }[] = [];
  readonly events: EventBody[] = [];
  readonly series: { namespace: string; name: string; series: EventSeries }[] = [];
  readonly calls = new Map<string, number>();
  readonly failures = new Map<string, number>();
  #rv = 1;

  #count(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const f = this.failures.get(method) ?? 0;
    if (f > 0) {
      this.failures.set(method, f - 1);
      throw new Error(`${method} failed (test)`);
    }
  }

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  putSecret(namespace: string, name: string, data: Record<string, string | Buffer>): void {
    this.secrets.set(`${namespace}/${name}`, {
      resourceVersion: String(this.#rv++),
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])),
    });
  }

  async readSecret(namespace: string, name: string): Promise<SecretObject | undefined> {
    this.#count('readSecret');
    const s = this.secrets.get(`${namespace}/${name}`);
    return s && { resourceVersion: s.resourceVersion, data: { ...s.data } };
  }

  async readConfigMap(namespace: string, name: string): Promise<ConfigMapObject | undefined> {
    this.#count('readConfigMap');
    return this.configMaps.get(`${namespace}/${name}`);
  }

  async readServiceAccountPullSecrets(
    namespace: string,
    name: string,
  ): Promise<readonly string[] | undefined> {
    this.#count('readServiceAccountPullSecrets');
    return this.serviceAccounts.get(`${namespace}/${name}`);
  }

  async createSecret(secret: SecretWrite): Promise<WriteResult> {
    this.#count('createSecret');
    const key = `${secret.namespace}/${secret.name}`;
    if (this.secrets.has(key)) return 'conflict';
    this.secrets.set(key, this.#stored(secret));
    return 'done';
  }

  async replaceSecret(secret: SecretWrite, resourceVersion: string): Promise<WriteResult> {
    this.#count('replaceSecret');
    const key = `${secret.namespace}/${secret.name}`;
    const cur = this.secrets.get(key);
    if (cur === undefined) return 'gone';
    if (cur.resourceVersion !== resourceVersion) return 'conflict';
    this.secrets.set(key, this.#stored(secret));
    return 'done';
  }

  #stored(secret: SecretWrite): StoredSecret {
    return {
      resourceVersion: String(this.#rv++),
      data: Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'utf8')])),
      ...(secret.ownerReferences ? { ownerReferences: secret.ownerReferences } : {}),
    };
  }

  async readWebhookConfiguration(_name: string): Promise<WebhookConfigurationView | undefined> {
    this.#count('readWebhookConfiguration');
    return (
      this.webhook && {
        uid: this.webhook.uid,
        ...(this.webhook.resourceVersion !== undefined
          ? { resourceVersion: this.webhook.resourceVersion }
          : {}),
        webhooks: this.webhook.webhooks.map((w) => ({
          ...w,
          ...(w.matchConditions ? { matchConditions: w.matchConditions.map((c) => ({ ...c })) } : {}),
        })),
      }
    );
  }

  async setWebhookMatchConditions(
    _name: string,
    resourceVersion: string | undefined,
    webhooks: readonly {
      readonly index: number;
      readonly name: string;
      readonly matchConditions: readonly MatchCondition[];
    }[],
  ): Promise<WriteResult> {
    this.#count('setWebhookMatchConditions');
    if (this.webhook === undefined) return 'gone';
    if (resourceVersion !== undefined && this.webhook.resourceVersion !== resourceVersion) return 'conflict';
    if (webhooks.some((w) => this.webhook!.webhooks[w.index]?.name !== w.name)) return 'conflict';
    for (const w of webhooks) {
      this.webhook.webhooks[w.index]!.matchConditions = w.matchConditions.map((c) => ({ ...c }));
    }
    if (this.webhook.resourceVersion !== undefined) this.webhook.resourceVersion = String(this.#rv++);
    return 'done';
  }

  async setWebhookCaBundle(
    _name: string,
    webhooks: readonly { readonly index: number; readonly name: string }[],
    caBundle: string,
  ): Promise<WriteResult> {
    this.#count('setWebhookCaBundle');
    if (this.webhook === undefined) return 'gone';
    for (const w of webhooks) {
      const entry = this.webhook.webhooks[w.index];
      if (entry?.name !== w.name) return 'conflict';
      entry.caBundle = caBundle;
    }
    return 'done';
  }

  async patchPolicyStatus(name: string, status: unknown): Promise<WriteResult> {
    this.#count('patchPolicyStatus');
    this.statuses.push({ name, status });
    return 'done';
  }

  async createEvent(event: EventBody): Promise<WriteResult> {
    this.#count('createEvent');
    this.events.push(event);
    return 'done';
  }

  async patchEventSeries(namespace: string, name: string, series: EventSeries): Promise<WriteResult> {
    this.#count('patchEventSeries');
    this.series.push({ namespace, name, series });
    return 'done';
  }
}
