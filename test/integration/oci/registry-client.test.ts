// The registry client against real registries (go-containerregistry's, with the referrers API; Debian's
// distribution 2.8, without it), holding artifacts pushed by the real `oras` CLI, with and without auth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticCredentialStore } from '../../../src/oci/credentials.ts';
import { digestOf, digestToTag } from '../../../src/oci/digest.ts';
import { RegistryClient, RegistryError } from '../../../src/oci/index.ts';
import type { RequestEvent } from '../../../src/oci/transport.ts';
import { type Index, layerTitle, type Manifest, MediaType } from '../../../src/oci/types.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import {
  type RegistryAuth,
  type RegistryKind,
  startRegistry,
  type TestRegistry,
} from '../../support/registries.ts';

const MODEL_TYPE = 'application/vnd.modelgate.test.model.v1';
const CYCLONEDX = 'application/vnd.cyclonedx+json';
const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

// A safetensors file: u64 LE header length, JSON header, then tensor bytes.
function safetensors(): Uint8Array {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, Buffer.alloc(16, 7)]);
}
const PICKLE = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cmodel\nWeights\nq\x00.')]);
const MLBOM = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] });
const BUNDLE = JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });

const MATRIX: { kind: RegistryKind; auth: RegistryAuth }[] = [
  { kind: 'ggcr', auth: 'none' },
  { kind: 'ggcr', auth: 'basic' },
  { kind: 'ggcr', auth: 'token' },
  { kind: 'distribution', auth: 'none' },
  { kind: 'distribution', auth: 'basic' },
  { kind: 'distribution', auth: 'token' },
];

const signal = () => AbortSignal.timeout(30_000);

