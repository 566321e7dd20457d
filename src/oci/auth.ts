import { authFailureFix, type Credential, type CredentialStore, credentialSources } from './credentials.ts';
import { parseOciErrorBody, RegistryError } from './errors.ts';
import { type Challenge, parseWwwAuthenticate } from './headers.ts';
import { redactUrl } from './redact.ts';
import type { ExchangeRequest, ExchangeResponse } from './transport.ts';

/** Sends one request through the transport (retries, redirects, counting). */
export type Exchange = (req: ExchangeRequest) => Promise<ExchangeResponse>;

interface CachedToken {
  authorization: string;
  expiresAt: number;
}

const TOKEN_BODY_CAP = 256 * 1024;
/** Registries that send no expires_in mean 60 s (the Docker token spec's default). */
const DEFAULT_TOKEN_TTL_S = 60;
/** Refresh tokens a little before they expire, so that one is never used on its last second. */
const EXPIRY_MARGIN_MS = 5_000;

export interface AuthenticatorOptions {
  credentials?: CredentialStore;
  exchange: Exchange;
  /** Decides whether a URL may be contacted (scheme rules of the transport). */
  checkScheme: (url: URL) => void;
  now?: () => number;
}

/**
 * Answers registry challenges: anonymous, basic, and the bearer-token flow (realm/service/scope), with
 * tokens cached per (registry, scope) until they expire. Credentials are only ever sent to the registry
 * they are stored for, or to the token realm that registry names (HTTPS, or plain HTTP to a `host:port`
 * named insecure).
 */
export class Authenticator {
  readonly #opts: AuthenticatorOptions;
  readonly #now: () => number;
  readonly #tokens = new Map<string, CachedToken>();
  /** Registries that answered with a Basic challenge: later requests send credentials up front. */
  readonly #basicRegistries = new Set<string>();

