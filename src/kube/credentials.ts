/**
 * Registry credentials from Kubernetes pull secrets: those a policy names (`spec.pullSecrets`) and,
 * when enabled, the admitted pod's own `imagePullSecrets` and its service account's. The registry client
 * takes one CredentialStore for its life; this one answers from the credentials of the verification
 * running in the current async context (AsyncLocalStorage), then from the process-wide ones
 * (`--registry-config`).
 *
 * Secrets are read only when a verification needs them, that is for a reference a policy governs: an
 * ungoverned reference costs no Secret read (and, as ever, no registry call).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { AdmittedObject, ModelVerifier } from '../engine/engine.ts';
import {
  type Credential,
  type CredentialSources,
  type CredentialStore,
  credentialSources,
  StaticCredentialStore,
} from '../oci/credentials.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ModelReference } from '../reference/reference.ts';
import type { CheckOutcome } from '../verdict/outcome.ts';
import { isRecord } from '../workload/json.ts';
import { podTemplatesOf } from '../workload/podspecs.ts';
import type { ClusterObjects } from './objects.ts';

/** A pull secret, by namespace and name. */
export interface PullSecretRef {
  readonly namespace: string;
  readonly name: string;
}

/** What a pod of an admitted object uses to pull: its pull secrets and service account. */
export interface PodPullContext {
  readonly namespace: string;
  readonly imagePullSecrets: readonly string[];
  readonly serviceAccountName: string;
}

/**
 * The pull context of each pod template in an admitted object (a Deployment has one, a Pod is one).
 * Pure; an odd shape gives no context rather than an error.
 */
export function podPullContexts(req: AdmittedObject): PodPullContext[] {
  if (req.namespace === undefined || req.namespace === '') return [];
  const templates = podTemplatesOf(req.kind, req.object, req.subResource);
  if (!templates.ok) return [];
  return templates.templates.map((t) => {
    const spec = isRecord(t.spec) ? t.spec : {};
    const secrets = Array.isArray(spec.imagePullSecrets) ? spec.imagePullSecrets : [];
    const names = secrets
      .map((s) => (isRecord(s) && typeof s.name === 'string' ? s.name : ''))
      .filter((n) => n !== '');
    const sa =
      typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== ''
        ? spec.serviceAccountName
        : typeof spec.serviceAccount === 'string' && spec.serviceAccount !== ''
          ? spec.serviceAccount
          : 'default';
    return { namespace: req.namespace!, imagePullSecrets: [...new Set(names)], serviceAccountName: sa };
  });
}

class LayeredStore implements CredentialStore {
  readonly #layers: readonly CredentialStore[];
  /** Pull secrets that applied but could not be used, each with why (for error messages). */
  readonly #skipped: readonly string[];
  constructor(layers: readonly CredentialStore[], skipped: readonly string[] = []) {
    this.#layers = layers;
    this.#skipped = skipped;
  }
  get(registry: string): Credential | undefined {
    for (const l of this.#layers) {
      const c = l.get(registry);
      if (c !== undefined) return c;
    }
    return undefined;
  }
  describe(registry: string): CredentialSources {
    return layeredSources(
      this.#layers.map((l) => credentialSources(l, registry)),
      this.#skipped,
    );
  }
}

/** The sources of layers consulted in order: the first that holds an entry is used, the rest are named. */
function layeredSources(layers: readonly CredentialSources[], skipped: readonly string[]): CredentialSources {
  const used = layers.find((l) => l.used !== undefined)?.used;
  const others = [...layers.flatMap((l) => (l.used === undefined ? l.others : [])), ...skipped];
  return used === undefined ? { others } : { used, others };
}

/** The CredentialStore handed to the registry client: the current verification's, then the fallback. */
export class ContextCredentials implements CredentialStore {
  readonly #als = new AsyncLocalStorage<CredentialStore>();
  readonly #fallback: CredentialStore | undefined;

  constructor(fallback?: CredentialStore) {
    this.#fallback = fallback;
  }

  get(registry: string): Credential | undefined {
    return this.#als.getStore()?.get(registry) ?? this.#fallback?.get(registry);
  }

