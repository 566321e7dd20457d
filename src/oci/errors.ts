/** Stable codes of the registry client's failures; tests assert on these, not on messages. */
export type RegistryErrorCode =
  | 'REGISTRY_ERROR'
  | 'MANIFEST_DIGEST_MISMATCH'
  /** A blob's bytes do not hash to its descriptor's digest or have another size. */
  | 'BLOB_DIGEST_MISMATCH'
  /** A redirect or token realm led to a loopback, private, link-local or metadata address; nothing was sent. */
  | 'OUTBOUND_DENIED'
  /**
   * A manifest, index or referrers list that two consumers could read differently (duplicate or
   * case-variant keys, ...): a property of the content, so not transient.
   */
  | 'ARTIFACT_AMBIGUOUS'
  | 'DEADLINE_EXCEEDED';

export interface RegistryErrorDetails {
  status?: number;
  /** The registry's own error code from an OCI error body, e.g. `MANIFEST_UNKNOWN`. */
  registryCode?: string;
  registry?: string;
  cause?: unknown;
  /** What would fix this failure, when the code's general fix would mislead. */
  fix?: string;
}

/** Every failure of the registry client surfaces as one of these; nothing is allowed because a registry failed. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code: RegistryErrorCode;
  readonly status: number | undefined;
  readonly registryCode: string | undefined;
  readonly registry: string | undefined;
  readonly fix: string | undefined;

  constructor(code: RegistryErrorCode, message: string, details: RegistryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.registryCode = details.registryCode;
    this.registry = details.registry;
    this.fix = details.fix;
  }
}

export function isRegistryError(e: unknown): e is RegistryError {
  return e instanceof RegistryError;
}

/**
 * Why a manifest the registry served cannot be read as one (invalid, ambiguous, wrong digest), or
 * undefined when the failure is not about that document (the registry is down, the deadline passed, an
 * outbound address was refused): those are thrown on, since no verdict about the document was reached.
 * For referrers: anyone who can push can attach one, so an unreadable referrer is not a failure of
 * the artifact.
 */
export function unreadableManifest(
  e: unknown,
): { readonly message: string; readonly ambiguous: boolean } | undefined {
  if (!(e instanceof RegistryError)) return undefined;
  if (e.code === 'DEADLINE_EXCEEDED' || e.code === 'OUTBOUND_DENIED') return undefined;
  if (e.code === 'REGISTRY_ERROR' && e.status !== 200) return undefined;
  return { message: e.message, ambiguous: e.code === 'ARTIFACT_AMBIGUOUS' };
}

export interface OciErrorBody {
  code: string;
  message?: string;
}

/** Reads the first error of an OCI distribution error body (`{"errors":[{"code","message"}]}`), if any. */
export function parseOciErrorBody(body: Uint8Array): OciErrorBody | undefined {
  if (body.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const errors = (json as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return undefined;
  const first: unknown = errors[0];
  if (typeof first !== 'object' || first === null) return undefined;
  const code = (first as { code?: unknown }).code;
  const message = (first as { message?: unknown }).message;
  if (typeof code !== 'string') return undefined;
  return typeof message === 'string' ? { code, message } : { code };
}
