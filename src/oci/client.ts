import { Authenticator } from './auth.ts';
import { authFailureFix, type CredentialStore, credentialSources } from './credentials.ts';
import { type DigestAlgorithm, digestOf, digestToTag, matchesDigest, parseDigest } from './digest.ts';
import { parseOciErrorBody, RegistryError } from './errors.ts';
import { parseLinkNext } from './headers.ts';
import { parseIndex, parseManifest } from './manifest.ts';
import { type ExchangeResponse, type RequestEvent, type Resolver, Transport } from './transport.ts';
import type { Descriptor, Index, Manifest, ManifestKind } from './types.ts';
import { isIndex, MANIFEST_ACCEPT, MediaType } from './types.ts';

export interface RegistryClientOptions {
  /** Registries (`host[:port]`) contacted over plain HTTP; every other one needs verified TLS. */
  insecureRegistries: readonly string[];
  credentials?: CredentialStore;
  /** Extra PEM CA bundle per registry host, trusted in addition to the system roots. */
  caBundles?: Record<string, string>;
  /** Timeout of one HTTP round trip, body included (default 10 s). The caller's signal bounds the whole. */
  requestTimeoutMs?: number;
  /** Retries after the first attempt on 429/502/503/504 and network failures (default 3). */
  maxRetries?: number;
  /** Base of the exponential backoff with jitter (default 200 ms). */
  retryBaseMs?: number;
  /** A Retry-After longer than this is not waited for (default 10 s). */
  maxRetryDelayMs?: number;
  /** Manifest size cap (default 4 MiB). */
  maxManifestBytes?: number;
  /** Referrers API pages followed at most (default 10). */
  maxReferrerPages?: number;
  /**
   * Hosts (`host` or `host:port`) a redirect or token realm may lead to although they resolve to
   * loopback, private, link-local or metadata addresses (e.g. an in-cluster blob store). The registry
   * contacted and the insecure registries need no entry.
   */
  allowedRedirectHosts?: readonly string[];
  /** Resolves host names that redirects and token realms lead to (default: the system resolver). */
  resolve?: Resolver;
  userAgent?: string;
  onRequest?: (e: RequestEvent) => void;
}

export interface ResolvedManifest {
  digest: string;
  mediaType: string;
  kind: ManifestKind;
  manifest: Manifest | Index;
  /** The exact bytes whose digest is `digest`. */
  bytes: Uint8Array;
}

export interface ReferrersOptions {
  artifactType?: string;
}

export interface LegacyCosignTags {
  sig?: ResolvedManifest;
  att?: ResolvedManifest;
}

export interface BlobOptions {
  /** Descriptors larger than this are refused before any request. */
  maxBytes: number;
}

const MiB = 1024 * 1024;
/** Referrers listed at most, over all pages: a longer listing is refused, never read in part. */
const MAX_REFERRERS = 1024;
/** Bytes of referrer listings read at most, over all pages. */
const MAX_REFERRER_LISTING_BYTES = 4 * MiB;
/**
 * Referrers whose descriptor says nothing (go-containerregistry's) whose manifest is read to learn what
 * they are. Enough that ~100 unrelated referrers anyone with push access can attach do not hide the
 * evidence; those beyond stay inconclusive (readers bound what they read of them).
 */
const MAX_REFERRER_LOOKUPS = 256;
const REFERRER_LOOKUP_CONCURRENCY = 8;
/** A referrer manifest is a few descriptors: a larger one is not read to learn its type. */
const MAX_REFERRER_MANIFEST_BYTES = 256 * 1024;
/** Manifests fetched by digest are immutable: kept for reuse up to this many bytes in all. */
const MANIFEST_CACHE_BYTES = 16 * MiB;
/** What one Range read may ask for: format sniffing needs a few KiB, never megabytes. */
const MAX_RANGE_BYTES = 16 * MiB;

// Distribution spec grammar; anything else is refused before it reaches a URL.
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const REGISTRY_RE =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * A read-only OCI distribution client: manifests, blobs, ranges and referrers, with the registry's answers
 * checked against their digests. It holds no policy: callers decide which hosts to contact and what the
 * answers mean.
 */
export class RegistryClient {
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #credentials: CredentialStore | undefined;
  /** The fix for a 401/403 answer, worked out when it came (while the verification's credentials apply). */
  readonly #authFixes = new WeakMap<ExchangeResponse, string>();
  readonly #maxManifestBytes: number;
  readonly #maxReferrerPages: number;
  /** (registry, repository, digest) -> manifest, least recently used first. */
  readonly #manifestCache = new Map<string, ResolvedManifest>();
  #manifestCacheBytes = 0;

