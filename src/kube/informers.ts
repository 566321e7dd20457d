/**
 * List-and-watch of ModelPolicies and Namespaces with `@kubernetes/client-node`'s ListWatch, plus what it
 * leaves to the caller: restarting after an error (it stops on anything but an expired resourceVersion)
 * with backoff, and knowing when the first full list has been taken in (readiness).
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_GROUP, API_VERSION } from '../policy/schema.ts';
import { MODELPOLICY_PLURAL } from './client.ts';

export interface InformerHandlers<T> {
  readonly upsert: (obj: T) => void;
  readonly remove: (obj: T) => void;
}

export interface RunningInformer<T> {
  /** True once a full list has been taken in. */
  synced(): boolean;
  /** Resolves at the first full list (or when stopped). */
  readonly firstSync: Promise<void>;
  /** The objects held now. */
  list(): readonly T[];
  stop(): Promise<void>;
}

const MAX_RESTART_DELAY_MS = 30_000;

/** Starts a list+watch of `path`, with restart on error. Handler exceptions are logged, never fatal. */
export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  handlers: InformerHandlers<T>,
  logger: Logger,
): RunningInformer<T> {
  let listed = false;
  let stopped = false;
  let delay = 1_000;
  let timer: NodeJS.Timeout | undefined;
  let resolveSync: () => void = () => {};
  const firstSync = new Promise<void>((r) => {
    resolveSync = r;
  });
  const listFn = async () => {
    const l = await list();
    // The ListWatch takes the items in right after this returns, within the same turn: mark the sync on
    // the next one, when they are all in.
    setImmediate(() => {
      listed = true;
      delay = 1_000;
      resolveSync();
    });
    return l;
  };
  const informer = new ListWatch<T>(path, new Watch(kc), listFn, false);
  const guard =
    (fn: (o: T) => void, what: string) =>
    (o: T): void => {
      try {
        fn(o);
      } catch (err) {
        logger.error({ err, path, what }, 'informer handler failed');
      }
    };
  informer.on('add', guard(handlers.upsert, 'add'));
  informer.on('update', guard(handlers.upsert, 'update'));
  informer.on('delete', guard(handlers.remove, 'delete'));
  const restart = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      run();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
  };
  informer.on('error', (err?: unknown) => {
    if (stopped) return;
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown } | undefined;
    const status =
      typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
    const hint =
      status === 404
        ? 'not served: is the ModelPolicy CRD installed?'
        : status === 401 || status === 403
          ? "not allowed: check the RBAC of modelgate's service account"
          : undefined;
    logger.warn(
      {
        path,
        status,
        error: String(e?.message ?? err).split('\n')[0],
        ...(hint ? { hint } : {}),
        retryInMs: delay,
      },
      'list/watch failed: restarting',
    );
    restart();
  });
  const run = () => {
    informer.start().catch((err: unknown) => {
      if (stopped) return;
      logger.warn({ path, err: { message: (err as Error).message } }, 'list/watch could not start');
      restart();
    });
  };
  run();
  return {
    synced: () => listed,
    firstSync,
    list: () => informer.list(),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      resolveSync();
      await informer.stop();
    },
  };
}

/** Path and list call of ModelPolicies (cluster-scoped). */
export function modelPolicyList(kc: KubeConfig): {
  path: string;
  list: () => Promise<KubernetesListObject<KubernetesObject>>;
} {
  const api = kc.makeApiClient(CustomObjectsApi);
  return {
    path: `/apis/${API_GROUP}/${API_VERSION}/${MODELPOLICY_PLURAL}`,
    list: () =>
      api.listClusterCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural: MODELPOLICY_PLURAL,
      }) as Promise<KubernetesListObject<KubernetesObject>>,
  };
}

/** Path and list call of Namespaces. */
export function namespaceList(kc: KubeConfig): {
  path: string;
  list: () => Promise<KubernetesListObject<KubernetesObject>>;
} {
  const api = kc.makeApiClient(CoreV1Api);
  return { path: '/api/v1/namespaces', list: () => api.listNamespace() };
}
