// A small Kubernetes REST client for the end-to-end tests: what a test needs to drive the API server and see
// exactly what a user would see (status code, Status message, `Warning` headers), with the credentials of a
// kubeconfig file. The product's own client lives in src/kube; the tests do not depend on it, so that they
// check it rather than share its mistakes.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { parse, parseAllDocuments } from 'yaml';

/** How to reach and authenticate to one API server. */
export interface KubeCredentials {
  readonly server: string;
  readonly caPem?: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly token?: string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly tlsServerName?: string;
  /** Impersonation (`as`, `as-groups` in a kubeconfig). */
  readonly impersonate?: { readonly user: string; readonly groups?: readonly string[] };
}

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** What the API server answered. `body` is parsed JSON (a `Status` on most errors). */
export interface KubeResponse<T = unknown> {
  readonly status: number;
  readonly ok: boolean;
  readonly body: T;
  /** The text of each `Warning` header (admission warnings, deprecations). */
  readonly warnings: readonly string[];
}

/** The `Status` object the API server returns on errors (and on some deletes). */
export interface KubeStatus {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** Throws unless the response is 2xx; returns its body. */
export function expectOk<T>(res: KubeResponse<T>, what = 'request'): T {
  if (!res.ok) {
    const status = res.body as KubeStatus | undefined;
    throw new Error(`${what}: HTTP ${res.status}: ${status?.message ?? JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** The `details.causes` of a refused request, as the API server passed modelgate's on. */
export function refusalCauses(res: KubeResponse): { reason?: string; field?: string; message?: string }[] {
  if (res.ok) return [];
  const details = (res.body as KubeStatus | undefined)?.details as { causes?: unknown } | undefined;
  return Array.isArray(details?.causes) ? (details.causes as { reason?: string }[]) : [];
}

/** The message of a refused request (`Status.message`), or '' when it was not refused. */
export function refusalMessage(res: KubeResponse): string {
  return res.ok ? '' : ((res.body as KubeStatus | undefined)?.message ?? '');
}

export class KubeClient {
  readonly server: string;
  readonly #creds: KubeCredentials;
  readonly #agent: Agent;
  readonly #discovery = new Map<string, Promise<ApiResource[]>>();
  #closed = false;

  constructor(creds: KubeCredentials) {
    this.#creds = creds;
    this.server = creds.server.replace(/\/+$/, '');
    this.#agent = new Agent({
      connect: {
        ca: creds.caPem,
        cert: creds.certPem,
        key: creds.keyPem,
        rejectUnauthorized: creds.insecureSkipTlsVerify !== true,
        servername: creds.tlsServerName,
      },
    });
  }

  /** A client for the current context of a kubeconfig file. */
  static async fromKubeconfig(path: string): Promise<KubeClient> {
    return new KubeClient(await loadKubeconfig(path));
  }

  async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<KubeResponse<T>> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string | string[]> = { accept: 'application/json' };
    if (this.#creds.token !== undefined) headers.authorization = `Bearer ${this.#creds.token}`;
    if (this.#creds.impersonate !== undefined) {
      headers['impersonate-user'] = this.#creds.impersonate.user;
      const groups = this.#creds.impersonate.groups ?? [];
      if (groups.length > 0) headers['impersonate-group'] = [...groups];
    }
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    const res = await request(url, {
      method: method as 'GET',
      headers,
      body,
      dispatcher: this.#agent,
      headersTimeout: opts.timeoutMs ?? 60_000,
      bodyTimeout: opts.timeoutMs ?? 60_000,
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (e.g. /readyz): keep the text.
    }
    const raw = res.headers.warning;
    const warnings = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap(parseWarnings);
    return {
      status: res.statusCode,
      ok: res.statusCode >= 200 && res.statusCode < 300,
      body: parsed as T,
      warnings,
    };
  }

  get<T = KubeObject>(path: string): Promise<KubeResponse<T>> {
    return this.request<T>('GET', path);
  }

  /** POSTs an object to the collection it belongs to; `dryRun` runs admission without persisting. */
  async create<T = KubeObject>(obj: KubeObject, opts: { dryRun?: boolean } = {}): Promise<KubeResponse<T>> {
    const { collection } = await this.paths(obj);
    return this.request<T>('POST', collection, {
      body: obj,
      query: opts.dryRun === true ? { dryRun: 'All' } : {},
    });
  }

  /** Server-side apply of one object (`force` takes over fields other managers own). */
  async apply<T = KubeObject>(
    obj: KubeObject,
    opts: { fieldManager?: string; force?: boolean; dryRun?: boolean } = {},
  ): Promise<KubeResponse<T>> {
    const { item } = await this.paths(obj);
    const query: Record<string, string> = { fieldManager: opts.fieldManager ?? 'modelgate-e2e' };
    if (opts.force !== false) query.force = 'true';
    if (opts.dryRun === true) query.dryRun = 'All';
    return this.request<T>('PATCH', item, {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query,
    });
  }

  /** Server-side applies every object of a multi-document YAML text (e.g. `helm template` output), in order. */
  async applyYaml(
    text: string,
    opts: { fieldManager?: string; namespace?: string; dryRun?: boolean } = {},
  ): Promise<KubeResponse<KubeObject>[]> {
    const results: KubeResponse<KubeObject>[] = [];
    for (const obj of parseManifests(text)) {
      const scoped = await this.withNamespace(obj, opts.namespace);
      results.push(await this.apply(scoped, opts));
    }
    return results;
  }

  async delete(obj: KubeObject): Promise<KubeResponse<KubeStatus | KubeObject>> {
    const { item } = await this.paths(obj);
    return this.request('DELETE', item);
  }

  /** The collection and item URL paths of an object, from API discovery (CRDs included, once served). */
  async paths(obj: KubeObject): Promise<{ collection: string; item: string; namespaced: boolean }> {
    const resource = await this.resourceFor(obj.apiVersion, obj.kind);
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    let collection = `${base}/${resource.name}`;
    if (resource.namespaced) {
      const ns = obj.metadata.namespace;
      if (ns === undefined)
        throw new Error(`${obj.kind} ${obj.metadata.name ?? ''} needs metadata.namespace`);
      collection = `${base}/namespaces/${encodeURIComponent(ns)}/${resource.name}`;
    }
    const name = obj.metadata.name ?? '';
    return { collection, item: `${collection}/${encodeURIComponent(name)}`, namespaced: resource.namespaced };
  }

  /** Polls until `check` returns a value other than undefined. */
  async waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < until) {
      if (this.#closed) throw new Error(`client closed while waiting for ${what}`);
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (e) {
        lastError = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#agent.close();
  }

  private async withNamespace(obj: KubeObject, namespace: string | undefined): Promise<KubeObject> {
    if (namespace === undefined || obj.metadata.namespace !== undefined) return obj;
    const resource = await this.resourceFor(obj.apiVersion, obj.kind);
    return resource.namespaced ? { ...obj, metadata: { ...obj.metadata, namespace } } : obj;
  }

  private async resourceFor(apiVersion: string, kind: string): Promise<ApiResource> {
    // A CRD's resource appears in discovery a moment after the CRD is established.
    return this.waitFor(
      `API resource for ${apiVersion} ${kind}`,
      async () => {
        let found = (await this.discover(apiVersion)).find((r) => r.kind === kind);
        if (found === undefined) {
          this.#discovery.delete(apiVersion);
          found = (await this.discover(apiVersion)).find((r) => r.kind === kind);
        }
        return found;
      },
      15_000,
    );
  }

  private discover(apiVersion: string): Promise<ApiResource[]> {
    let p = this.#discovery.get(apiVersion);
    if (p === undefined) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.get<{ resources: ApiResource[] }>(path).then((res) => {
        if (!res.ok) return [];
        // Subresources (`pods/status`) share their parent's kind.
        return res.body.resources.filter((r) => !r.name.includes('/'));
      });
      p.catch(() => this.#discovery.delete(apiVersion));
      this.#discovery.set(apiVersion, p);
    }
    return p;
  }
}

/** Every object of a multi-document YAML text, skipping empty documents and unrolling `List`s. */
export function parseManifests(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as KubeObject | null;
    if (value === null || typeof value !== 'object') continue;
    if (value.kind.endsWith('List') && Array.isArray(value.items)) out.push(...(value.items as KubeObject[]));
    else out.push(value);
  }
  return out;
}

// RFC 7234 warn-value: `299 - "text"`; a header may hold several, comma-separated.
function parseWarnings(header: string): string[] {
  const out: string[] = [];
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(header); m !== null; m = re.exec(header)) {
    out.push((m[1] ?? '').replace(/\\(.)/g, '$1'));
  }
  return out;
}

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
}

/**
 * The credentials of a kubeconfig's current context (or `context`). Supports certificate and token
 * authentication, file or inline data, and impersonation; not exec or auth-provider plugins (a cloud
 * cluster's kubeconfig: make one with a ServiceAccount token instead). `KUBECONFIG` lists are not merged:
 * the first file is read.
 */
export async function loadKubeconfig(path: string, context?: string): Promise<KubeCredentials> {
  const file = path.split(':')[0] ?? path;
  const config = parse(await readFile(file, 'utf8')) as KubeconfigFile;
  const base = dirname(resolve(file));
  const contextName = context ?? config['current-context'];
  const ctx = config.contexts?.find((c) => c.name === contextName)?.context;
  if (ctx === undefined) throw new Error(`${file}: no context ${contextName ?? '(current-context unset)'}`);
  const cluster = config.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (cluster === undefined) throw new Error(`${file}: no cluster ${ctx.cluster}`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new Error(
      `${file}: user ${ctx.user} authenticates with a plugin, which the e2e client does not run`,
    );
  }
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const material = async (data: unknown, fileRef: unknown): Promise<string | undefined> => {
    const d = str(data);
    if (d !== undefined) return Buffer.from(d, 'base64').toString('utf8');
    const f = str(fileRef);
    return f === undefined ? undefined : readFile(resolve(base, f), 'utf8');
  };
  const tokenFile = str(user.tokenFile);
  const token =
    str(user.token) ?? (tokenFile ? (await readFile(resolve(base, tokenFile), 'utf8')).trim() : undefined);
  const as = str(user.as);
  const server = str(cluster.server);
  if (server === undefined) throw new Error(`${file}: cluster ${ctx.cluster} has no server`);
  return {
    server,
    caPem: await material(cluster['certificate-authority-data'], cluster['certificate-authority']),
    certPem: await material(user['client-certificate-data'], user['client-certificate']),
    keyPem: await material(user['client-key-data'], user['client-key']),
    token,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: str(cluster['tls-server-name']),
    impersonate:
      as === undefined ? undefined : { user: as, groups: (user['as-groups'] as string[] | undefined) ?? [] },
  };
}

/** A kubeconfig (YAML text) with one context and its credentials inline. */
export function kubeconfigYaml(name: string, creds: KubeCredentials): string {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const cluster: Record<string, unknown> = { server: creds.server };
  if (creds.caPem !== undefined) cluster['certificate-authority-data'] = b64(creds.caPem);
  if (creds.insecureSkipTlsVerify === true) cluster['insecure-skip-tls-verify'] = true;
  if (creds.tlsServerName !== undefined) cluster['tls-server-name'] = creds.tlsServerName;
  const user: Record<string, unknown> = {};
  if (creds.certPem !== undefined) user['client-certificate-data'] = b64(creds.certPem);
  if (creds.keyPem !== undefined) user['client-key-data'] = b64(creds.keyPem);
  if (creds.token !== undefined) user.token = creds.token;
  if (creds.impersonate !== undefined) {
    user.as = creds.impersonate.user;
    if ((creds.impersonate.groups ?? []).length > 0)
      user['as-groups'] = [...(creds.impersonate.groups ?? [])];
  }
  // JSON is YAML, and needs no serializer options to be exact.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': name,
      clusters: [{ name, cluster }],
      users: [{ name, user }],
      contexts: [{ name, context: { cluster: name, user: name } }],
    },
    null,
    2,
  )}\n`;
}