  constructor(opts: RegistryClientOptions) {
    this.#transport = new Transport({
      insecureRegistries: opts.insecureRegistries,
      caBundles: opts.caBundles ?? {},
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      maxRetries: opts.maxRetries ?? 3,
      retryBaseMs: opts.retryBaseMs ?? 200,
      maxRetryDelayMs: opts.maxRetryDelayMs ?? 10_000,
      userAgent: opts.userAgent ?? 'modelgate',
      ...(opts.allowedRedirectHosts === undefined ? {} : { allowedRedirectHosts: opts.allowedRedirectHosts }),
      ...(opts.resolve === undefined ? {} : { resolve: opts.resolve }),
      ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
    });
    this.#credentials = opts.credentials;
    this.#auth = new Authenticator({
      ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
      exchange: (req) => this.#transport.exchange(req),
      checkScheme: (url) => this.#transport.checkScheme(url),
    });
    this.#maxManifestBytes = opts.maxManifestBytes ?? 4 * MiB;
    this.#maxReferrerPages = opts.maxReferrerPages ?? 10;
  }

  /** Closes pooled connections. */
  close(): Promise<void> {
    return this.#transport.close();
  }

  /**
   * Fetches the manifest named by a tag or digest and checks its bytes against the digest asked for and
   * the one the registry announced (`MANIFEST_DIGEST_MISMATCH`).
   */
  async resolve(
    registry: string,
    repository: string,
    tagOrDigest: string,
    signal: AbortSignal,
  ): Promise<ResolvedManifest> {
    const found = await this.#fetchManifest(registry, repository, tagOrDigest, signal, { missingOk: false });
    // Unreachable: with missingOk false a 404 throws.
    if (found === undefined)
      throw new RegistryError('REGISTRY_ERROR', `${registry}/${repository}: no manifest`);
    return found;
  }

  /**
   * Lists the referrers of a manifest: the referrers API (following `Link` pages, filtering by artifactType
   * when the registry did not), or, when the API is not there, the `<alg>-<hex>` tag schema.
   */
  async referrers(
    registry: string,
    repository: string,
    digest: string,
    opts: ReferrersOptions,
    signal: AbortSignal,
  ): Promise<Descriptor[]> {
    checkName(registry, repository);
    if (parseDigest(digest) === undefined) throw invalidArgument(`not a digest: ${digest}`);
    const artifactType = opts.artifactType;
    const filter = (ds: Descriptor[]) =>
      artifactType === undefined ? ds : ds.filter((d) => d.artifactType === artifactType);

    let url = this.#url(registry, repository, `referrers/${digest}`);
    if (artifactType !== undefined) url.searchParams.set('artifactType', artifactType);
    // The whole listing first (bounded in pages, bytes and count), then manifests only of the
    // referrers whose descriptor says nothing, then the filter.
    const filtered: Descriptor[] = [];
    const unfiltered: Descriptor[] = [];
    let listingBudget = MAX_REFERRER_LISTING_BYTES;
    for (let page = 0; ; page++) {
      if (listingBudget <= 0) throw tooManyReferrers(registry, repository, digest);
      const res = await this.#get(
        registry,
        repository,
        url,
        MediaType.OciIndex,
        Math.min(this.#maxManifestBytes, listingBudget),
        signal,
      );
      listingBudget -= res.body.length;
      if (res.status !== 200) {
        // A registry without the API answers 404 (or 400, 405, 501; some a 500): the tag schema is where
        // its referrers are. 429 and 502-504 are the registry failing now (the transport already retried
        // them): falling back would read an empty tag and report "no signature", cached as a refusal,
        // for what is only an outage.
        const failingNow = res.status === 429 || (res.status >= 502 && res.status <= 504);
        if (page > 0 || failingNow) throw this.#refusal(registry, repository, url, res);
        return this.#referrersByTag(registry, repository, digest, filter, signal);
      }
      const index = parseIndex(res.body, res.headers.get('content-type'));
      if ('errors' in index) {
        throw new RegistryError(
          index.code ?? 'REGISTRY_ERROR',
          `${registry}/${repository}: referrers answer for ${digest} is not an OCI index: ${index.errors.join('; ')}`,
          { registry, status: res.status },
        );
      }
      const applied = (res.headers.get('oci-filters-applied') ?? '')
        .split(',')
        .map((s) => s.trim())
        .includes('artifactType');
      (applied ? filtered : unfiltered).push(...index.manifests);
      if (filtered.length + unfiltered.length > MAX_REFERRERS)
        throw tooManyReferrers(registry, repository, digest);
      const next = parseLinkNext(res.headers.get('link'));
      if (next === undefined) {
        if (unfiltered.length === 0) return filtered;
        const completed = await this.#completeArtifactTypes(registry, repository, unfiltered, signal);
        return [...filtered, ...filter(completed)];
      }
      if (page + 1 >= this.#maxReferrerPages) {
        throw new RegistryError(
          'REGISTRY_ERROR',
          `${registry}/${repository}: referrers of ${digest} span more than ${this.#maxReferrerPages} pages`,
          { registry },
        );
      }
      const nextUrl = new URL(next, res.url);
      if (nextUrl.origin !== res.url.origin) {
        throw new RegistryError(
          'REGISTRY_ERROR',
          `${registry}: referrers Link points to another host ${nextUrl.host}`,
          {
            registry,
          },
        );
      }
      url = nextUrl;
    }
  }

  /** The legacy cosign `sha256-<hex>.sig` / `.att` manifests, where present. */
  async legacyCosignTags(
    registry: string,
    repository: string,
    digest: string,
    signal: AbortSignal,
  ): Promise<LegacyCosignTags> {
    const tag = tagForDigest(digest);
    const [sig, att] = await Promise.all([
      this.#fetchManifest(registry, repository, `${tag}.sig`, signal, { missingOk: true }),
      this.#fetchManifest(registry, repository, `${tag}.att`, signal, { missingOk: true }),
    ]);
    const out: LegacyCosignTags = {};
    if (sig !== undefined) out.sig = sig;
    if (att !== undefined) out.att = att;
    return out;
  }

  /** Reads a whole blob, checked against the descriptor's size and digest. */
  async blob(
    registry: string,
    repository: string,
    descriptor: Descriptor,
    opts: BlobOptions,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    checkName(registry, repository);
    checkDescriptor(descriptor);
    if (descriptor.size > opts.maxBytes) {
      throw new RegistryError(
        'REGISTRY_ERROR',
        `${registry}/${repository}@${descriptor.digest}: blob of ${descriptor.size} bytes exceeds the ${opts.maxBytes}-byte cap`,
        { registry },
      );
    }
    const url = this.#url(registry, repository, `blobs/${descriptor.digest}`);
    const res = await this.#get(registry, repository, url, '*/*', descriptor.size, signal);
    if (res.status !== 200) throw this.#refusal(registry, repository, url, res, `blob ${descriptor.digest}`);
    if (res.body.length !== descriptor.size || !matchesDigest(res.body, descriptor.digest)) {
      throw new RegistryError(
        'BLOB_DIGEST_MISMATCH',
        `${registry}/${repository}: blob bytes (${res.body.length}) do not match ${descriptor.digest} (${descriptor.size} bytes)`,
        { registry },
      );
    }
    return res.body;
  }

  /**
   * Reads bytes `start..endInclusive` of a blob with an HTTP Range request; a registry that ignores Range is
   * read only up to `endInclusive` and the rest is cancelled. The bytes cannot be digest-checked.
   */
  async blobRange(
    registry: string,
    repository: string,
    descriptor: Descriptor,
    start: number,
    endInclusive: number,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    checkName(registry, repository);
    checkDescriptor(descriptor);
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(endInclusive) ||
      start < 0 ||
      endInclusive < start
    ) {
      throw invalidArgument(`invalid range ${start}-${endInclusive}`);
    }
    if (start >= descriptor.size)
      throw invalidArgument(`range start ${start} is past the blob's ${descriptor.size} bytes`);
    const end = Math.min(endInclusive, descriptor.size - 1);
    const length = end - start + 1;
    if (length > MAX_RANGE_BYTES)
      throw invalidArgument(`range of ${length} bytes exceeds ${MAX_RANGE_BYTES}`);
    const url = this.#url(registry, repository, `blobs/${descriptor.digest}`);
    const res = await this.#get(registry, repository, url, '*/*', end + 1, signal, {
      range: `bytes=${start}-${end}`,
      overflow: 'truncate',
    });
    if (res.status === 206) {
      const contentRange = res.headers.get('content-range');
      const m = contentRange === null ? null : /^bytes (\d+)-(\d+)\//.exec(contentRange);
      if (m !== null && (Number(m[1]) !== start || Number(m[2]) !== end)) {
        throw new RegistryError(
          'REGISTRY_ERROR',
          `${registry}: asked for bytes ${start}-${end}, got ${contentRange}`,
          {
            registry,
            status: 206,
          },
        );
      }
      if (res.body.length !== length) {
        throw new RegistryError(
          'REGISTRY_ERROR',
          `${registry}: range answer has ${res.body.length} of ${length} bytes`,
          {
            registry,
            status: 206,
          },
        );
      }
      return res.body;
    }
    if (res.status === 200) {
      if (res.body.length < end + 1) {
        throw new RegistryError('REGISTRY_ERROR', `${registry}: blob ended after ${res.body.length} bytes`, {
          registry,
          status: 200,
        });
      }
      return res.body.slice(start, end + 1);
    }
    throw this.#refusal(registry, repository, url, res, `blob ${descriptor.digest}`);
  }

  /** GETs a manifest by tag or digest; on 404, undefined when `missingOk`, else the registry's error. */
  async #fetchManifest(
    registry: string,
    repository: string,
    reference: string,
    signal: AbortSignal,
    { missingOk, maxBytes }: { missingOk: boolean; maxBytes?: number },
  ): Promise<ResolvedManifest | undefined> {
    checkName(registry, repository);
    const asked = parseDigest(reference);
    if (asked === undefined && !TAG_RE.test(reference)) {
      throw invalidArgument(`not a tag or digest: ${reference}`);
    }
    if (asked !== undefined) {
      const key = `${registry}/${repository}@${reference}`;
      const cached = this.#manifestCache.get(key);
      if (cached !== undefined) {
        this.#manifestCache.delete(key);
        this.#manifestCache.set(key, cached);
        return cached;
      }
    }
    const url = this.#url(registry, repository, `manifests/${reference}`);
    const res = await this.#get(
      registry,
      repository,
      url,
      MANIFEST_ACCEPT.join(', '),
      maxBytes ?? this.#maxManifestBytes,
      signal,
    );
    if (res.status === 404 && missingOk) return undefined;
    if (res.status !== 200)
      throw this.#refusal(registry, repository, url, res, `${asked ? 'manifest' : 'tag'} ${reference}`);
    const bytes = res.body;
    const where = `${registry}/${repository}${asked ? '@' : ':'}${reference}`;
    if (asked !== undefined && !matchesDigest(bytes, reference)) {
      throw new RegistryError(
        'MANIFEST_DIGEST_MISMATCH',
        `${where}: manifest bytes hash to ${digestOf(bytes, asked.algorithm)}, not the digest asked for`,
        { registry, status: res.status },
      );
    }
    const announced = res.headers.get('docker-content-digest');
    if (announced !== null && announced !== '') {
      if (parseDigest(announced) === undefined || !matchesDigest(bytes, announced)) {
        throw new RegistryError(
          'MANIFEST_DIGEST_MISMATCH',
          `${where}: manifest bytes do not match Docker-Content-Digest ${announced}`,
          { registry, status: res.status },
        );
      }
    }
    const parsed = parseManifest(bytes, res.headers.get('content-type'));
    if (!parsed.ok) {
      throw new RegistryError(
        parsed.code ?? 'REGISTRY_ERROR',
        `${where}: invalid manifest: ${parsed.errors.join('; ')}`,
        {
          registry,
          status: res.status,
        },
      );
    }
    const algorithm: DigestAlgorithm = asked?.algorithm ?? 'sha256';
    const digest = asked !== undefined ? reference : digestOf(bytes, algorithm);
    const resolved = {
      digest,
      mediaType: parsed.mediaType,
      kind: parsed.kind,
      manifest: parsed.manifest,
      bytes,
    };
    this.#remember(`${registry}/${repository}@${digest}`, resolved);
    return resolved;
  }

  #remember(key: string, m: ResolvedManifest): void {
    if (m.bytes.length > MANIFEST_CACHE_BYTES / 16 || this.#manifestCache.has(key)) return;
    this.#manifestCache.set(key, m);
    this.#manifestCacheBytes += m.bytes.length;
    for (const [k, v] of this.#manifestCache) {
      if (this.#manifestCacheBytes <= MANIFEST_CACHE_BYTES) break;
      this.#manifestCache.delete(k);
      this.#manifestCacheBytes -= v.bytes.length;
    }
  }

  async #referrersByTag(
    registry: string,
    repository: string,
    digest: string,
    filter: (ds: Descriptor[]) => Descriptor[],
    signal: AbortSignal,
  ): Promise<Descriptor[]> {
    const tag = tagForDigest(digest);
    const found = await this.#fetchManifest(registry, repository, tag, signal, { missingOk: true });
    if (found === undefined) return [];
    if (found.kind !== 'index') {
      throw new RegistryError(
        'REGISTRY_ERROR',
        `${registry}/${repository}:${tag}: referrers tag is a ${found.mediaType}, not an OCI index`,
        { registry },
      );
    }
    const manifests = (found.manifest as Index).manifests;
    return filter(await this.#completeArtifactTypes(registry, repository, manifests, signal));
  }

  /**
   * Some registries (go-containerregistry's) report a referrer's artifactType from its config media type,
   * so an artifact with an empty config shows `application/vnd.oci.empty.v1+json` or nothing. Such
   * descriptors are completed from the referrer's own manifest (which the caller reads next anyway: it
   * stays in the manifest cache).
   */
  async #completeArtifactTypes(
    registry: string,
    repository: string,
    descriptors: Descriptor[],
    signal: AbortSignal,
  ): Promise<Descriptor[]> {
    const inconclusive = (d: Descriptor) =>
      (d.artifactType === undefined || d.artifactType === MediaType.OciEmpty) &&
      (d.mediaType === MediaType.OciManifest || d.mediaType === MediaType.OciIndex);
    const todo = descriptors
      .filter((d) => inconclusive(d) && d.size <= MAX_REFERRER_MANIFEST_BYTES)
      .slice(0, MAX_REFERRER_LOOKUPS);
    if (todo.length === 0) return descriptors;
    const found = new Map<string, string>();
    // Referrers whose manifest is absent or cannot be read as one: anyone who can push can attach such
    // a thing, and it cannot be evidence of anything, so it is left out rather than failing the listing.
    const unreadable = new Set<string>();
    await mapLimit(todo, REFERRER_LOOKUP_CONCURRENCY, async (d) => {
      let r: ResolvedManifest | undefined;
      try {
        r = await this.#fetchManifest(registry, repository, d.digest, signal, {
          missingOk: true,
          maxBytes: MAX_REFERRER_MANIFEST_BYTES,
        });
      } catch (e) {
        if (!isContentError(e)) throw e;
      }
      if (r === undefined) {
        unreadable.add(d.digest);
        return;
      }
      const m = r.manifest;
      const type = m.artifactType ?? (isIndex(m) ? undefined : m.config.mediaType);
      if (type !== undefined) found.set(d.digest, type);
    });
    return descriptors
      .filter((d) => !unreadable.has(d.digest))
      .map((d) => {
        const type = inconclusive(d) ? found.get(d.digest) : undefined;
        return type === undefined ? d : { ...d, artifactType: type };
      });
  }

  /** One authenticated GET: sends what is known for the scope, answers one 401 challenge, retries once. */
  async #get(
    registry: string,
    repository: string,
    url: URL,
    accept: string,
    maxBytes: number,
    signal: AbortSignal,
    extra: { range?: string; overflow?: 'error' | 'truncate' } = {},
  ): Promise<ExchangeResponse> {
    const scope = `repository:${repository}:pull`;
    let authorization = this.#auth.authorizationFor(registry, scope);
    for (let round = 0; ; round++) {
      const headers: Record<string, string> = { accept };
      if (extra.range !== undefined) headers.range = extra.range;
      if (authorization !== undefined) headers.authorization = authorization;
      const res = await this.#transport.exchange({
        method: 'GET',
        url,
        headers,
        maxBytes,
        signal,
        ...(extra.overflow === undefined ? {} : { overflow: extra.overflow }),
      });
      // A 401 from wherever a redirect led (blob storage) is not the registry's challenge to answer.
      if (res.status !== 401 || round > 0 || res.url.origin !== url.origin)
        return this.#noteAuth(registry, repository, url, res);
      if (authorization !== undefined) this.#auth.invalidate(registry, scope);
      authorization = await this.#auth.answer(registry, scope, res.headers.get('www-authenticate'), signal);
      if (authorization === undefined) return this.#noteAuth(registry, repository, url, res);
    }
  }

  /**
   * Remembers, for a 401/403 of the registry itself, whose credentials it refused: worked out now, while
   * the credentials of the verification in progress are the ones the store answers with.
   */
  #noteAuth(registry: string, repository: string, url: URL, res: ExchangeResponse): ExchangeResponse {
    if ((res.status === 401 || res.status === 403) && res.url.origin === url.origin) {
      const sources = credentialSources(this.#credentials, registry);
      this.#authFixes.set(res, authFailureFix(registry, repository, res.status, sources));
    }
    return res;
  }

  /** The registry's refusal of a GET, with the fix that matches it (credentials, or what is missing). */
  #refusal(
    registry: string,
    repository: string,
    url: URL,
    res: ExchangeResponse,
    what?: string,
  ): RegistryError {
    const fix =
      this.#authFixes.get(res) ??
      (res.status === 404 ? notFoundFix(registry, repository, res, what) : undefined);
    return responseError(registry, 'GET', url, res, fix);
  }

  #url(registry: string, repository: string, rest: string): URL {
    return new URL(`/v2/${repository}/${rest}`, this.#transport.baseUrl(registry));
  }
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function tagForDigest(digest: string): string {
  try {
    return digestToTag(digest);
  } catch {
    throw invalidArgument(`not a digest: ${digest}`);
  }
}

