/**
 * `@kubernetes/client-node` behind the KubeApi interface. The only file (with informers.ts) that imports
 * the client: everything else in src/kube is written against api.ts.
 */
import {
  AdmissionregistrationV1Api,
  ApiException,
  type ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  V1MicroTime,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../policy/schema.ts';
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
} from './api.ts';

export const MODELPOLICY_PLURAL = 'modelpolicies';
/** Every API call is bounded: a hung API server must not hold an admission or a reconcile forever. */
const CALL_TIMEOUT_MS = 10_000;

export interface KubeConnectionOptions {
  /** A kubeconfig file; without it the pod's service account (in-cluster configuration) is used. */
  readonly kubeconfig?: string;
}

/** Loads the client configuration: a kubeconfig file, or the pod's service account. */
export function loadKubeConfig(opts: KubeConnectionOptions): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig !== undefined) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromCluster();
  if (kc.getCurrentCluster() === null) throw new Error('the kubeconfig names no current cluster');
  return kc;
}

/** The namespace of the current context: the service account's in a cluster, the kubeconfig's outside. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  const ns = kc.getContextObject(kc.getCurrentContext())?.namespace?.trim();
  return ns ? ns : undefined;
}

/** Per-call options: a bounded signal and, for patches, the content type. */
function callOptions(signal: AbortSignal | undefined, contentType?: string): ConfigurationOptions {
  const bounded = signal
    ? AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)])
    : AbortSignal.timeout(CALL_TIMEOUT_MS);
  const middleware: ObservableMiddleware = {
    pre(ctx: RequestContext) {
      ctx.setSignal(bounded);
      if (contentType !== undefined) ctx.setHeaderParam('Content-Type', contentType);
      return new Observable(Promise.resolve(ctx));
    },
    post(res: ResponseContext) {
      return new Observable(Promise.resolve(res));
    },
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

async function readOrUndefined<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw describeError(err);
  }
}

/** Maps 404 to `gone` and 409 (and the statuses in `conflicts`) to `conflict`; anything else throws. */
async function write(call: () => Promise<unknown>, conflicts: readonly number[] = []): Promise<WriteResult> {
  try {
    await call();
    return 'done';
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return 'gone';
    if (status === 409 || (status !== undefined && conflicts.includes(status))) return 'conflict';
    throw describeError(err);
  }
}

/** ApiException messages carry the whole response body; keep the status and the API server's message. */
function describeError(err: unknown): Error {
  if (!(err instanceof ApiException)) return err instanceof Error ? err : new Error(String(err));
  let message = '';
  try {
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    message = typeof body?.message === 'string' ? body.message : '';
  } catch {
    message = '';
  }
  const e = new Error(`Kubernetes API answered ${err.code}${message ? `: ${message}` : ''}`, { cause: err });
  (e as Error & { code: number }).code = err.code;
  return e;
}

function decodeData(data: Record<string, string> | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
}

/** KubeApi over `@kubernetes/client-node`. */
export class ClientKubeApi implements KubeApi {
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #admission: AdmissionregistrationV1Api;
  readonly #events: EventsV1Api;

