/**
 * The cluster side of `modelgate serve --kubernetes`, wired together: policies and namespace labels from
 * informers, policy status, Secrets and ConfigMaps on demand, pull-secret credentials, refusal Events and,
 * when asked, self-managed webhook certificates. serve.ts builds the engine and the HTTPS server on top.
 */
import type { Logger } from 'pino';
import type { AdmissionRequest } from '../admission/review.ts';
import type { SelfManagedTlsConfig } from '../config.ts';
import type { Decision } from '../engine/decision.ts';
import type { AdmittedObject, ModelVerifier } from '../engine/engine.ts';
import type { CredentialStore } from '../oci/credentials.ts';
import type { PolicySnapshot } from '../policy/snapshot.ts';
import { type TrustCache, unavailableTrust } from '../verify/trust.ts';
import type { KubeApi } from './api.ts';
import { CertificateManager } from './certificates.ts';
import { ClientKubeApi, contextNamespace, loadKubeConfig } from './client.ts';
import { AdmissionContext, ContextCredentials, PullSecretVerifier } from './credentials.ts';
import { EventRecorder } from './events.ts';
import { modelPolicyList, namespaceList, type RunningInformer, startInformer } from './informers.ts';
import { modelGlobsOf } from './match-conditions.ts';
import { NamespaceLabels, type NamespaceObject } from './namespaces.ts';
import { ClusterObjects, TrustRefresher, trustReferences } from './objects.ts';
import { type ModelPolicyObject, PolicyStore, StatusWriter, TrustProber } from './policies.ts';
import { WebhookConditions } from './webhook-conditions.ts';

/** The DNS names of a Service, as the API server and in-cluster clients name it. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export interface ClusterOptions {
  /** A kubeconfig file; without it the in-cluster service account. */
  readonly kubeconfig?: string;
  /** The namespace modelgate runs in (default: the service account's or the kubeconfig context's). */
  readonly namespace?: string;
  /** This replica's name, reported on Events. */
  readonly podName: string;
  /** Namespaces whose Secrets and ConfigMaps may be read; empty: any. */
  readonly secretNamespaces: readonly string[];
  readonly podPullSecrets: boolean;
  readonly events: boolean;
  readonly tls?: SelfManagedTlsConfig;
  /**
   * The ValidatingWebhookConfiguration whose webhooks get modelgate's matchCondition, kept in step with
   * the ModelPolicies (src/kube/webhook-conditions.ts); absent: left alone.
   */
  readonly webhookConfiguration?: string;
  readonly logger: Logger;
  /** Registry credentials used when no pull secret applies (`--registry-config`). */
  readonly fallbackCredentials?: CredentialStore;
  /** How often a policy whose trust material is unavailable is checked again (default 5 s). */
  readonly trustRetryMs?: number;
  /** How often every policy is looked at again, to retry status writes (default 5 min). */
  readonly resyncMs?: number;
}

export interface Cluster {
  /** The namespace modelgate runs in. */
  readonly namespace: string;
  readonly objects: ClusterObjects;
  /** The CredentialStore to give the registry client. */
  readonly credentials: ContextCredentials;
  /** The certificate manager, in self-managed TLS mode. */
  readonly certificates?: CertificateManager;
  snapshot(): PolicySnapshot;
  /** Whether the first full list of ModelPolicies is in: before it, `snapshot()` says nothing. */
  policiesLoaded(): boolean;
  /** Resolves once it is. */
  readonly policiesLoading: Promise<void>;
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** Wraps the registry verifier so that it runs with the pull secrets of each verification. */
  verifier(inner: ModelVerifier): ModelVerifier;
  /** Runs a decision with the admitted object in context, then records a refusal Event (not awaited). */
  decide(request: AdmissionRequest, review: (req: AdmittedObject) => Promise<Decision>): Promise<Decision>;
  /** Ready: first full lists of policies and namespaces taken in, and (self-managed TLS) a certificate in place. */
  ready(): boolean;
  /** Resolves when the first lists are in. */
  synced(): Promise<void>;
  /** Hands in the trust cache's invalidation (by policy contentKey), once the verifier exists. */
  onTrustChange(invalidate: (contentKey: string) => void): void;
  /**
   * Hands in the verifier's trust cache: each policy's trust material is then checked as soon as the
   * policy is seen, and its status says TRUST_UNAVAILABLE (Ready=False) while it cannot be used.
   */
  watchTrust(trust: Pick<TrustCache, 'forPolicy' | 'invalidate'>): void;
  close(): Promise<void>;
}