function tooManyReferrers(registry: string, repository: string, digest: string): RegistryError {
  return new RegistryError(
    'REGISTRY_ERROR',
    `${registry}/${repository}: the referrers of ${digest} exceed ${MAX_REFERRERS} descriptors or ${MAX_REFERRER_LISTING_BYTES} bytes`,
    { registry },
  );
}

/**
 * A registry's answer that arrived but is not a usable manifest (wrong digest, invalid, ambiguous, too
 * large), as opposed to a failure to get an answer (network, deadline, refusal), which must surface.
 */
function isContentError(e: unknown): boolean {
  if (!(e instanceof RegistryError)) return false;
  if (e.code === 'DEADLINE_EXCEEDED' || e.code === 'OUTBOUND_DENIED') return false;
  return e.code !== 'REGISTRY_ERROR' || e.status === 200;
}

function checkName(registry: string, repository: string): void {
  if (!REGISTRY_RE.test(registry)) throw invalidArgument(`invalid registry host: ${registry}`);
  if (repository.length > 255 || !REPOSITORY_RE.test(repository)) {
    throw invalidArgument(`invalid repository name: ${repository}`);
  }
}

function checkDescriptor(d: Descriptor): void {
  if (parseDigest(d.digest) === undefined) throw invalidArgument(`invalid descriptor digest: ${d.digest}`);
  if (!Number.isSafeInteger(d.size) || d.size < 0)
    throw invalidArgument(`invalid descriptor size: ${d.size}`);
}

