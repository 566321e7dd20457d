// A registry failure's fix matches what went wrong, against real registries (go-containerregistry's and
// Debian's distribution 2.8, with their own auth): a TLS handshake against a plain-HTTP registry says to
// name it insecure; a 404 says which repository or manifest does not exist; a 401/403 names the pull
// secrets that were tried (by namespace/name, never their content) or says none was configured. The code
// stays REGISTRY_ERROR (a contract): only the fix tells the cases apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryVerifier, registryFailure } from '../../../src/engine/registry-verifier.ts';
import { AdmissionContext, ContextCredentials, PullSecretVerifier } from '../../../src/kube/credentials.ts';
import { ClusterObjects } from '../../../src/kube/objects.ts';
import { RegistryClient } from '../../../src/oci/client.ts';
import { RegistryError } from '../../../src/oci/errors.ts';
import type { CheckFailure } from '../../../src/verdict/outcome.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import {
  type RegistryAuth,
  type RegistryKind,
  startRegistry,
  type TestRegistry,
} from '../../support/registries.ts';
import { policy } from '../../unit/engine/builders.ts';
import { FakeKubeApi, silentLogger } from '../../unit/kube/fakes.ts';

const REPO = 'models/fixes';
const MISSING_DIGEST = `sha256:${'e'.repeat(64)}`;
const signal = () => AbortSignal.timeout(30_000);
const GENERIC = 'check that the registry is reachable';

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RegistryError);
  return e as RegistryError;
}

function insecureHosts(reg: TestRegistry): string[] {
  // A token endpoint is another plain-HTTP host:port: named insecure itself.
  return [reg.host, ...(reg.tokenServer === undefined ? [] : [new URL(reg.tokenServer.realm).host])];
}

async function pushModel(reg: TestRegistry): Promise<Pushed> {
  const oras = new Oras({ host: reg.host, credentials: reg.credentials });
  try {
    return await oras.push(`${REPO}:v1`, [{ name: 'model.safetensors', content: 'weights' }]);
  } finally {
    await oras.close();
  }
}

