/**
 * Secrets, ConfigMaps and service accounts that policies and pods name, read on demand (RBAC `get` only:
 * no list, no watch) and kept a short while. They feed the verifier: public keys of key authorities
 * (`key.secretRef`), trusted roots of keyless and key ones (`trustedRoot.configMapRef`), and registry
 * credentials (`pullSecrets`, a pod's `imagePullSecrets`). Reads may be confined to a list of namespaces,
 * matching the RBAC the chart grants.
 */
import type { Logger } from 'pino';
import {
  CredentialsError,
  credentialsFromDockerConfig,
  type StaticCredentialStore,
} from '../oci/credentials.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ObjectKeyRef, SecretSource, TrustedRootSource } from '../verify/index.ts';
import type { ConfigMapObject, KubeApi, SecretObject } from './api.ts';

export type ObjectKind = 'secret' | 'configmap' | 'serviceaccount';

export interface ObjectsOptions {
  readonly api: Pick<KubeApi, 'readSecret' | 'readConfigMap' | 'readServiceAccountPullSecrets'>;
  /** Namespaces whose Secrets and ConfigMaps may be read; empty: any namespace. */
  readonly namespaces: readonly string[];
  /** How long a read object is used before it is read again (default 60 s). */
  readonly ttlMs?: number;
  /** How long "not found" is remembered (default 10 s). */
  readonly missingTtlMs?: number;
  /** Objects kept at most (default 1024). */
  readonly maxEntries?: number;
  /** Called when a read finds that an object changed (or appeared, or went) since the last read. */
  readonly onChange?: (kind: ObjectKind, namespace: string, name: string) => void;
  readonly now?: () => number;
}

interface Cached<T> {
  readonly value: Promise<T | undefined>;
  /** Set once the read finished. */
  version?: string;
  readAt: number;
  settled: boolean;
}

export class ObjectAccessError extends Error {
  override name = 'ObjectAccessError';
  /** What the operator changes (an object to create, a chart value), for TRUST_UNAVAILABLE's fix. */
  readonly fix: string | undefined;
  constructor(message: string, fix?: string) {
    super(message);
    this.fix = fix;
  }
}

/** The chart values that grant modelgate `get` in a namespace. */
const grantIn = (namespace: string) =>
  `add ${namespace} to the chart value secretAccess.namespaces (or set secretAccess.clusterWide: true)`;

/** A 403 from the API server as an ObjectAccessError that names the RBAC to change; else `err`. */
function forbidden(err: unknown, kind: 'secrets' | 'configmaps', namespace: string, name: string): unknown {
  if ((err as { code?: unknown } | null)?.code !== 403) return err;
  return new ObjectAccessError(
    `modelgate may not get ${kind} in namespace ${namespace} (${name}): ${(err as Error).message}`,
    `let modelgate's service account get ${kind} in namespace ${namespace}: ${grantIn(namespace)}`,
  );
}

type Reader<T> = (namespace: string, name: string) => Promise<T | undefined>;

/** Reads Secrets, ConfigMaps and service accounts through a small TTL cache; concurrent reads share one. */
export class ClusterObjects implements SecretSource, TrustedRootSource {
  readonly #opts: ObjectsOptions;
  readonly #cache = new Map<string, Cached<unknown>>();
  readonly #now: () => number;
  readonly #namespaces: ReadonlySet<string>;

  constructor(opts: ObjectsOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#namespaces = new Set(opts.namespaces);
  }

  /** One value of a Secret as text (SecretSource: public keys of key authorities). */
  async secret(ref: ObjectKeyRef, signal: AbortSignal): Promise<string> {
    const s = await this.readSecret(ref.namespace, ref.name, signal).catch((err: unknown) => {
      throw forbidden(err, 'secrets', ref.namespace, ref.name);
    });
    const create = `kubectl -n ${ref.namespace} create secret generic ${ref.name} --from-file=${ref.key}=cosign.pub`;
    if (s === undefined) {
      throw new ObjectAccessError(
        `secret ${ref.namespace}/${ref.name} not found`,
        `create Secret ${ref.namespace}/${ref.name} with the PEM public key under key ${ref.key} (${create})`,
      );
    }
    const value = s.data[ref.key];
    if (value === undefined) {
      throw new ObjectAccessError(
        `secret ${ref.namespace}/${ref.name} has no key ${JSON.stringify(ref.key)}`,
        `add key ${ref.key} (the PEM public key) to Secret ${ref.namespace}/${ref.name}, or fix secretRef.key`,
      );
    }
    return value.toString('utf8');
  }