function invalidArgument(message: string): RegistryError {
  return new RegistryError('REGISTRY_ERROR', message);
}

/** A registry's refusal, with its own error code and the HTTP status in the message. */
export function responseError(
  registry: string,
  method: string,
  url: URL,
  res: ExchangeResponse,
  fix?: string,
): RegistryError {
  const body = parseOciErrorBody(res.body);
  const code = body === undefined ? '' : ` ${body.code}`;
  const message = body?.message === undefined ? '' : `: ${body.message}`;
  return new RegistryError(
    'REGISTRY_ERROR',
    `${method} ${url.pathname} on ${registry}: HTTP ${res.status}${code}${message}`,
    {
      registry,
      status: res.status,
      ...(body === undefined ? {} : { registryCode: body.code }),
      ...(fix === undefined ? {} : { fix }),
    },
  );
}

/**
 * What a 404 means, by the registry's own code: the repository does not exist (NAME_UNKNOWN), or it has
 * no such manifest, tag or blob. Reachability and pull secrets are not the problem, so the fix does not
 * send anyone to check them. `what` is e.g. `manifest sha256:...` or `tag v1`.
 */
export function notFoundFix(
  registry: string,
  repository: string,
  res: ExchangeResponse,
  what = 'artifact',
): string {
  const code = parseOciErrorBody(res.body)?.code;
  const where = `${registry}/${repository}`;
  if (code === 'NAME_UNKNOWN')
    return `the repository ${repository} does not exist in ${registry}: check the registry and repository of the reference, or push the model there`;
  if (code === 'BLOB_UNKNOWN')
    return `${where} lacks the ${what} that its manifest names: push the model again`;
  if (code === 'MANIFEST_UNKNOWN')
    return `the ${what} does not exist in ${where}: check the reference's digest or tag (oras resolve ${where}:TAG prints a tag's digest), or push the model`;
  return `the ${what} does not exist in ${where}, or the repository itself does not: check the reference, or push the model`;
}