/** The cluster connection cannot be set up as configured (a usage error for the CLI). */
export class ClusterConfigError extends Error {
  override name = 'ClusterConfigError';
}

/** Connects to the API server and starts the informers; resolves at once (readiness tells when synced). */
export function startCluster(opts: ClusterOptions): Cluster {
  const log = opts.logger.child({ component: 'kube' });
  let kc: ReturnType<typeof loadKubeConfig>;
  try {
    kc = loadKubeConfig(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {});
  } catch (err) {
    throw new ClusterConfigError(
      `cannot load the Kubernetes client configuration${opts.kubeconfig ? ` from ${opts.kubeconfig}` : ''}: ${(err as Error).message}`,
    );
  }
  const namespace = opts.namespace ?? contextNamespace(kc);
  if (namespace === undefined) {
    throw new ClusterConfigError(
      'cannot tell which namespace modelgate runs in: give --namespace (or set POD_NAMESPACE)',
    );
  }
  const api: KubeApi = new ClientKubeApi(kc);
  return assembleCluster({ ...opts, namespace }, api, log, (handlers) => ({
    policies: (() => {
      const l = modelPolicyList(kc);
      return startInformer(kc, l.path, l.list, handlers.policies, log.child({ informer: 'modelpolicies' }));
    })(),
    namespaces: (() => {
      const l = namespaceList(kc);
      return startInformer(kc, l.path, l.list, handlers.namespaces, log.child({ informer: 'namespaces' }));
    })(),
  }));
}

interface Handlers {
  readonly policies: { upsert(o: unknown): void; remove(o: unknown): void };
  readonly namespaces: { upsert(o: unknown): void; remove(o: unknown): void };
}

interface Informers {
  readonly policies: Pick<RunningInformer<unknown>, 'synced' | 'firstSync' | 'list' | 'stop'>;
  readonly namespaces: Pick<RunningInformer<unknown>, 'synced' | 'firstSync' | 'list' | 'stop'>;
}

