import { describe, expect, it } from 'vitest';
import { parseIndex, parseManifest } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/types.ts';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  artifactType: 'application/vnd.example.model',
  config: { mediaType: MediaType.OciEmpty, digest: D(1), size: 2 },
  layers: [
    {
      mediaType: 'application/vnd.safetensors',
      digest: D(2),
      size: 100,
      annotations: { 'org.opencontainers.image.title': 'model.safetensors' },
    },
  ],
  subject: { mediaType: MediaType.OciManifest, digest: D(3), size: 500 },
  annotations: { a: 'b' },
};

describe('parseManifest', () => {
  it('reads an OCI image manifest with subject and annotations', () => {
    const r = parseManifest(enc(ociManifest), MediaType.OciManifest);
    expect(r).toMatchObject({ ok: true, kind: 'manifest', mediaType: MediaType.OciManifest });
    if (r.ok) expect(r.manifest).toEqual(ociManifest);
  });

  it('reads an OCI index and a Docker manifest list', () => {
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: MediaType.OciManifest,
          digest: D(4),
          size: 10,
          platform: { architecture: 'amd64', os: 'linux' },
          artifactType: 'application/vnd.cyclonedx+json',
        },
      ],
    };
    expect(parseManifest(enc(index), 'application/vnd.oci.image.index.v1+json; charset=utf-8')).toMatchObject(
      {
        ok: true,
        kind: 'index',
        manifest: index,
      },
    );
    const list = { ...index, mediaType: MediaType.DockerManifestList };
    expect(parseManifest(enc(list), MediaType.DockerManifestList)).toMatchObject({
      ok: true,
      kind: 'index',
      mediaType: MediaType.DockerManifestList,
    });
  });

  it('reads a Docker v2 schema 2 manifest', () => {
    const m = { ...ociManifest, mediaType: MediaType.DockerManifest };
    delete (m as { artifactType?: string }).artifactType;
    expect(parseManifest(enc(m), MediaType.DockerManifest)).toMatchObject({ ok: true, kind: 'manifest' });
  });

  it('decides by shape when neither body nor header names the media type', () => {
    const { mediaType: _, ...bare } = ociManifest;
    expect(parseManifest(enc(bare), 'application/json')).toMatchObject({
      ok: true,
      kind: 'manifest',
      mediaType: MediaType.OciManifest,
    });
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), null)).toMatchObject({
      ok: true,
      kind: 'index',
    });
  });

  it('collects every invalid field with its path', () => {
    const bad = {
      schemaVersion: 1,
      mediaType: MediaType.OciManifest,
      config: { mediaType: 'x', digest: 'sha256:nothex', size: -1 },
      layers: [{ mediaType: 'y', digest: D(2), size: 2 ** 53, annotations: { t: 7 } }, 'nope'],
    };
    const r = parseManifest(enc(bad), MediaType.OciManifest);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toEqual([
        'schemaVersion: must be 2',
        'config.digest: must be a sha256 or sha512 digest',
        'config.size: must be a non-negative integer',
        'layers[0].size: must be a non-negative integer',
        'layers[0].annotations.t: must be a string',
        'layers[1]: must be an object',
      ]);
    }
  });

  it('refuses schema 1, bad JSON, non-UTF-8 and a body that contradicts its Content-Type', () => {
    const schema1 = {
      schemaVersion: 1,
      mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
    };
    expect(parseManifest(enc(schema1), schema1.mediaType).ok).toBe(false);
    expect(parseManifest(enc('{"schemaVersion":'), MediaType.OciManifest).ok).toBe(false);
    expect(parseManifest(new Uint8Array([0xff, 0xfe]), MediaType.OciManifest).ok).toBe(false);
    expect(parseManifest(enc(ociManifest), MediaType.OciIndex)).toMatchObject({ ok: false });
    expect(parseManifest(enc([1, 2]), MediaType.OciManifest).ok).toBe(false);
  });
});