describe.each<RegistryKind>(['ggcr', 'distribution'])('%s registry without auth', (kind) => {
  let reg: TestRegistry;
  let pushed: Pushed;

  beforeAll(async () => {
    reg = await startRegistry(kind);
    pushed = await pushModel(reg);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('plain HTTP without --insecure-registry: the fix names the flag and the chart value', async () => {
    const client = new RegistryClient({ insecureRegistries: [], maxRetries: 2, retryBaseMs: 10 });
    try {
      const err = await failure(client.resolve(reg.host, REPO, pushed.digest, signal()));
      expect(err.code).toBe('REGISTRY_ERROR');
      expect(err.fix).toContain(`--insecure-registry ${reg.host}`);
      expect(err.fix).toContain("chart's insecureRegistries value");
      const f = registryFailure(err, new AbortController().signal);
      expect([f.code, f.fix]).toEqual(['REGISTRY_ERROR', err.fix]);
    } finally {
      await client.close();
    }
  });

  it('a repository that does not exist: the fix says so and names it', async () => {
    const client = new RegistryClient({ insecureRegistries: [reg.host] });
    try {
      const err = await failure(client.resolve(reg.host, 'models/absent', pushed.digest, signal()));
      expect([err.code, err.status]).toEqual(['REGISTRY_ERROR', 404]);
      expect(err.fix).not.toContain(GENERIC);
      expect(err.fix).toContain('does not exist');
      expect(err.fix).toContain('models/absent');
      expect(err.fix).toContain(reg.host);
    } finally {
      await client.close();
    }
  });

  it('a digest that does not exist in the repository: the fix names the manifest and the repository', async () => {
    const client = new RegistryClient({ insecureRegistries: [reg.host] });
    try {
      const err = await failure(client.resolve(reg.host, REPO, MISSING_DIGEST, signal()));
      expect([err.code, err.status, err.registryCode]).toEqual(['REGISTRY_ERROR', 404, 'MANIFEST_UNKNOWN']);
      expect(err.fix).toBe(
        `the manifest ${MISSING_DIGEST} does not exist in ${reg.host}/${REPO}: check the reference's digest or tag (oras resolve ${reg.host}/${REPO}:TAG prints a tag's digest), or push the model`,
      );
      // A tag likewise, through the verifier the engine calls.
      const verifier = new RegistryVerifier(client);
      const out = await verifier.verify(
        { registry: reg.host, repository: REPO, digest: MISSING_DIGEST },
        policy('formats', { models: [`${reg.host}/**`], formats: { allow: ['safetensors'] } }),
        signal(),
      );
      expect(out.failures.map((f) => [f.code, f.fix])).toEqual([['REGISTRY_ERROR', err.fix]]);
    } finally {
      await client.close();
    }
  });
});

/**
 * The cluster's credential chain (pull secrets read through ClusterObjects from an API that holds them)
 * in front of the real registry client: what `serve --kubernetes` runs.
 */
function clusterChain(reg: TestRegistry, secrets: Record<string, unknown>) {
  const api = new FakeKubeApi();
  for (const [name, config] of Object.entries(secrets))
    api.putSecret('team-a', name, { '.dockerconfigjson': JSON.stringify(config) });
  const credentials = new ContextCredentials();
  const client = new RegistryClient({ insecureRegistries: insecureHosts(reg), credentials, maxRetries: 0 });
  const admission = new AdmissionContext();
  const verifier = new PullSecretVerifier({
    // Only what the registry lets us read is under test: the formats check passes whatever it reads.
    inner: new RegistryVerifier(client, { formats: async () => ({ failures: [], report: {} }) }),
    credentials,
    objects: new ClusterObjects({ api, namespaces: [] }),
    admission,
    podPullSecrets: false,
    logger: silentLogger,
  });
  return {
    client,
    async verify(pullSecrets: string[], digest: string): Promise<CheckFailure[]> {
      const p = policy('pulls', {
        models: [`${reg.host}/**`],
        formats: { allow: ['safetensors'] },
        ...(pullSecrets.length > 0
          ? { pullSecrets: pullSecrets.map((name) => ({ namespace: 'team-a', name })) }
          : {}),
      });
      const out = await verifier.verify({ registry: reg.host, repository: REPO, digest }, p, signal());
      return [...out.failures];
    },
  };
}

const AUTH_MATRIX: { kind: RegistryKind; auth: RegistryAuth }[] = [
  { kind: 'ggcr', auth: 'basic' },
  { kind: 'distribution', auth: 'basic' },
  { kind: 'distribution', auth: 'token' },
];

describe.each(AUTH_MATRIX)('$kind registry, auth: $auth', ({ kind, auth }) => {
  let reg: TestRegistry;
  let pushed: Pushed;
  let chain: ReturnType<typeof clusterChain>;

  beforeAll(async () => {
    reg = await startRegistry(kind, { auth });
    pushed = await pushModel(reg);
    const entry = (password: string) => ({
      auths: { [reg.host]: { username: reg.credentials!.username, password } },
    });
    chain = clusterChain(reg, {
      good: entry(reg.credentials!.password),
      wrong: entry('not-the-password'),
      elsewhere: { auths: { 'other.registry.example': { username: 'u', password: 'p' } } },
    });
  });
  afterAll(async () => {
    await chain?.client.close();
    await reg?.stop();
  });

  it('401 with no pull secret configured: says none was configured and how to add one', async () => {
    const failures = await chain.verify([], pushed.digest);
    expect(failures.map((f) => f.code)).toEqual(['REGISTRY_ERROR']);
    const fix = failures[0]!.fix!;
    expect(fix).toContain(`${reg.host} requires credentials and no credentials were configured`);
    expect(fix).toContain('spec.pullSecrets');
    expect(fix).not.toContain(GENERIC);
  });

  it('401 with a pull secret whose credentials are refused: names that secret, never its content', async () => {
    const failures = await chain.verify(['wrong'], pushed.digest);
    expect(failures.map((f) => f.code)).toEqual(['REGISTRY_ERROR']);
    const fix = failures[0]!.fix!;
    expect(fix).toContain(`${reg.host} refused the credentials from pull secret team-a/wrong`);
    expect(JSON.stringify(failures)).not.toContain('not-the-password');
    expect(JSON.stringify(failures)).not.toContain(reg.credentials!.username);
  });

  it('401 with pull secrets that hold nothing for this registry: names each and why', async () => {
    const failures = await chain.verify(['elsewhere', 'missing'], pushed.digest);
    expect(failures.map((f) => f.code)).toEqual(['REGISTRY_ERROR']);
    const fix = failures[0]!.fix!;
    expect(fix).toContain(`pull secret team-a/elsewhere has no entry for ${reg.host}`);
    expect(fix).toContain('pull secret team-a/missing was not found');
    expect(fix).toContain(`add an auths entry keyed exactly "${reg.host}"`);
  });

  it('with good credentials, a missing digest is a 404 that says so, not an access problem', async () => {
    const failures = await chain.verify(['good'], MISSING_DIGEST);
    expect(failures.map((f) => f.code)).toEqual(['REGISTRY_ERROR']);
    expect(failures[0]!.fix).toContain(
      `the manifest ${MISSING_DIGEST} does not exist in ${reg.host}/${REPO}`,
    );
    // And the model itself is read with them.
    expect(await chain.verify(['good'], pushed.digest)).toEqual([]);
  });
});