  /** One value of a ConfigMap (TrustedRootSource: a trusted_root.json). */
  async trustedRoot(ref: ObjectKeyRef, signal: AbortSignal): Promise<string> {
    const c = await this.readConfigMap(ref.namespace, ref.name, signal).catch((err: unknown) => {
      throw forbidden(err, 'configmaps', ref.namespace, ref.name);
    });
    if (c === undefined) {
      throw new ObjectAccessError(
        `configmap ${ref.namespace}/${ref.name} not found`,
        `create ConfigMap ${ref.namespace}/${ref.name} with the trusted_root.json under key ${ref.key} (kubectl -n ${ref.namespace} create configmap ${ref.name} --from-file=${ref.key}=trusted_root.json)`,
      );
    }
    const value = c.data[ref.key] ?? c.binaryData[ref.key]?.toString('utf8');
    if (value === undefined) {
      throw new ObjectAccessError(
        `configmap ${ref.namespace}/${ref.name} has no key ${JSON.stringify(ref.key)}`,
        `add key ${ref.key} (the trusted_root.json) to ConfigMap ${ref.namespace}/${ref.name}, or fix configMapRef.key`,
      );
    }
    return value;
  }

  /**
   * The registry credentials of a pull secret (`kubernetes.io/dockerconfigjson`, or the older
   * `kubernetes.io/dockercfg`); undefined when the Secret does not exist. Throws on an unreadable one.
   */
  async pullSecret(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<StaticCredentialStore | undefined> {
    const s = await this.readSecret(namespace, name, signal);
    if (s === undefined) return undefined;
    const json = s.data['.dockerconfigjson'];
    const legacy = s.data['.dockercfg'];
    try {
      if (json !== undefined) return credentialsFromDockerConfig(json.toString('utf8'));
      if (legacy !== undefined) {
        return credentialsFromDockerConfig({ auths: JSON.parse(legacy.toString('utf8')) as unknown });
      }
    } catch (err) {
      // The message names the Secret, never its contents.
      const why = err instanceof CredentialsError ? err.errors.join('; ') : (err as Error).name;
      throw new ObjectAccessError(`secret ${namespace}/${name} is not a docker config: ${why}`);
    }
    throw new ObjectAccessError(`secret ${namespace}/${name} holds no .dockerconfigjson`);
  }

  /** The `imagePullSecrets` of a service account (empty when it does not exist). */
  async serviceAccountPullSecrets(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<readonly string[]> {
    const read: Reader<readonly string[]> = (ns, n) => this.#opts.api.readServiceAccountPullSecrets(ns, n);
    return (await this.#get('serviceaccount', namespace, name, read, () => undefined, signal)) ?? [];
  }

  readSecret(namespace: string, name: string, signal: AbortSignal): Promise<SecretObject | undefined> {
    this.#checkNamespace('secret', namespace);
    const read: Reader<SecretObject> = (ns, n) => this.#opts.api.readSecret(ns, n);
    return this.#get('secret', namespace, name, read, (s) => s.resourceVersion, signal);
  }

  readConfigMap(namespace: string, name: string, signal: AbortSignal): Promise<ConfigMapObject | undefined> {
    this.#checkNamespace('configmap', namespace);
    const read: Reader<ConfigMapObject> = (ns, n) => this.#opts.api.readConfigMap(ns, n);
    return this.#get('configmap', namespace, name, read, (c) => c.resourceVersion, signal);
  }

  /** Reads an object again now, whatever its age (the refresher uses it to notice changes). */
  async refresh(kind: ObjectKind, namespace: string, name: string): Promise<void> {
    const key = cacheKey(kind, namespace, name);
    const entry = this.#cache.get(key);
    if (entry?.settled) entry.readAt = Number.NEGATIVE_INFINITY;
    const signal = AbortSignal.timeout(15_000);
    if (kind === 'secret') await this.readSecret(namespace, name, signal);
    else if (kind === 'configmap') await this.readConfigMap(namespace, name, signal);
    else await this.serviceAccountPullSecrets(namespace, name, signal);
  }

  /** Whether reads in this namespace are allowed by the configuration. */
  allows(namespace: string): boolean {
    return this.#namespaces.size === 0 || this.#namespaces.has(namespace);
  }

  #checkNamespace(kind: ObjectKind, namespace: string): void {
    if (!this.allows(namespace)) {
      throw new ObjectAccessError(
        `modelgate does not read ${kind === 'secret' ? 'Secrets' : 'ConfigMaps'} in namespace ${namespace} ` +
          `(allowed: ${[...this.#namespaces].join(', ')}; see the chart's secretAccess values)`,
        `${grantIn(namespace)}, or move the object to one of: ${[...this.#namespaces].join(', ')}`,
      );
    }
  }

  #get<T>(
    kind: ObjectKind,
    namespace: string,
    name: string,
    read: Reader<T>,
    versionOf: (v: T) => string | undefined,
    signal: AbortSignal,
  ): Promise<T | undefined> {
    const key = cacheKey(kind, namespace, name);
    const now = this.#now();
    const hit = this.#cache.get(key) as Cached<T> | undefined;
    if (hit !== undefined) {
      const ttl =
        hit.version === MISSING ? (this.#opts.missingTtlMs ?? 10_000) : (this.#opts.ttlMs ?? 60_000);
      if (!hit.settled || now - hit.readAt < ttl) return withSignal(hit.value, signal);
    }
    const previous = hit?.version;
    // The read is shared, so it is not tied to one caller's signal (the client bounds it with a timeout).
    const entry: Cached<T> = { value: read(namespace, name), readAt: now, settled: false };
    this.#cache.set(key, entry as Cached<unknown>);
    entry.value.then(
      (v) => {
        entry.settled = true;
        entry.readAt = this.#now();
        entry.version = v === undefined ? MISSING : (versionOf(v) ?? 'unversioned');
        if (previous !== undefined && previous !== entry.version)
          this.#opts.onChange?.(kind, namespace, name);
      },
      () => {
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
      },
    );
    this.#evict();
    return withSignal(entry.value, signal);
  }

  #evict(): void {
    const max = this.#opts.maxEntries ?? 1024;
    while (this.#cache.size > max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }
}

const MISSING = '\u0000missing';

function cacheKey(kind: ObjectKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A Secret or ConfigMap that a policy's trust material comes from. */
export interface TrustReference {
  readonly kind: 'secret' | 'configmap';
  readonly namespace: string;
  readonly name: string;
}

/** The Secrets (key authorities) and ConfigMaps (trusted roots) whose contents a policy's trust is built from. */
export function trustReferences(policy: CompiledPolicy): TrustReference[] {
  const out: TrustReference[] = [];
  for (const a of policy.spec.signatures?.authorities ?? []) {
    const s = a.key?.secretRef;
    if (s) out.push({ kind: 'secret', namespace: s.namespace, name: s.name });
    const c = (a.keyless?.trustedRoot ?? a.key?.trustedRoot)?.configMapRef;
    if (c) out.push({ kind: 'configmap', namespace: c.namespace, name: c.name });
  }
  return out;
}

export interface TrustRefresherOptions {
  readonly objects: Pick<ClusterObjects, 'refresh' | 'allows'>;
  /** Drops the compiled trust of a policy, by its contentKey (SignatureVerifier.trust.invalidate). */
  readonly invalidate: (contentKey: string) => void;
  readonly logger: Logger;
  /** How often referenced objects are read again (default 60 s). */
  readonly intervalMs?: number;
}

/**
 * Trust material is compiled once per policy content, but a Secret or ConfigMap it came from can change
 * without the policy changing (a key rotation). This reads every referenced object again each interval
 * and, when one changed, drops the compiled trust of the policies that name it; the compilation that
 * follows reads the new material, and its new key keeps verdicts made with the old one out of use.
 */
export class TrustRefresher {
  readonly #opts: TrustRefresherOptions;
  #refs = new Map<string, { ref: TrustReference; policies: Set<string> }>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(opts: TrustRefresherOptions) {
    this.#opts = opts;
  }

  /** Takes the policies in force (call on every snapshot change). */
  update(policies: readonly CompiledPolicy[]): void {
    const refs = new Map<string, { ref: TrustReference; policies: Set<string> }>();
    for (const p of policies) {
      for (const ref of trustReferences(p)) {
        const key = cacheKey(ref.kind, ref.namespace, ref.name);
        const e = refs.get(key) ?? { ref, policies: new Set<string>() };
        e.policies.add(p.contentKey);
        refs.set(key, e);
      }
    }
    this.#refs = refs;
  }

  /** ClusterObjects' onChange lands here. */
  changed(kind: ObjectKind, namespace: string, name: string): void {
    const e = this.#refs.get(cacheKey(kind, namespace, name));
    if (e === undefined) return;
    for (const contentKey of e.policies) this.#opts.invalidate(contentKey);
    this.#opts.logger.info(
      { object: `${kind}/${namespace}/${name}`, policies: e.policies.size },
      'trust material changed: policies that use it will be compiled again',
    );
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.refreshNow(), this.#opts.intervalMs ?? 60_000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads every referenced object once (errors are logged: the verifier reports them per admission). */
  async refreshNow(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (const { ref } of this.#refs.values()) {
        if (!this.#opts.objects.allows(ref.namespace)) continue;
        await this.#opts.objects.refresh(ref.kind, ref.namespace, ref.name).catch((err: unknown) => {
          this.#opts.logger.debug(
            { object: `${ref.kind}/${ref.namespace}/${ref.name}`, err: { message: (err as Error).message } },
            'trust material refresh failed',
          );
        });
      }
    } finally {
      this.#running = false;
    }
  }
}
