/** Credentials for one registry host. */
export type Credential =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token (`identitytoken` in a docker config), exchanged at the token realm. */
  | { kind: 'identityToken'; username?: string; identityToken: string };

/** Looks up credentials by exact registry host (`host` or `host:port`, lower-case). */
export interface CredentialStore {
  get(registry: string): Credential | undefined;
  /** For error messages: where the credentials consulted for `registry` came from, by name only. */
  describe?(registry: string): CredentialSources;
}

/** The sources of credentials consulted for one registry, named (`pull secret ns/name`), never shown. */
export interface CredentialSources {
  /** The source of the credential that is sent to the registry, if one holds an entry for it. */
  readonly used?: string;
  /** Sources configured but not used for it, each with why (no entry for the host, not found, ...). */
  readonly others: readonly string[];
}

/** What a store says of its sources for `registry`; a store that cannot say is described by what it holds. */
export function credentialSources(store: CredentialStore | undefined, registry: string): CredentialSources {
  if (store === undefined) return { others: [] };
  if (store.describe !== undefined) return store.describe(registry);
  return store.get(registry) === undefined
    ? { others: [] }
    : { used: 'the configured credentials', others: [] };
}

/**
 * The fix for a registry's 401 or 403 on a pull of `repository`: whose credentials it refused, or which
 * sources were tried and held none for this host, or that none was configured. Names sources only.
 */
export function authFailureFix(
  registry: string,
  repository: string,
  status: number,
  sources: CredentialSources,
): string {
  if (sources.used !== undefined) {
    return status === 403
      ? `the credentials from ${sources.used} are not allowed to pull ${registry}/${repository}: grant them read access to the repository, or use credentials that have it`
      : `${registry} refused the credentials from ${sources.used}: check that the user and password or token in it are current and may pull ${registry}/${repository}`;
  }
  const what =
    status === 403
      ? `${registry} refuses anonymous pulls of ${repository}`
      : `${registry} requires credentials`;
  if (sources.others.length > 0) {
    return `${what}, and none of the credentials tried has an entry for it (${sources.others.join('; ')}): add an auths entry keyed exactly "${registry}" to one of them`;
  }
  return `${what} and no credentials were configured: name a kubernetes.io/dockerconfigjson pull secret in the policy's spec.pullSecrets (or the pod's imagePullSecrets), or pass --registry-config`;
}

// Docker Hub is named several ways in docker configs; they all mean the host the client contacts.
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The host a docker-config key or a registry name designates: scheme, path and case removed. */
export function normalizeRegistryHost(key: string): string {
  let host = key.trim().toLowerCase();
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  host = host.split('/')[0] ?? '';
  return DOCKER_HUB_ALIASES.has(host) ? 'registry-1.docker.io' : host;
}

export class StaticCredentialStore implements CredentialStore {
  readonly #byHost: ReadonlyMap<string, Credential>;
  /** What error messages call these credentials, e.g. `pull secret ns/name`. */
  readonly source: string;

  constructor(entries: Iterable<readonly [string, Credential]>, source = 'the configured credentials') {
    const map = new Map<string, Credential>();
    for (const [host, cred] of entries) map.set(normalizeRegistryHost(host), cred);
    this.#byHost = map;
    this.source = source;
  }

  get(registry: string): Credential | undefined {
    return this.#byHost.get(normalizeRegistryHost(registry));
  }

  describe(registry: string): CredentialSources {
    return this.get(registry) === undefined
      ? { others: [`${this.source} has no entry for ${normalizeRegistryHost(registry)}`] }
      : { used: this.source, others: [] };
  }

  /** The same credentials, named `source` in error messages. */
  labelled(source: string): StaticCredentialStore {
    return new StaticCredentialStore(this.#byHost, source);
  }

  /** Credentials of `other` win over this store's for the same host. */
  merge(other: StaticCredentialStore): StaticCredentialStore {
    return new StaticCredentialStore([...this.#byHost, ...other.#byHost], this.source);
  }

  get hosts(): string[] {
    return [...this.#byHost.keys()];
  }
}

export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  readonly errors: string[];
  constructor(errors: string[]) {
    super(`invalid docker config: ${errors.join('; ')}`);
    this.errors = errors;
  }
}

/**
 * Reads a `.dockerconfigjson` (`{"auths": {"host": {"auth" | "username"/"password" | "identitytoken"}}}`).
 * Keys are matched exactly by host after normalisation; no wildcard, no parent domain. `source` names
 * it in error messages (default `--registry-config`, the one docker config modelgate reads from a file;
 * a pull secret's store is relabelled with its name).
 */
export function credentialsFromDockerConfig(
  config: string | unknown,
  source = '--registry-config',
): StaticCredentialStore {
  let json: unknown = config;
  if (typeof config === 'string') {
    try {
      json = JSON.parse(config);
    } catch {
      // Not the parser's message: V8 quotes the text around the error, which here holds credentials.
      throw new CredentialsError(['not JSON']);
    }
  }
  const errors: string[] = [];
  const entries: [string, Credential][] = [];
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
    throw new CredentialsError(['auths: must be an object']);
  }
  for (const [key, value] of Object.entries(auths)) {
    const path = `auths[${JSON.stringify(key)}]`;
    if (typeof value !== 'object' || value === null) {
      errors.push(`${path}: must be an object`);
      continue;
    }
    const v = value as Record<string, unknown>;
    if (typeof v.identitytoken === 'string' && v.identitytoken !== '') {
      const cred: Credential = { kind: 'identityToken', identityToken: v.identitytoken };
      if (typeof v.username === 'string') cred.username = v.username;
      entries.push([key, cred]);
      continue;
    }
    let username = typeof v.username === 'string' ? v.username : undefined;
    let password = typeof v.password === 'string' ? v.password : undefined;
    if (typeof v.auth === 'string' && v.auth !== '') {
      const decoded = Buffer.from(v.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) {
        errors.push(`${path}.auth: must be base64 of user:password`);
        continue;
      }
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (username === undefined || password === undefined) {
      errors.push(`${path}: needs auth, username and password, or identitytoken`);
      continue;
    }
    entries.push([key, { kind: 'basic', username, password }]);
  }
  if (errors.length > 0) throw new CredentialsError(errors);
  return new StaticCredentialStore(entries, source);
}