  constructor(opts: AuthenticatorOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** The Authorization header to send up front, if one is known for (registry, scope). */
  authorizationFor(registry: string, scope: string): string | undefined {
    const cached = this.#tokens.get(tokenKey(registry, scope));
    if (cached !== undefined) {
      if (cached.expiresAt > this.#now()) return cached.authorization;
      this.#tokens.delete(tokenKey(registry, scope));
    }
    if (this.#basicRegistries.has(registry)) {
      const cred = this.#opts.credentials?.get(registry);
      if (cred?.kind === 'basic') return basicHeader(cred);
    }
    return undefined;
  }

  /** Forgets what was sent for (registry, scope) after the registry refused it. */
  invalidate(registry: string, scope: string): void {
    this.#tokens.delete(tokenKey(registry, scope));
  }

  /**
   * Answers a 401 challenge: returns the Authorization header to retry with, or undefined when there is
   * nothing to answer with (no credentials for a basic challenge).
   */
  async answer(
    registry: string,
    scope: string,
    header: string | null,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    if (header === null) {
      throw new RegistryError('REGISTRY_ERROR', `${registry}: 401 without a WWW-Authenticate challenge`, {
        registry,
        status: 401,
      });
    }
    const parsed = parseWwwAuthenticate(header);
    if (!parsed.ok) {
      throw new RegistryError(
        'REGISTRY_ERROR',
        `${registry}: malformed WWW-Authenticate header: ${parsed.error}`,
        {
          registry,
          status: 401,
        },
      );
    }
    const bearer = parsed.value.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined) return this.#bearer(registry, scope, bearer, signal);
    if (parsed.value.some((c) => c.scheme === 'basic')) {
      const cred = this.#opts.credentials?.get(registry);
      if (cred?.kind !== 'basic') return undefined;
      this.#basicRegistries.add(registry);
      return basicHeader(cred);
    }
    const schemes = parsed.value.map((c) => c.scheme).join(', ');
    throw new RegistryError('REGISTRY_ERROR', `${registry}: unsupported auth scheme(s) ${schemes}`, {
      registry,
      status: 401,
    });
  }

  async #bearer(registry: string, scope: string, challenge: Challenge, signal: AbortSignal): Promise<string> {
    const realmValue = challenge.params.realm;
    if (realmValue === undefined || realmValue === '') {
      throw new RegistryError('REGISTRY_ERROR', `${registry}: bearer challenge without a realm`, {
        registry,
        status: 401,
      });
    }
    let realm: URL;
    try {
      realm = new URL(realmValue);
    } catch {
      throw new RegistryError(
        'REGISTRY_ERROR',
        `${registry}: bearer realm is not a URL: ${redactUrl(realmValue)}`,
        {
          registry,
          status: 401,
        },
      );
    }
    if (realm.username !== '' || realm.password !== '') {
      throw new RegistryError('REGISTRY_ERROR', `${registry}: bearer realm carries userinfo`, { registry });
    }
    // Plain HTTP only to an insecure `host:port` exactly: another port of an insecure registry's host is
    // another service. Where the realm may connect (addresses) the transport decides, the registry
    // being the governed host.
    this.#opts.checkScheme(realm);

    const service = challenge.params.service;
    // The registry's own scope wins: it knows what it will check.
    const tokenScope = challenge.params.scope ?? scope;
    const cred = this.#opts.credentials?.get(registry);
    const res =
      cred?.kind === 'identityToken'
        ? await this.#refreshTokenGrant(realm, service, tokenScope, cred.identityToken, registry, signal)
        : await this.#tokenGet(realm, service, tokenScope, cred, registry, signal);
    if (res.status !== 200) {
      const body = parseOciErrorBody(res.body);
      // The token service refusing the credentials is the registry refusing them: the same fix.
      const refused = res.status === 401 || res.status === 403;
      const repository = /^repository:([^:]+):/.exec(scope)?.[1] ?? scope;
      const fix = refused
        ? authFailureFix(
            registry,
            repository,
            res.status,
            credentialSources(this.#opts.credentials, registry),
          )
        : undefined;
      throw new RegistryError(
        'REGISTRY_ERROR',
        `${registry}: token endpoint ${realm.host} answered HTTP ${res.status}${body ? ` ${body.code}` : ''}`,
        {
          registry,
          status: res.status,
          ...(body ? { registryCode: body.code } : {}),
          ...(fix === undefined ? {} : { fix }),
        },
      );
    }
    const token = readToken(res.body, this.#now());
    if (token === undefined) {
      throw new RegistryError('REGISTRY_ERROR', `${registry}: token endpoint ${realm.host} sent no token`, {
        registry,
        status: res.status,
      });
    }
    const authorization = `Bearer ${token.token}`;
    this.#tokens.set(tokenKey(registry, scope), {
      authorization,
      expiresAt: token.expiresAt - EXPIRY_MARGIN_MS,
    });
    return authorization;
  }

  #tokenGet(
    realm: URL,
    service: string | undefined,
    scope: string,
    cred: Credential | undefined,
    governedHost: string,
    signal: AbortSignal,
  ): Promise<ExchangeResponse> {
    const url = new URL(realm);
    if (service !== undefined) url.searchParams.set('service', service);
    for (const s of scope.split(' ')) if (s !== '') url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (cred?.kind === 'basic') headers.authorization = basicHeader(cred);
    return this.#opts.exchange({
      method: 'GET',
      url,
      headers,
      maxBytes: TOKEN_BODY_CAP,
      signal,
      governedHost,
    });
  }

  #refreshTokenGrant(
    realm: URL,
    service: string | undefined,
    scope: string,
    refreshToken: string,
    governedHost: string,
    signal: AbortSignal,
  ): Promise<ExchangeResponse> {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: 'modelgate',
      refresh_token: refreshToken,
      scope,
    });
    if (service !== undefined) form.set('service', service);
    return this.#opts.exchange({
      method: 'POST',
      url: realm,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      maxBytes: TOKEN_BODY_CAP,
      signal,
      governedHost,
    });
  }
}

function tokenKey(registry: string, scope: string): string {
  return `${registry} ${scope}`;
}

function basicHeader(cred: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64')}`;
}

function readToken(body: Uint8Array, now: number): { token: string; expiresAt: number } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const j = json as Record<string, unknown>;
  const token = typeof j.token === 'string' && j.token !== '' ? j.token : j.access_token;
  if (typeof token !== 'string' || token === '') return undefined;
  const ttl = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : DEFAULT_TOKEN_TTL_S;
  // Expiry counts from receipt, not from issued_at: the issuer's clock may be skewed.
  return { token, expiresAt: now + ttl * 1000 };
}
