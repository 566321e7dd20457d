/**
 * Trust material: the Sigstore trusted roots and the authorities of a policy,
 * compiled once per (policy uid, generation) and reused by every admission
 * under that generation. Nothing here is fetched at admission time: the
 * public-good root ships with the `@sigstore/tuf` package, a policy's own
 * root comes from a file (CLI) or from a ConfigMap through an injected
 * source, and public keys from the policy or a Secret through another.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TrustMaterial, toTrustMaterial } from '@sigstore/verify';
import type { CompiledPolicy } from '../policy/compile.ts';
import { type CompiledAuthority, compileAuthority } from './authority.ts';

/** A key of a ConfigMap or Secret, as a ModelPolicy names it. */
export interface ObjectKeyRef {
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
}

/** Reads a trusted_root.json held in a ConfigMap (implemented by src/kube). */
export interface TrustedRootSource {
  trustedRoot(ref: ObjectKeyRef, signal: AbortSignal): Promise<string>;
}

/** Reads one value of a Secret, e.g. a PEM public key (implemented by src/kube). */
export interface SecretSource {
  secret(ref: ObjectKeyRef, signal: AbortSignal): Promise<string>;
}

export interface TrustOptions {
  /** ConfigMaps holding trusted roots; without it an authority that names one fails closed. */
  readonly trustedRoots?: TrustedRootSource;
  /** Secrets holding public keys; without it an authority that names one fails closed. */
  readonly secrets?: SecretSource;
  /** Read `trustedRoot.file` (the CLI does; the webhook does not: a policy must not make it read its disk). */
  readonly readFiles?: boolean;
  /** Compiled policies kept (default 64). */
  readonly maxPolicies?: number;
  /** How long a compilation with an unavailable authority is kept before it is tried again (default 30 s). */
  readonly retryUnavailableMs?: number;
  /** The clock, for tests. */
  readonly now?: () => number;
}

/** A parsed trusted root, ready for `@sigstore/verify`. */
export interface TrustedRootMaterial {
  /** Where it came from, for messages: `public-good`, `file:/path`, `configmap:ns/name/key`. */
  readonly origin: string;
  readonly material: TrustMaterial;
}

/** The authorities and threshold of one policy generation. */
export interface PolicyTrust {
  readonly uid: string;
  readonly generation: number;
  readonly threshold: number;
  readonly authorities: readonly CompiledAuthority[];
  /** Globs of files a signature need not cover. */
  readonly allowUnsignedFiles: readonly string[];
}

export class TrustError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrustError';
  }
}

const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024;
const PUBLIC_GOOD_TUF = 'https://tuf-repo-cdn.sigstore.dev';

let publicGood: TrustedRootMaterial | undefined;

/**
 * The Sigstore public-good trusted root (Fulcio, Rekor, CT log, TSA keys),
 * read once from the seed that `@sigstore/tuf` ships: the same root sigstore-js
 * starts from before any TUF refresh. Updated by updating the package.
 */
export function publicGoodTrustedRoot(): TrustedRootMaterial {
  if (publicGood === undefined) {
    const require = createRequire(import.meta.url);
    // Read synchronously once per process; the file is part of node_modules.
    const seeds = require('@sigstore/tuf/seeds.json') as Record<
      string,
      { targets?: Record<string, string> } | undefined
    >;
    const encoded = seeds[PUBLIC_GOOD_TUF]?.targets?.['trusted_root.json'];
    if (encoded === undefined) throw new TrustError('@sigstore/tuf ships no public-good trusted_root.json');
    publicGood = parseTrustedRoot(Buffer.from(encoded, 'base64').toString('utf8'), 'public-good');
  }
  return publicGood;
}