/** The wiring, on any KubeApi and informer source (tests give fakes). */
export function assembleCluster(
  opts: ClusterOptions & { readonly namespace: string },
  api: KubeApi,
  log: Logger,
  startInformers: (handlers: Handlers) => Informers,
): Cluster {
  const store = new PolicyStore();
  const labels = new NamespaceLabels();
  const statuses = new StatusWriter({ api, logger: log });
  let invalidate: (contentKey: string) => void = () => {};
  let prober: TrustProber | undefined;
  const refresher = new TrustRefresher({
    objects: { refresh: (...a) => objects.refresh(...a), allows: (ns) => objects.allows(ns) },
    invalidate: (contentKey) => {
      invalidate(contentKey);
      prober?.recheck(contentKey);
    },
    logger: log,
  });
  const objects = new ClusterObjects({
    api,
    namespaces: opts.secretNamespaces,
    onChange: (kind, ns, name) => refresher.changed(kind, ns, name),
  });
  const credentials = new ContextCredentials(opts.fallbackCredentials);
  const admission = new AdmissionContext();
  const events = opts.events
    ? new EventRecorder({ api, source: { instance: opts.podName }, logger: log })
    : undefined;
  const certificates = opts.tls
    ? new CertificateManager({
        api,
        namespace: opts.namespace,
        secretName: opts.tls.secretName,
        webhookConfiguration: opts.tls.webhookConfiguration,
        dnsNames: [
          ...new Set([...serviceDnsNames(opts.tls.serviceName, opts.namespace), ...opts.tls.extraDnsNames]),
        ],
        ips: opts.tls.extraIps,
        certFile: opts.tls.certFile,
        keyFile: opts.tls.keyFile,
        logger: opts.logger.child({ component: 'certificates' }),
      })
    : undefined;

  let conditions: WebhookConditions | undefined;
  let lastPolicies = store.snapshot().policies;
  const afterPolicyChange = () => {
    const snap = store.snapshot();
    if (snap.policies !== lastPolicies) {
      lastPolicies = snap.policies;
      refresher.update(snap.policies);
      prober?.update(snap.policies);
    }
    conditions?.changed();
  };
  const upsertPolicy = (o: unknown) => {
    const obj = o as ModelPolicyObject;
    const before = store.compilations;
    const status = store.upsert(obj);
    if (store.compilations !== before) {
      const name = obj.metadata?.name;
      const bad = store.snapshot().invalid.find((p) => p.name === name);
      if (bad) {
        log.warn(
          { policy: name, generation: obj.metadata?.generation, errors: bad.errors },
          'policy invalid: not applied, the models it governs are refused',
        );
      } else {
        log.info({ policy: name, generation: obj.metadata?.generation }, 'policy in force');
      }
    }
    // A policy whose trust material is being checked gets its status from the check (no Valid first).
    const name = obj.metadata?.name;
    if (status !== undefined && name && !(prober !== undefined && store.trustPending(name))) {
      statuses.enqueue(name, status);
    }
    afterPolicyChange();
  };
  const informers = startInformers({
    policies: {
      upsert: upsertPolicy,
      remove: (o) => {
        store.remove(o as ModelPolicyObject);
        log.info({ policy: (o as ModelPolicyObject).metadata?.name }, 'policy removed');
        afterPolicyChange();
      },
    },
    namespaces: {
      upsert: (o) => labels.upsert(o as NamespaceObject),
      remove: (o) => labels.remove(o as NamespaceObject),
    },
  });
  refresher.start();
  if (opts.webhookConfiguration !== undefined) {
    conditions = new WebhookConditions({
      api,
      webhookConfiguration: opts.webhookConfiguration,
      // Every glob the informer holds, valid policy or not: an invalid one still makes its images models.
      globs: () => (informers.policies.synced() ? modelGlobsOf(informers.policies.list()) : undefined),
      logger: opts.logger.child({ component: 'webhook-conditions' }),
    });
    // Every image until the first list is in; then only what the policies' globs could cover.
    conditions.start();
    void informers.policies.firstSync.then(() => conditions?.changed());
  }
  const resync = setInterval(() => {
    for (const p of informers.policies.list()) upsertPolicy(p);
  }, opts.resyncMs ?? 300_000);
  resync.unref();

  const synced = Promise.all([informers.policies.firstSync, informers.namespaces.firstSync]).then(() => {
    log.info(
      {
        policies: store.snapshot().policies.length,
        invalid: store.snapshot().invalid.length,
        namespaces: labels.size,
      },
      'policies and namespaces listed',
    );
  });

  return {
    namespace: opts.namespace,
    objects,
    credentials,
    ...(certificates ? { certificates } : {}),
    snapshot: () => store.snapshot(),
    policiesLoaded: () => informers.policies.synced(),
    policiesLoading: informers.policies.firstSync,
    namespaceLabels: (ns) => labels.labels(ns),
    verifier: (inner) =>
      new PullSecretVerifier({
        inner,
        credentials,
        objects,
        admission,
        podPullSecrets: opts.podPullSecrets,
        logger: log,
      }),
    async decide(request, review) {
      const decision = await admission.run(request, () => review(request));
      events?.record(request, decision);
      return decision;
    },
    ready: () =>
      informers.policies.synced() && informers.namespaces.synced() && (certificates?.ready() ?? true),
    synced: () => synced,
    onTrustChange(fn) {
      invalidate = fn;
    },
    watchTrust(trust) {
      if (prober !== undefined) return;
      prober = new TrustProber({
        async probe(p, fresh, signal) {
          if (fresh) {
            // Past the object cache (a missing Secret is remembered for a while) and the compiled trust.
            await Promise.allSettled(
              trustReferences(p)
                .filter((r) => objects.allows(r.namespace))
                .map((r) => objects.refresh(r.kind, r.namespace, r.name)),
            );
            trust.invalidate(p.contentKey);
          }
          return unavailableTrust(await trust.forPolicy(p, signal));
        },
        onResult(p, problem) {
          const status = store.trustChecked(p.name, p.contentKey, problem);
          if (problem !== undefined && status !== undefined) {
            log.warn({ policy: p.name, problem }, 'policy trust material unavailable (TRUST_UNAVAILABLE)');
          } else if (status !== undefined) {
            log.info({ policy: p.name }, 'policy trust material available');
          }
          if (status !== undefined) statuses.enqueue(p.name, status);
        },
        logger: log,
        ...(opts.trustRetryMs !== undefined ? { retryMs: opts.trustRetryMs } : {}),
      });
      prober.update(store.snapshot().policies);
      prober.start();
    },
    async close() {
      clearInterval(resync);
      refresher.stop();
      prober?.stop();
      certificates?.stop();
      conditions?.stop();
      statuses.close();
      events?.close();
      await Promise.allSettled([informers.policies.stop(), informers.namespaces.stop()]);
    },
  };
}