  describe(registry: string): CredentialSources {
    const current = this.#als.getStore();
    const layers = [current, this.#fallback].filter((l): l is CredentialStore => l !== undefined);
    return layeredSources(
      layers.map((l) => credentialSources(l, registry)),
      [],
    );
  }

  /**
   * Runs `fn` with `stores` (first wins) as the credentials of the registry calls it makes; `skipped`
   * names the pull secrets that applied but could not be read, for the registry's refusal to name them.
   */
  run<T>(stores: readonly CredentialStore[], fn: () => T, skipped: readonly string[] = []): T {
    return stores.length === 0 && skipped.length === 0
      ? fn()
      : this.#als.run(new LayeredStore(stores, skipped), fn);
  }
}

export interface PullSecretVerifierOptions {
  readonly inner: ModelVerifier;
  readonly credentials: ContextCredentials;
  readonly objects: Pick<ClusterObjects, 'pullSecret' | 'serviceAccountPullSecrets' | 'allows'>;
  /** The admitted object of the admission in progress (set by `AdmissionContext.run`). */
  readonly admission: AdmissionContext;
  /** Use the pod's imagePullSecrets and its service account's. */
  readonly podPullSecrets: boolean;
  readonly logger: Logger;
}

/** Carries the admitted object down to the verifier, which the engine calls with a reference only. */
export class AdmissionContext {
  readonly #als = new AsyncLocalStorage<AdmittedObject>();
  run<T>(req: AdmittedObject, fn: () => T): T {
    return this.#als.run(req, fn);
  }
  current(): AdmittedObject | undefined {
    return this.#als.getStore();
  }
}

/**
 * A ModelVerifier that reads the pull secrets that apply to a verification, then runs the real verifier
 * with them as its credentials. Precedence for one registry host: the policy's `pullSecrets` (in order),
 * then the pod's `imagePullSecrets`, then its service account's, then `--registry-config`. A Secret that
 * cannot be read is logged and skipped: the registry then refuses, and the model is refused with it.
 *
 * Evidence is shared per reference (digest-addressed, checked against the digest), so a verification that
 * joins one in flight uses the credentials of the one that started it.
 */
export class PullSecretVerifier implements ModelVerifier {
  readonly #opts: PullSecretVerifierOptions;

  constructor(opts: PullSecretVerifierOptions) {
    this.#opts = opts;
  }

  /** A verdict the inner verifier already holds needs no credentials: no Secret is read for it. */
  cached(ref: ModelReference, policy: CompiledPolicy): CheckOutcome | undefined {
    const inner = this.#opts.inner as ModelVerifier & {
      cached?: (ref: ModelReference, policy: CompiledPolicy) => CheckOutcome | undefined;
    };
    return inner.cached?.(ref, policy);
  }

  async verify(ref: ModelReference, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckOutcome> {
    const refs: PullSecretRef[] = [...(policy.spec.pullSecrets ?? [])];
    const req = this.#opts.admission.current();
    if (this.#opts.podPullSecrets && req !== undefined) {
      for (const ctx of podPullContexts(req)) {
        for (const name of ctx.imagePullSecrets) refs.push({ namespace: ctx.namespace, name });
        const fromSa = await this.#serviceAccountSecrets(ctx, signal);
        for (const name of fromSa) refs.push({ namespace: ctx.namespace, name });
      }
    }
    const { stores, skipped } = await this.#stores(dedupe(refs), signal);
    return this.#opts.credentials.run(stores, () => this.#opts.inner.verify(ref, policy, signal), skipped);
  }

  async #serviceAccountSecrets(ctx: PodPullContext, signal: AbortSignal): Promise<readonly string[]> {
    try {
      return await this.#opts.objects.serviceAccountPullSecrets(
        ctx.namespace,
        ctx.serviceAccountName,
        signal,
      );
    } catch (err) {
      if (signal.aborted) throw err;
      this.#opts.logger.warn(
        {
          serviceAccount: `${ctx.namespace}/${ctx.serviceAccountName}`,
          err: { message: (err as Error).message },
        },
        'cannot read the service account of a pod: its pull secrets are not used',
      );
      return [];
    }
  }

  /**
   * The credentials of each pull secret that can be read (named `pull secret ns/name` in error messages),
   * and, for those that cannot, their name and why, so that a registry's 401 can say which were tried.
   */
  async #stores(
    refs: readonly PullSecretRef[],
    signal: AbortSignal,
  ): Promise<{ stores: CredentialStore[]; skipped: string[] }> {
    const results = await Promise.all(
      refs.map(async (r): Promise<CredentialStore | string> => {
        const name = `pull secret ${r.namespace}/${r.name}`;
        if (!this.#opts.objects.allows(r.namespace)) {
          this.#opts.logger.warn(
            { secret: `${r.namespace}/${r.name}` },
            'pull secret in a namespace modelgate may not read: not used',
          );
          return `${name} is in a namespace modelgate may not read (the chart's secretAccess)`;
        }
        try {
          const store = await this.#opts.objects.pullSecret(r.namespace, r.name, signal);
          if (store === undefined) {
            this.#opts.logger.warn({ secret: `${r.namespace}/${r.name}` }, 'pull secret not found: not used');
            return `${name} was not found`;
          }
          return store instanceof StaticCredentialStore ? store.labelled(name) : store;
        } catch (err) {
          if (signal.aborted) throw err;
          this.#opts.logger.warn(
            { secret: `${r.namespace}/${r.name}`, err: { message: (err as Error).message } },
            'pull secret cannot be used',
          );
          return `${name} could not be read (see the modelgate logs)`;
        }
      }),
    );
    return {
      stores: results.filter((s): s is CredentialStore => typeof s !== 'string'),
      skipped: results.filter((s): s is string => typeof s === 'string'),
    };
  }
}

function dedupe(refs: readonly PullSecretRef[]): PullSecretRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = `${r.namespace}/${r.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