/** Parses a `trusted_root.json` (Sigstore protobuf-specs JSON) and checks that it can verify keyless bundles. */
export function parseTrustedRoot(json: string, origin: string): TrustedRootMaterial {
  if (json.length > MAX_TRUSTED_ROOT_BYTES) {
    throw new TrustError(`trusted root ${origin} is larger than ${MAX_TRUSTED_ROOT_BYTES} bytes`);
  }
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(JSON.parse(json));
  } catch (err) {
    throw new TrustError(
      `trusted root ${origin} is not a Sigstore trusted_root.json: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const missing: string[] = [];
  if (root.certificateAuthorities.length === 0) missing.push('certificateAuthorities');
  if (root.tlogs.length === 0) missing.push('tlogs');
  if (missing.length > 0) throw new TrustError(`trusted root ${origin} lists no ${missing.join(' and no ')}`);
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(root);
  } catch (err) {
    throw new TrustError(
      `trusted root ${origin} has unusable keys or certificates: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return { origin, material };
}

/** Where the trust material of one policy generation comes from while it is compiled. */
export interface TrustContext {
  trustedRoot(
    ref: { configMapRef?: ObjectKeyRef; file?: string } | undefined,
    signal: AbortSignal,
  ): Promise<TrustedRootMaterial>;
  secret(ref: ObjectKeyRef, signal: AbortSignal): Promise<string>;
}

interface Entry {
  readonly trust: Promise<PolicyTrust>;
  /** When set, the entry is dropped at that time (it holds an unavailable authority). */
  expiresAt?: number;
}

/**
 * Compiles the signature section of policies into trust material, once per
 * (uid, generation); concurrent requests for the same generation share one
 * compilation. A new generation of a policy evicts the older ones.
 */
export class TrustCache {
  readonly #opts: TrustOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(opts: TrustOptions = {}) {
    this.#opts = opts;
    this.#max = opts.maxPolicies ?? 64;
    this.#now = opts.now ?? Date.now;
  }

  /** The compiled authorities of a policy that has a `signatures` section. */
  forPolicy(policy: CompiledPolicy, signal: AbortSignal): Promise<PolicyTrust> {
    const key = `${policy.uid}\u0000${policy.generation}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined && (hit.expiresAt === undefined || hit.expiresAt > this.#now())) {
      // Refresh its place in the insertion order: the map doubles as an LRU list.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.trust;
    }
    for (const k of this.#entries.keys()) {
      if (k.startsWith(`${policy.uid}\u0000`)) this.#entries.delete(k);
    }
    // The callbacks run after `entry` is assigned below.
    let entry: Entry | undefined;
    const trust = this.#compile(policy, signal).then(
      (t) => {
        if (entry !== undefined && t.authorities.some((a) => a.kind === 'unavailable')) {
          entry.expiresAt = this.#now() + (this.#opts.retryUnavailableMs ?? 30_000);
        }
        return t;
      },
      (err: unknown) => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        throw err;
      },
    );
    entry = { trust };
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return trust;
  }

  /** Drops what was compiled for a policy (all generations), e.g. when a Secret or ConfigMap it names changed. */
  invalidate(uid?: string): void {
    if (uid === undefined) {
      this.#entries.clear();
      return;
    }
    for (const k of [...this.#entries.keys()]) if (k.startsWith(`${uid}\u0000`)) this.#entries.delete(k);
  }

  /** How many policy generations are held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  async #compile(policy: CompiledPolicy, signal: AbortSignal): Promise<PolicyTrust> {
    const sigs = policy.spec.signatures;
    if (sigs === undefined) throw new TrustError(`policy ${policy.name} has no signatures section`);
    const ctx = this.#context();
    const authorities = await Promise.all(sigs.authorities.map((a) => compileAuthority(a, ctx, signal)));
    return Object.freeze({
      uid: policy.uid,
      generation: policy.generation,
      threshold: sigs.threshold,
      authorities: Object.freeze(authorities),
      allowUnsignedFiles: Object.freeze([...(sigs.allowUnsignedFiles ?? [])]),
    });
  }

  #context(): TrustContext {
    const opts = this.#opts;
    return {
      async trustedRoot(ref, signal) {
        if (ref === undefined) return publicGoodTrustedRoot();
        if (ref.configMapRef !== undefined) {
          const r = ref.configMapRef;
          const origin = `configmap:${r.namespace}/${r.name}/${r.key}`;
          if (opts.trustedRoots === undefined) {
            throw new TrustError(`trusted root ${origin} cannot be read: no ConfigMap source in this mode`);
          }
          const json = await opts.trustedRoots.trustedRoot(r, signal).catch((err: unknown) => {
            throw new TrustError(`trusted root ${origin} cannot be read: ${(err as Error).message}`, {
              cause: err,
            });
          });
          return parseTrustedRoot(json, origin);
        }
        if (ref.file !== undefined) {
          const origin = `file:${ref.file}`;
          if (opts.readFiles !== true) {
            throw new TrustError(
              `trusted root ${origin} is not read here: trustedRoot.file is for the CLI only`,
            );
          }
          const json = await readFile(ref.file, { encoding: 'utf8', signal }).catch((err: unknown) => {
            throw new TrustError(`trusted root ${origin} cannot be read: ${(err as Error).message}`, {
              cause: err,
            });
          });
          return parseTrustedRoot(json, origin);
        }
        throw new TrustError('trustedRoot names neither a configMapRef nor a file');
      },
      async secret(ref, signal) {
        const where = `secret:${ref.namespace}/${ref.name}/${ref.key}`;
        if (opts.secrets === undefined) {
          throw new TrustError(`public key ${where} cannot be read: no Secret source in this mode`);
        }
        return opts.secrets.secret(ref, signal).catch((err: unknown) => {
          throw new TrustError(`public key ${where} cannot be read: ${(err as Error).message}`, {
            cause: err,
          });
        });
      },
    };
  }
}