  constructor(kc: KubeConfig) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#admission = kc.makeApiClient(AdmissionregistrationV1Api);
    this.#events = kc.makeApiClient(EventsV1Api);
  }

  readSecret(namespace: string, name: string, signal?: AbortSignal): Promise<SecretObject | undefined> {
    return readOrUndefined(async () => {
      const s = await this.#core.readNamespacedSecret({ namespace, name }, callOptions(signal));
      return {
        resourceVersion: s.metadata?.resourceVersion ?? '',
        ...(s.type !== undefined ? { type: s.type } : {}),
        data: decodeData(s.data),
      };
    });
  }

  readConfigMap(namespace: string, name: string, signal?: AbortSignal): Promise<ConfigMapObject | undefined> {
    return readOrUndefined(async () => {
      const c = await this.#core.readNamespacedConfigMap({ namespace, name }, callOptions(signal));
      return {
        resourceVersion: c.metadata?.resourceVersion ?? '',
        data: { ...(c.data ?? {}) },
        binaryData: decodeData(c.binaryData),
      };
    });
  }

  readServiceAccountPullSecrets(
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<readonly string[] | undefined> {
    return readOrUndefined(async () => {
      const sa = await this.#core.readNamespacedServiceAccount({ namespace, name }, callOptions(signal));
      return (sa.imagePullSecrets ?? []).map((r) => r.name ?? '').filter((n) => n !== '');
    });
  }

  createSecret(secret: SecretWrite): Promise<WriteResult> {
    return write(() =>
      this.#core.createNamespacedSecret(
        { namespace: secret.namespace, body: secretBody(secret) },
        callOptions(undefined),
      ),
    );
  }

  replaceSecret(secret: SecretWrite, resourceVersion: string): Promise<WriteResult> {
    const body = secretBody(secret);
    body.metadata = { ...body.metadata, resourceVersion };
    return write(() =>
      this.#core.replaceNamespacedSecret(
        { namespace: secret.namespace, name: secret.name, body },
        callOptions(undefined),
      ),
    );
  }

  readWebhookConfiguration(name: string): Promise<WebhookConfigurationView | undefined> {
    return readOrUndefined(async () => {
      const w = await this.#admission.readValidatingWebhookConfiguration({ name }, callOptions(undefined));
      return {
        uid: w.metadata?.uid ?? '',
        ...(w.metadata?.resourceVersion !== undefined ? { resourceVersion: w.metadata.resourceVersion } : {}),
        webhooks: (w.webhooks ?? []).map((h) => ({
          name: h.name,
          ...(h.clientConfig.caBundle !== undefined ? { caBundle: h.clientConfig.caBundle } : {}),
          ...(h.matchConditions !== undefined
            ? { matchConditions: h.matchConditions.map((c) => ({ name: c.name, expression: c.expression })) }
            : {}),
        })),
      };
    });
  }

  setWebhookCaBundle(
    name: string,
    webhooks: readonly { readonly index: number; readonly name: string }[],
    caBundle: string,
  ): Promise<WriteResult> {
    const ops = webhooks.flatMap((w) => [
      { op: 'test', path: `/webhooks/${w.index}/name`, value: w.name },
      { op: 'add', path: `/webhooks/${w.index}/clientConfig/caBundle`, value: caBundle },
    ]);
    return this.#patchWebhooks(name, ops);
  }

  setWebhookMatchConditions(
    name: string,
    resourceVersion: string | undefined,
    webhooks: readonly {
      readonly index: number;
      readonly name: string;
      readonly matchConditions: readonly MatchCondition[];
    }[],
  ): Promise<WriteResult> {
    const ops = [
      ...(resourceVersion !== undefined
        ? [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }]
        : []),
      ...webhooks.flatMap((w) => [
        { op: 'test', path: `/webhooks/${w.index}/name`, value: w.name },
        // `add` replaces the member when it is there, and creates it when it is not.
        {
          op: 'add',
          path: `/webhooks/${w.index}/matchConditions`,
          value: w.matchConditions.map((c) => ({ name: c.name, expression: c.expression })),
        },
      ]),
    ];
    return this.#patchWebhooks(name, ops);
  }

  /**
   * A JSON patch of the ValidatingWebhookConfiguration whose `test` operations guard what it changes: a
   * failed `test` answers 422 (Invalid) when the object moved under us, and the caller reads again.
   */
  #patchWebhooks(name: string, ops: readonly object[]): Promise<WriteResult> {
    return write(
      () =>
        this.#admission.patchValidatingWebhookConfiguration(
          { name, body: ops },
          callOptions(undefined, 'application/json-patch+json'),
        ),
      [422],
    );
  }

  patchPolicyStatus(name: string, status: unknown): Promise<WriteResult> {
    return write(() =>
      this.#custom.patchClusterCustomObjectStatus(
        { group: API_GROUP, version: API_VERSION, plural: MODELPOLICY_PLURAL, name, body: { status } },
        callOptions(undefined, 'application/merge-patch+json'),
      ),
    );
  }

  createEvent(event: EventBody): Promise<WriteResult> {
    return write(() =>
      this.#events.createNamespacedEvent(
        {
          namespace: event.metadata.namespace,
          body: { ...event, eventTime: new V1MicroTime(event.eventTime.getTime()) },
        },
        callOptions(undefined),
      ),
    );
  }

  patchEventSeries(namespace: string, name: string, series: EventSeries): Promise<WriteResult> {
    const body = {
      series: {
        count: series.count,
        lastObservedTime: new V1MicroTime(series.lastObservedTime.getTime()).toISOString(),
      },
    };
    return write(() =>
      this.#events.patchNamespacedEvent(
        { namespace, name, body },
        callOptions(undefined, 'application/merge-patch+json'),
      ),
    );
  }
}

function secretBody(secret: SecretWrite) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: secret.name,
      namespace: secret.namespace,
      ...(secret.labels ? { labels: { ...secret.labels } } : {}),
      ...(secret.ownerReferences ? { ownerReferences: secret.ownerReferences.map((o) => ({ ...o })) } : {}),
    } as Record<string, unknown>,
    stringData: undefined,
    data: Object.fromEntries(
      Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
    ),
  };
}
