/**
 * Trust material: the Sigstore trusted roots and the authorities of a policy,
 * compiled once per policy content (`contentKey`) and reused by every admission
 * under it, until a Secret or ConfigMap it came from changes. Each compiled set
 * carries `key`, a digest of the spec and of every piece of material it was
 * built from, and every cache above keys by that. Nothing here is fetched at admission time: the
 * public-good root ships with the `@sigstore/tuf` package, a policy's own
 * root comes from a file (CLI) or from a ConfigMap through an injected
 * source, and public keys from the policy or a Secret through another.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TrustMaterial, toTrustMaterial } from '@sigstore/verify';
import { type CompiledPolicy, canonicalJson } from '../policy/compile.ts';
import { type CompiledAuthority, compileAuthority } from './authority.ts';
import {
  type ObjectKeyRef,
  type TrustContext,
  TrustError,
  type TrustedRootMaterial,
} from './trust-context.ts';

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

/** The authorities and threshold of one policy's content, with the material they were built from. */
export interface PolicyTrust {
  /**
   * `sha256:<hex>` of the policy's contentKey and of each piece of trust material read for it (a PEM from
   * a Secret, a trusted_root.json from a ConfigMap or a file, or the failure to read one): what a verdict
   * made with this trust depends on. A new compilation is a new object, even when its key is the same.
   */
  readonly key: string;
  readonly threshold: number;
  readonly authorities: readonly CompiledAuthority[];
  /** Globs of files a signature need not cover. */
  readonly allowUnsignedFiles: readonly string[];
}

/**
 * Trust material that could not be had or used. `fix` says what the operator changes (a value, an RBAC
 * grant, an object to create): a model author can do nothing about it, so it is never "re-sign".
 */
/**
 * Why a compiled trust cannot be used, authority by authority, with the fix for each (undefined when every
 * authority is available): what a policy's status says under TRUST_UNAVAILABLE.
 */
export function unavailableTrust(t: PolicyTrust): string | undefined {
  const parts = t.authorities.flatMap((a) =>
    a.kind === 'unavailable' ? [`authority ${a.name}: ${a.reason}. Fix: ${a.fix}`] : [],
  );
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** The fix carried by an error from a source (kube's ObjectAccessError carries one), if any. */
function fixOf(err: unknown): string | undefined {
  const fix = (err as { fix?: unknown } | null)?.fix;
  return typeof fix === 'string' ? fix : undefined;
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
    // Read synchronously once per process; the file is part of node_modules. scripts/bundle-cli.ts
    // bundles this require: keep the createRequire line as it is.
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

/** Parses a `trusted_root.json` (Sigstore protobuf-specs JSON): at least one log, every key and CA dated. */
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
  // Certificate authorities are a keyless authority's need (checked there): a root for key-signed
  // bundles may name only its transparency log.
  if (root.tlogs.length === 0) throw new TrustError(`trusted root ${origin} lists no tlogs`);
  const undated = undatedEntries(root);
  if (undated.length > 0) {
    // @sigstore/verify would read a missing start as the beginning of time, trusting the key for
    // entries and certificates made before it existed; sigstore-conformance requires a refusal.
    throw new TrustError(
      `trusted root ${origin} gives no validFor.start for ${undated.join(', ')}: every key and CA needs the time it became valid`,
    );
  }
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
  return { origin, digest: sha256(json), material };
}

/** The entries of a trusted root without `validFor.start`, named by their place and URL. */
function undatedEntries(root: TrustedRoot): string[] {
  const out: string[] = [];
  const logs = [
    ['tlogs', root.tlogs],
    ['ctlogs', root.ctlogs],
  ] as const;
  for (const [field, list] of logs) {
    list.forEach((log, i) => {
      if (log.publicKey?.validFor?.start === undefined)
        out.push(`${field}[${i}] (${log.baseUrl || 'no baseUrl'})`);
    });
  }
  const authorities = [
    ['certificateAuthorities', root.certificateAuthorities],
    ['timestampAuthorities', root.timestampAuthorities],
  ] as const;
  for (const [field, list] of authorities) {
    list.forEach((ca, i) => {
      if (ca.validFor?.start === undefined) out.push(`${field}[${i}] (${ca.uri || 'no uri'})`);
    });
  }
  return out;
}

/** Runs `parse`; a TrustError without a fix gets `fix` (the place to put valid material). */
function withFix<T>(parse: () => T, fix: string): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TrustError && err.fix === undefined) {
      throw new TrustError(err.message, { cause: err.cause, fix });
    }
    throw err;
  }
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

interface Entry {
  readonly trust: Promise<PolicyTrust>;
  /** The compiled trust, once the compilation finished. */
  settled?: PolicyTrust;
  /** When set, the entry is dropped at that time (it holds an unavailable authority). */
  expiresAt?: number;
}

