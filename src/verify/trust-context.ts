/**
 * What compiling an authority needs from trust material and may fail with: the references a policy
 * names, the parsed roots, where they are read from, and the error. Its own module so that authority.ts
 * (which compiles one authority) and trust.ts (which caches whole policies' trust) do not import
 * each other.
 */
import type { TrustMaterial } from '@sigstore/verify';

/** A key of a ConfigMap or Secret, as a ModelPolicy names it. */
export interface ObjectKeyRef {
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
}

/** A parsed trusted root, ready for `@sigstore/verify`. */
export interface TrustedRootMaterial {
  /** Where it came from, for messages: `public-good`, `file:/path`, `configmap:ns/name/key`. */
  readonly origin: string;
  /** `sha256:<hex>` of the trusted_root.json text it was parsed from. */
  readonly digest: string;
  readonly material: TrustMaterial;
}

/** Where the trust material of one policy generation comes from while it is compiled. */
export interface TrustContext {
  trustedRoot(
    ref: { configMapRef?: ObjectKeyRef; file?: string } | undefined,
    signal: AbortSignal,
  ): Promise<TrustedRootMaterial>;
  secret(ref: ObjectKeyRef, signal: AbortSignal): Promise<string>;
}

export class TrustError extends Error {
  readonly fix: string | undefined;
  constructor(message: string, options?: { cause?: unknown; fix?: string }) {
    super(message, options);
    this.name = 'TrustError';
    this.fix = options?.fix;
  }
}