describe.each(MATRIX)('$kind registry, auth: $auth', ({ kind, auth }) => {
  let reg: TestRegistry;
  let oras: Oras;
  let client: RegistryClient;
  const events: RequestEvent[] = [];
  let model: Pushed;
  let mlbom: Pushed;
  let bundle: Pushed;
  let single: Pushed;
  let index: Pushed;
  const weights = safetensors();

  const newClient = (credentials?: { username: string; password: string }) =>
    new RegistryClient({
      // A token endpoint is another plain-HTTP host:port: named insecure itself.
      insecureRegistries: [
        reg.host,
        ...(reg.tokenServer === undefined ? [] : [new URL(reg.tokenServer.realm).host]),
      ],
      maxRetries: 2,
      retryBaseMs: 20,
      ...(credentials === undefined
        ? {}
        : { credentials: new StaticCredentialStore([[reg.host, { kind: 'basic', ...credentials }]]) }),
      onRequest: (e) => events.push(e),
    });

  beforeAll(async () => {
    reg = await startRegistry(kind, { auth });
    oras = new Oras({ host: reg.host, credentials: reg.credentials });
    model = await oras.push(
      'models/llm:v1',
      [
        { name: 'model.safetensors', content: weights, mediaType: 'application/vnd.safetensors' },
        { name: 'config.json', content: '{"arch":"tiny"}', mediaType: 'application/json' },
      ],
      {
        artifactType: MODEL_TYPE,
        annotations: { 'org.opencontainers.image.source': 'https://example.test/m' },
      },
    );
    mlbom = await oras.attach(
      `models/llm@${model.digest}`,
      [{ name: 'mlbom.json', content: MLBOM, mediaType: CYCLONEDX }],
      {
        artifactType: CYCLONEDX,
      },
    );
    bundle = await oras.attach(
      `models/llm@${model.digest}`,
      [{ name: 'bundle.json', content: BUNDLE, mediaType: SIGSTORE_BUNDLE }],
      { artifactType: SIGSTORE_BUNDLE },
    );
    single = await oras.push('models/single:v1', [
      { name: 'model.pt', content: PICKLE },
      { name: 'mlbom.json', content: MLBOM, mediaType: CYCLONEDX },
      { name: 'model.pt.sigstore.json', content: BUNDLE, mediaType: SIGSTORE_BUNDLE },
    ]);
    await oras.push('models/multi:amd64', [{ name: 'a.gguf', content: 'GGUF-a' }], {
      artifactType: MODEL_TYPE,
    });
    await oras.push('models/multi:arm64', [{ name: 'b.gguf', content: 'GGUF-b' }], {
      artifactType: MODEL_TYPE,
    });
    index = await oras.indexCreate('models/multi:v1', ['amd64', 'arm64']);
    client = newClient(reg.credentials);
  });

  afterAll(async () => {
    await client?.close();
    await oras?.close();
    await reg?.stop();
  });

  it('resolves a model by tag and by digest, with its file layers and titles', async () => {
    const byTag = await client.resolve(reg.host, 'models/llm', 'v1', signal());
    expect(byTag.digest).toBe(model.digest);
    expect(byTag.kind).toBe('manifest');
    expect(byTag.mediaType).toBe(MediaType.OciManifest);
    expect(digestOf(byTag.bytes)).toBe(model.digest);
    const m = byTag.manifest as Manifest;
    expect(m.artifactType).toBe(MODEL_TYPE);
    expect(m.layers.map((l) => [layerTitle(l), l.mediaType, l.size])).toEqual([
      ['model.safetensors', 'application/vnd.safetensors', weights.length],
      ['config.json', 'application/json', 15],
    ]);
    expect(m.layers[0]!.digest).toBe(digestOf(weights));

    const byDigest = await client.resolve(reg.host, 'models/llm', model.digest, signal());
    expect(byDigest.digest).toBe(model.digest);
    expect(Buffer.from(byDigest.bytes).equals(Buffer.from(byTag.bytes))).toBe(true);
  });

  it('finds the attached ML-BOM among the referrers, filtered by artifactType', async () => {
    const before = events.length;
    const all = await client.referrers(reg.host, 'models/llm', model.digest, {}, signal());
    expect(all.map((d) => d.digest).sort()).toEqual([mlbom.digest, bundle.digest].sort());
    const boms = await client.referrers(
      reg.host,
      'models/llm',
      model.digest,
      { artifactType: CYCLONEDX },
      signal(),
    );
    expect(boms.map((d) => [d.digest, d.artifactType])).toEqual([[mlbom.digest, CYCLONEDX]]);

    const paths = events.slice(before).map((e) => `${e.status} ${e.path}`);
    const fallbackTag = digestToTag(model.digest);
    if (reg.hasReferrersApi) {
      expect(paths.some((p) => p.startsWith(`200 /v2/models/llm/referrers/${model.digest}`))).toBe(true);
      expect(paths.some((p) => p.includes(fallbackTag))).toBe(false);
    } else {
      // distribution 2.8 answers the referrers API with 404: the tag schema is read instead.
      expect(paths.some((p) => p.startsWith(`404 /v2/models/llm/referrers/`))).toBe(true);
      expect(paths).toContain(`200 /v2/models/llm/manifests/${fallbackTag}`);
    }

    // The ML-BOM itself: the referrer's manifest, then its one layer.
    const ref = await client.resolve(reg.host, 'models/llm', mlbom.digest, signal());
    const layer = (ref.manifest as Manifest).layers[0]!;
    expect((ref.manifest as Manifest).subject?.digest).toBe(model.digest);
    const bytes = await client.blob(reg.host, 'models/llm', layer, { maxBytes: 1024 * 1024 }, signal());
    expect(JSON.parse(Buffer.from(bytes).toString('utf8'))).toMatchObject({ bomFormat: 'CycloneDX' });
  });

  it('reports no referrers for a manifest that has none', async () => {
    const singleRefs = await client.referrers(reg.host, 'models/single', single.digest, {}, signal());
    expect(singleRefs).toEqual([]);
  });

  it('reads the single-manifest layout: weights, ML-BOM and signature bundle as layers', async () => {
    const r = await client.resolve(reg.host, 'models/single', 'v1', signal());
    expect(r.digest).toBe(single.digest);
    const layers = (r.manifest as Manifest).layers;
    expect(layers.map(layerTitle)).toEqual(['model.pt', 'mlbom.json', 'model.pt.sigstore.json']);
    expect(layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar',
      CYCLONEDX,
      SIGSTORE_BUNDLE,
    ]);
    const sig = await client.blob(reg.host, 'models/single', layers[2]!, { maxBytes: 64 * 1024 }, signal());
    expect(Buffer.from(sig).toString('utf8')).toBe(BUNDLE);
    // Only the first bytes of the weights are needed to classify them.
    const head = await client.blobRange(reg.host, 'models/single', layers[0]!, 0, 1, signal());
    expect([...head]).toEqual([0x80, 0x02]);
  });

  it('refuses a blob larger than the cap before fetching it', async () => {
    const r = await client.resolve(reg.host, 'models/llm', model.digest, signal());
    const before = events.length;
    const err = await client
      .blob(reg.host, 'models/llm', (r.manifest as Manifest).layers[0]!, { maxBytes: 8 }, signal())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe('REGISTRY_ERROR');
    expect(events.length).toBe(before);
  });

  it('reads byte ranges of a blob', async () => {
    const r = await client.resolve(reg.host, 'models/llm', model.digest, signal());
    const layer = (r.manifest as Manifest).layers[0]!;
    const first8 = await client.blobRange(reg.host, 'models/llm', layer, 0, 7, signal());
    expect(Buffer.from(first8).equals(weights.subarray(0, 8))).toBe(true);
    const middle = await client.blobRange(reg.host, 'models/llm', layer, 8, 20, signal());
    expect(Buffer.from(middle).equals(weights.subarray(8, 21))).toBe(true);
    const tail = await client.blobRange(
      reg.host,
      'models/llm',
      layer,
      weights.length - 4,
      weights.length + 100,
      signal(),
    );
    expect(Buffer.from(tail).equals(weights.subarray(weights.length - 4))).toBe(true);
  });

  it('resolves an index made by oras manifest index create', async () => {
    const r = await client.resolve(reg.host, 'models/multi', 'v1', signal());
    expect(r.digest).toBe(index.digest);
    expect(r.kind).toBe('index');
    expect(r.mediaType).toBe(MediaType.OciIndex);
    const children = (r.manifest as Index).manifests;
    expect(children).toHaveLength(2);
    for (const child of children) {
      const c = await client.resolve(reg.host, 'models/multi', child.digest, signal());
      expect(c.kind).toBe('manifest');
    }
  });

  it('finds legacy cosign .sig/.att tags when present', async () => {
    expect(await client.legacyCosignTags(reg.host, 'models/single', single.digest, signal())).toEqual({});
    const sigTag = `${digestToTag(single.digest)}.sig`;
    const sig = await oras.push(`models/single:${sigTag}`, [
      { name: 'sig', content: 'payload', mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json' },
    ]);
    const found = await client.legacyCosignTags(reg.host, 'models/single', single.digest, signal());
    expect(found.sig?.digest).toBe(sig.digest);
    expect(found.att).toBeUndefined();
  });

  it('fails with the registry code and status for an unknown manifest', async () => {
    const err = (await client
      .resolve(reg.host, 'models/llm', 'nope', signal())
      .catch((e: unknown) => e)) as RegistryError;
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.status).toBe(404);
    expect(err.registryCode).toBe('MANIFEST_UNKNOWN');
    expect(err.message).toContain('HTTP 404 MANIFEST_UNKNOWN');
  });

  if (auth !== 'none') {
    it('authenticates once per scope and then sends credentials up front', async () => {
      const c = newClient(reg.credentials);
      const start = events.length;
      const tokenRequestsBefore = reg.tokenServer?.requests.length ?? 0;
      for (let i = 0; i < 3; i++) await c.resolve(reg.host, 'models/llm', 'v1', signal());
      await c.resolve(reg.host, 'models/single', 'v1', signal());
      await c.close();
      const statuses = events
        .slice(start)
        .filter((e) => e.registry === reg.host)
        .map((e) => e.status);
      // One challenge per repository (scope), then every request carries what was learnt.
      expect(statuses.filter((s) => s === 401)).toHaveLength(auth === 'token' ? 2 : 1);
      if (reg.tokenServer !== undefined) {
        const tokenRequests = reg.tokenServer.requests.slice(tokenRequestsBefore);
        expect(tokenRequests.map((r) => [r.user, r.scope.join(' ')])).toEqual([
          ['tester', 'repository:models/llm:pull'],
          ['tester', 'repository:models/single:pull'],
        ]);
      }
    });

    it('refuses without credentials and with wrong ones, with status 401', async () => {
      const anonymous = newClient();
      const wrong = newClient({ username: 'tester', password: 'wrong' });
      try {
        for (const c of [anonymous, wrong]) {
          const err = (await c
            .resolve(reg.host, 'models/llm', 'v1', signal())
            .catch((e: unknown) => e)) as RegistryError;
          expect(err).toBeInstanceOf(RegistryError);
          expect(err.code).toBe('REGISTRY_ERROR');
          expect(err.status).toBe(401);
          expect(err.message).toContain('401');
        }
      } finally {
        await anonymous.close();
        await wrong.close();
      }
    });
  }
});