/**
 * Compiles the signature section of policies into trust material, once per
 * policy content (never by uid or generation: an author writes those);
 * concurrent requests for the same content share one compilation. Policies
 * with identical content share an entry, safely: it depends on nothing else.
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
    const key = policy.contentKey;
    const hit = this.#live(key);
    if (hit !== undefined) {
      // Refresh its place in the insertion order: the map doubles as an LRU list.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.trust;
    }
    // The callbacks run after `entry` is assigned below.
    let entry: Entry | undefined;
    const trust = this.#compile(policy, signal).then(
      (t) => {
        if (entry !== undefined && t.authorities.some((a) => a.kind === 'unavailable')) {
          entry.expiresAt = this.#now() + (this.#opts.retryUnavailableMs ?? 30_000);
        }
        if (entry !== undefined) entry.settled = t;
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

  /**
   * The compiled trust of a policy when it is at hand without I/O (compiled, not expired), else undefined.
   * The decision cache reads it to find a verdict without waiting.
   */
  current(policy: CompiledPolicy): PolicyTrust | undefined {
    return this.#live(policy.contentKey)?.settled;
  }

  /**
   * Drops what was compiled for policies (by contentKey), e.g. when a Secret or ConfigMap they name
   * changed; with no argument, everything. The next admission reads the material again, and its new
   * `key` keeps it away from verdicts made with the old.
   */
  invalidate(contentKey?: string): void {
    if (contentKey === undefined) this.#entries.clear();
    else this.#entries.delete(contentKey);
  }

  #live(key: string): Entry | undefined {
    const hit = this.#entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt !== undefined && hit.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit;
  }

  /** How many compiled policies are held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  async #compile(policy: CompiledPolicy, signal: AbortSignal): Promise<PolicyTrust> {
    const sigs = policy.spec.signatures;
    if (sigs === undefined) throw new TrustError(`policy ${policy.name} has no signatures section`);
    // What was read, per authority in order: the key below digests it with the spec.
    const read: string[][] = sigs.authorities.map(() => []);
    const authorities = await Promise.all(
      sigs.authorities.map((a, i) => compileAuthority(a, this.#context(read[i]!), signal)),
    );
    const key = `sha256:${createHash('sha256')
      .update(canonicalJson({ policy: policy.contentKey, material: read }))
      .digest('hex')}`;
    return Object.freeze({
      key,
      threshold: sigs.threshold,
      authorities: Object.freeze(authorities),
      allowUnsignedFiles: Object.freeze([...(sigs.allowUnsignedFiles ?? [])]),
    });
  }

  /** A context that notes in `read` a digest of every piece of material it hands out, or why it could not. */
  #context(read: string[]): TrustContext {
    const inner = this.#sourceContext();
    const noted = async <T>(what: string, get: () => Promise<T>, digest: (v: T) => string): Promise<T> => {
      try {
        const v = await get();
        read.push(`${what} ${digest(v)}`);
        return v;
      } catch (err) {
        read.push(`${what} unavailable: ${(err as Error)?.message ?? String(err)}`);
        throw err;
      }
    };
    return {
      trustedRoot: (ref, signal) =>
        noted(
          `root ${canonicalJson(ref ?? 'public-good')}`,
          () => inner.trustedRoot(ref, signal),
          (root) => root.digest,
        ),
      secret: (ref, signal) => noted(`secret ${canonicalJson(ref)}`, () => inner.secret(ref, signal), sha256),
    };
  }

  #sourceContext(): TrustContext {
    const opts = this.#opts;
    return {
      async trustedRoot(ref, signal) {
        if (ref === undefined) return publicGoodTrustedRoot();
        if (ref.configMapRef !== undefined) {
          const r = ref.configMapRef;
          const origin = `configmap:${r.namespace}/${r.name}/${r.key}`;
          if (opts.trustedRoots === undefined) {
            throw new TrustError(`trusted root ${origin} cannot be read: no ConfigMap source in this mode`, {
              fix: 'in file mode (verify, review or serve with --policy-file) give the root as trustedRoot.file: /path/to/trusted_root.json; configMapRef is read only by serve --kubernetes',
            });
          }
          const json = await opts.trustedRoots.trustedRoot(r, signal).catch((err: unknown) => {
            throw new TrustError(`trusted root ${origin} cannot be read: ${(err as Error).message}`, {
              cause: err,
              fix:
                fixOf(err) ??
                `check that ConfigMap ${r.namespace}/${r.name} exists with key ${r.key} and that modelgate may read it (chart value secretAccess)`,
            });
          });
          return withFix(
            () => parseTrustedRoot(json, origin),
            `put a valid Sigstore trusted_root.json under key ${r.key} of ConfigMap ${r.namespace}/${r.name}`,
          );
        }
        if (ref.file !== undefined) {
          const origin = `file:${ref.file}`;
          if (opts.readFiles !== true) {
            throw new TrustError(
              `trusted root ${origin} is not read here: trustedRoot.file is for the CLI only`,
              {
                fix: 'in the cluster, put the trusted_root.json in a ConfigMap (kubectl create configmap NAME --from-file=trusted_root.json) and name it with trustedRoot.configMapRef',
              },
            );
          }
          const json = await readFile(ref.file, { encoding: 'utf8', signal }).catch((err: unknown) => {
            throw new TrustError(`trusted root ${origin} cannot be read: ${(err as Error).message}`, {
              cause: err,
              fix: `make ${ref.file} a readable trusted_root.json, or fix trustedRoot.file`,
            });
          });
          return withFix(
            () => parseTrustedRoot(json, origin),
            `put a valid Sigstore trusted_root.json in ${ref.file}`,
          );
        }
        throw new TrustError('trustedRoot names neither a configMapRef nor a file');
      },
      async secret(ref, signal) {
        const where = `secret:${ref.namespace}/${ref.name}/${ref.key}`;
        if (opts.secrets === undefined) {
          throw new TrustError(`public key ${where} cannot be read: no Secret source in this mode`, {
            fix: 'in file mode (verify, review or serve with --policy-file) write the public key inline as key.pem (the contents of cosign.pub); secretRef is read only by serve --kubernetes',
          });
        }
        return opts.secrets.secret(ref, signal).catch((err: unknown) => {
          throw new TrustError(`public key ${where} cannot be read: ${(err as Error).message}`, {
            cause: err,
            fix:
              fixOf(err) ??
              `check that Secret ${ref.namespace}/${ref.name} exists with key ${ref.key} and that modelgate may read it (chart value secretAccess)`,
          });
        });
      },
    };
  }
}
