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
import type { AdmittedObject, CheckOutcome, ModelVerifier } from '../engine/engine.ts';
import type { Credential, CredentialStore } from '../oci/credentials.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ModelReference } from '../reference/reference.ts';
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
  constructor(layers: readonly CredentialStore[]) {
    this.#layers = layers;
  }
  get(registry: string): Credential | undefined {
    for (const l of this.#layers) {
      const c = l.get(registry);
      if (c !== undefined) return c;
    }
    return undefined;
  }
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

  /** Runs `fn` with `stores` (first wins) as the credentials of the registry calls it makes. */
  run<T>(stores: readonly CredentialStore[], fn: () => T): T {
    return stores.length === 0 ? fn() : this.#als.run(new LayeredStore(stores), fn);
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
    const stores = await this.#stores(dedupe(refs), signal);
    return this.#opts.credentials.run(stores, () => this.#opts.inner.verify(ref, policy, signal));
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

  async #stores(refs: readonly PullSecretRef[], signal: AbortSignal): Promise<CredentialStore[]> {
    const results = await Promise.all(
      refs.map(async (r) => {
        if (!this.#opts.objects.allows(r.namespace)) {
          this.#opts.logger.warn(
            { secret: `${r.namespace}/${r.name}` },
            'pull secret in a namespace modelgate may not read: not used',
          );
          return undefined;
        }
        try {
          const store = await this.#opts.objects.pullSecret(r.namespace, r.name, signal);
          if (store === undefined) {
            this.#opts.logger.warn({ secret: `${r.namespace}/${r.name}` }, 'pull secret not found: not used');
          }
          return store;
        } catch (err) {
          if (signal.aborted) throw err;
          this.#opts.logger.warn(
            { secret: `${r.namespace}/${r.name}`, err: { message: (err as Error).message } },
            'pull secret cannot be used',
          );
          return undefined;
        }
      }),
    );
    return results.filter((s): s is NonNullable<typeof s> => s !== undefined);
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
