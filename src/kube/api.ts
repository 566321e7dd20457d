/**
 * The few Kubernetes API calls modelgate makes, behind one small interface so that the controllers in
 * this folder are tested with an in-memory fake and only `client.ts` knows `@kubernetes/client-node`.
 */

/** A Secret as modelgate reads it: values decoded to bytes. */
export interface SecretObject {
  readonly resourceVersion: string;
  readonly type?: string;
  readonly data: Readonly<Record<string, Buffer>>;
}

/** A ConfigMap as modelgate reads it: `binaryData` decoded, `data` as is. */
export interface ConfigMapObject {
  readonly resourceVersion: string;
  readonly data: Readonly<Record<string, string>>;
  readonly binaryData: Readonly<Record<string, Buffer>>;
}

/** One of a webhook's `matchConditions` (CEL): the API server calls the webhook only when all are true. */
export interface MatchCondition {
  readonly name: string;
  readonly expression: string;
}

/** What modelgate reads of a ValidatingWebhookConfiguration: its uid and each webhook's caBundle and conditions. */
export interface WebhookConfigurationView {
  readonly uid: string;
  /** For optimistic concurrency on writes that replace a whole field (matchConditions). */
  readonly resourceVersion?: string;
  readonly webhooks: readonly {
    readonly name: string;
    readonly caBundle?: string;
    readonly matchConditions?: readonly MatchCondition[];
  }[];
}

/** An owner reference on an object modelgate creates (the webhook configuration owns the TLS Secret). */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

export interface SecretWrite {
  readonly namespace: string;
  readonly name: string;
  readonly data: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
}

/** An events.k8s.io/v1 Event, as modelgate writes it (see events.ts). */
export interface EventBody {
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly eventTime: Date;
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly action: string;
  readonly reason: string;
  readonly type: 'Normal' | 'Warning';
  readonly note: string;
  readonly regarding: {
    readonly apiVersion?: string;
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly uid?: string;
  };
}

export interface EventSeries {
  readonly count: number;
  readonly lastObservedTime: Date;
}

export type WriteResult = 'done' | 'gone' | 'conflict';

/** Reads return `undefined` for an object that does not exist; every other failure throws. */
export interface KubeApi {
  readSecret(namespace: string, name: string, signal?: AbortSignal): Promise<SecretObject | undefined>;
  readConfigMap(namespace: string, name: string, signal?: AbortSignal): Promise<ConfigMapObject | undefined>;
  /** The `imagePullSecrets` names of a service account. */
  readServiceAccountPullSecrets(
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<readonly string[] | undefined>;
  /** `conflict` when the Secret already exists. */
  createSecret(secret: SecretWrite): Promise<WriteResult>;
  /** `conflict` when `resourceVersion` is no longer current; `gone` when the Secret was deleted. */
  replaceSecret(secret: SecretWrite, resourceVersion: string): Promise<WriteResult>;
  readWebhookConfiguration(name: string): Promise<WebhookConfigurationView | undefined>;
  /**
   * Sets `clientConfig.caBundle` of the webhooks at `indexes` (each checked by name, so that a reordered
   * object fails with `conflict` instead of patching the wrong entry).
   */
  setWebhookCaBundle(
    name: string,
    webhooks: readonly { readonly index: number; readonly name: string }[],
    caBundle: string,
  ): Promise<WriteResult>;
  /**
   * Sets `matchConditions` of the webhooks at `indexes` (each checked by name), provided the object is
   * still at `resourceVersion`: `conflict` when it changed, so that an edit made meanwhile is read again
   * rather than overwritten.
   */
  setWebhookMatchConditions(
    name: string,
    resourceVersion: string | undefined,
    webhooks: readonly {
      readonly index: number;
      readonly name: string;
      readonly matchConditions: readonly MatchCondition[];
    }[],
  ): Promise<WriteResult>;
  /** Merge-patches `status` of a ModelPolicy through the status subresource. */
  patchPolicyStatus(name: string, status: unknown): Promise<WriteResult>;
  createEvent(event: EventBody): Promise<WriteResult>;
  patchEventSeries(namespace: string, name: string, series: EventSeries): Promise<WriteResult>;
}