describe('parseManifest refuses what Go would read differently with ARTIFACT_AMBIGUOUS', () => {
  const body = (extra: string) =>
    `{"schemaVersion":2,"mediaType":"${MediaType.OciManifest}","config":{"mediaType":"${MediaType.OciEmpty}","digest":"${D(1)}","size":2}${extra}}`;
  const L = (n: number, size = '1') =>
    `{"mediaType":"application/octet-stream","digest":"${D(n)}","size":${size}}`;
  const code = (text: string | Uint8Array) => {
    const r = parseManifest(typeof text === 'string' ? enc(text) : text, MediaType.OciManifest);
    return r.ok ? 'ok' : (r.code ?? 'invalid');
  };

  it('two layer lists, or one under another spelling (Go fills `layers` from `Layers`)', () => {
    expect(code(body(`,"layers":[${L(2)}]`))).toBe('ok');
    expect(code(body(`,"layers":[${L(2)}],"Layers":[${L(3)}]`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(body(`,"layers":[${L(2)}],"layers":[${L(3)}]`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(body(`,"LAYERS":[${L(3)}]`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(body(`,"layerſ":[${L(3)}]`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(body(`,"layers":[${L(2)}],"Subject":${L(4)}`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(body(`,"layers":[{"mediaType":"x","digest":"${D(2)}","Digest":"${D(3)}","size":1}]`))).toBe(
      'ARTIFACT_AMBIGUOUS',
    );
  });

  it('a size written as a float (JSON.parse reads 1000, Go refuses the manifest)', () => {
    expect(code(body(`,"layers":[${L(2, '1.0e3')}]`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(body(`,"layers":[${L(2, '1e3')}]`))).toBe('ARTIFACT_AMBIGUOUS');
  });

  it('invalid UTF-8, which Go reads as U+FFFD', () => {
    const [head, tail] = body(',"layers":[],"annotations":{"a":"@"}').split('@') as [string, string];
    expect(code(Buffer.concat([enc(head), enc('x'), enc(tail)]))).toBe('ok');
    expect(code(Buffer.concat([enc(head), Buffer.from([0xff]), enc(tail)]))).toBe('ARTIFACT_AMBIGUOUS');
  });

  it('a referrers index with two manifest lists', () => {
    const r = parseIndex(enc(`{"schemaVersion":2,"manifests":[],"Manifests":[${L(5)}]}`), MediaType.OciIndex);
    expect(r).toMatchObject({ code: 'ARTIFACT_AMBIGUOUS' });
  });

  it('fields that Go fails on are refused (invalid), not skipped', () => {
    expect(code(body(`,"layers":[{"mediaType":"x","digest":"${D(2)}","size":1,"data":"!!"}]`))).toBe(
      'invalid',
    );
    expect(code(body(`,"layers":[{"mediaType":"x","digest":"${D(2)}","size":1,"data":"e30="}]`))).toBe('ok');
    const platform = (p: string) =>
      `{"schemaVersion":2,"mediaType":"${MediaType.OciIndex}","manifests":[{"mediaType":"${MediaType.OciManifest}","digest":"${D(2)}","size":1,"platform":${p}}]}`;
    const idx = (p: string) => {
      const r = parseManifest(enc(platform(p)), MediaType.OciIndex);
      return r.ok ? 'ok' : (r.code ?? 'invalid');
    };
    expect(
      idx('{"architecture":"amd64","os":"linux","os.version":"1","os.features":["a"],"variant":"v1"}'),
    ).toBe('ok');
    expect(idx('{"architecture":"amd64","os":"linux","os.version":1}')).toBe('invalid');
    expect(idx('{"architecture":"amd64","os":"linux","os.features":"a"}')).toBe('invalid');
    expect(idx('{"architecture":"amd64","os":"linux","variant":1}')).toBe('invalid');
  });
});

describe('parseIndex', () => {
  it('refuses an image manifest where an index is required', () => {
    expect(parseIndex(enc(ociManifest), MediaType.OciManifest)).toEqual({
      errors: [`expected an image index, got ${MediaType.OciManifest}`],
    });
    expect(parseIndex(enc({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }))).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [],
    });
  });
});
