import { describe, expect, it } from 'vitest';
import { checkFormats, classifyArtifact, formatCheck } from '../../../src/evidence/formats/index.ts';
import type { FileFormat } from '../../../src/evidence/formats/types.ts';
import type { ArtifactEvidence } from '../../../src/evidence/types.ts';
import { MODEL_FORMATS } from '../../../src/policy/schema.ts';
import {
  bytes,
  concat,
  f32,
  gguf,
  gzipMagic,
  hdf5,
  npy,
  onnx,
  pickle,
  pickle0Exploit,
  pytorchZip,
  safetensors,
  sparsePytorchZip,
  sparseSafetensors,
  tar,
  zip,
} from './builders.ts';
import { artifact, type FileSpec, MemoryReader, policy, signal } from './support.ts';

const DEFAULT = policy();
const ADMIT_ALL = policy({ formats: { allow: [...MODEL_FORMATS] } });
const SAFETENSORS_ONLY = policy({ formats: { allow: ['safetensors'] } });
/** Bytes that are no format at all (not text either). */
const OPAQUE = new Uint8Array([0x01, 0xfe, 0x02, 0xfd, 0x03, 0xfc, 0x04, 0xfb]);

async function classify(
  files: FileSpec[],
  opts: { sniff?: boolean; budgetBytes?: number; verifiedBlobBytes?: number } = {},
) {
  const e = artifact({ files });
  const r = await classifyArtifact(
    e,
    {
      sniff: opts.sniff ?? true,
      ...(opts.budgetBytes ? { budgetBytes: opts.budgetBytes } : {}),
      ...(opts.verifiedBlobBytes !== undefined ? { verifiedBlobBytes: opts.verifiedBlobBytes } : {}),
    },
    signal(),
  );
  return { ...r, e };
}

/** Read by Range only (no whole-blob read): what the range-reading paths do with large files. */
const BY_RANGE = { verifiedBlobBytes: 0 };

async function one(file: FileSpec, opts: { verifiedBlobBytes?: number } = {}): Promise<FileFormat> {
  const { files } = await classify([file], opts);
  expect(files).toHaveLength(1);
  return files[0]!;
}

describe('classification by content', () => {
  it.each([
    ['safetensors', safetensors({ a: f32([1, 2]), b: f32([3]) }), 'safetensors', /2 tensors/],
    ['gguf', gguf(3), 'gguf', /GGUF magic, version 3, 1 tensors, 2 metadata keys/],
    ['onnx', onnx(9), 'onnx', /ir_version 9, producer "modelgate-test"/],
    ['pickle protocol 2', pickle(2), 'pickle', /protocol 2/],
    ['pickle protocol 5', pickle(5), 'pickle', /protocol 5/],
    ['pickle protocol 0 (os.system)', pickle0Exploit(), 'pickle', /protocol 0 .*imports or calls/],
    ['pytorch zip', pytorchZip(), 'pytorch-zip', /archive\/data\.pkl/],
    ['hdf5', hdf5(), 'keras-h5', /HDF5 signature at offset 0/],
    ['hdf5 with a user block', hdf5(512), 'keras-h5', /offset 512/],
    ['npy', npy('<f4'), 'numpy', /NumPy \.npy v1\.0, dtype '<f4'/],
    ['npy of objects', npy('|O'), 'pickle', /object array/],
    [
      'npz',
      zip([
        { name: 'a.npy', data: npy() },
        { name: 'b.npy', data: npy() },
      ]),
      'numpy',
      /npz archive of 2/,
    ],
    [
      'keras v3 archive',
      zip([
        { name: 'metadata.json', data: bytes('{}') },
        { name: 'config.json', data: bytes('{}') },
        { name: 'model.weights.h5', data: hdf5() },
      ]),
      'keras-h5',
      /Keras v3/,
    ],
  ])('%s', async (_, content, format, evidence) => {
    const f = await one({ name: 'weights', content });
    expect(f.format).toBe(format);
    expect(f.decidedBy).toBe('content');
    expect(f.inspected).toBe(true);
    expect(f.evidence).toMatch(evidence);
  });

  it('calls bytes with no known signature unknown', async () => {
    const f = await one({ name: 'weights', content: OPAQUE });
    expect(f).toMatchObject({ format: 'unknown', decidedBy: 'content', inspected: true });
    expect(f.evidence).toMatch(/no known format signature/);
  });

  it('calls UTF-8 text text and a JSON document json', async () => {
    expect(await one({ name: 'notes', content: bytes('just some text, nothing to see') })).toMatchObject({
      format: 'text',
      decidedBy: 'content',
    });
    expect(await one({ name: 'c', content: bytes('{"a": [1, 2]}') })).toMatchObject({ format: 'json' });
  });

  it('calls an empty file unknown', async () => {
    const f = await one({ name: 'weights', content: new Uint8Array(0) });
    expect(f).toMatchObject({ format: 'unknown', evidence: 'empty file' });
  });

  it('calls a zip without a framework layout an archive, and judges its members', async () => {
    const { files } = await classify([
      { name: 'x.zip', content: zip([{ name: 'a.txt', data: bytes('hi') }]) },
    ]);
    expect(files.map((f) => [f.file, f.format])).toEqual([
      ['x.zip', 'archive'],
      ['x.zip:a.txt', 'text'],
    ]);
    expect(files[0]!.evidence).toMatch(/zip archive of 1 entries \(a\.txt\)/);
  });
});

describe('content contradicting the media type or the name', () => {
  it('classifies a pickle renamed .safetensors as pickle, and the default policy refuses it', async () => {
    const e = artifact({ files: [{ name: 'model.safetensors', content: pickle(4) }] });
    const f = (await classifyArtifact(e, { sniff: true }, signal())).files[0]!;
    expect(f).toMatchObject({
      format: 'pickle',
      decidedBy: 'content',
      contradicts: 'name model.safetensors claims safetensors',
    });
    const r = await checkFormats(e, DEFAULT, signal());
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.code).toBe('FORMAT_DENIED');
    expect(r.failures[0]!.message).toMatch(
      /file model\.safetensors .* is pickle \(detected by its content: .* although its name model\.safetensors claims safetensors\); the default formats rule admits only safetensors, /,
    );
  });

  it('classifies a pickle under a Docker safetensors media type as pickle', async () => {
    const f = await one({
      name: 'model',
      content: pickle(2),
      mediaType: 'application/vnd.docker.ai.safetensors',
    });
    expect(f).toMatchObject({ format: 'pickle', decidedBy: 'content' });
    expect(f.contradicts).toMatch(/media type application\/vnd\.docker\.ai\.safetensors claims safetensors/);
  });

  it('classifies a safetensors file named model.pkl as pickle: a .pkl name is pickle whatever the magic', async () => {
    const f = await one({ name: 'model.pkl', content: safetensors() });
    expect(f).toMatchObject({ format: 'pickle', decidedBy: 'name' });
    expect(f.evidence).toMatch(/^name model\.pkl: .*its content reads as safetensors/);
  });

  it('does not call a legacy .pt pickle a contradiction', async () => {
    const f = await one({ name: 'model.pt', content: pickle(2) });
    expect(f.format).toBe('pickle');
    expect(f.contradicts).toBeUndefined();
  });

  it('says unknown when the content lacks the signature the name claims', async () => {
    const f = await one({ name: 'model.gguf', content: OPAQUE });
    expect(f).toMatchObject({
      format: 'unknown',
      decidedBy: 'content',
      contradicts: 'name model.gguf claims gguf',
    });
    expect(f.evidence).toMatch(/claims gguf, but the content does not match/);
  });

  it('keeps a pickle claim the content does not contradict (protocols 0/1 have no magic)', async () => {
    const byName = await one({ name: 'model.pkl', content: OPAQUE });
    expect(byName).toMatchObject({ format: 'pickle', decidedBy: 'name' });
    const byType = await one({
      name: 'w',
      content: OPAQUE,
      mediaType: 'application/x-python-pickle',
    });
    expect(byType).toMatchObject({ format: 'pickle', decidedBy: 'mediaType' });
  });
});

describe('safetensors headers', () => {
  it('refuses a header length larger than the blob as safetensors', async () => {
    const good = safetensors();
    const lying = safetensors(undefined, good.length * 10);
    const e = artifact({ files: [{ name: 'model.safetensors', content: lying }] });
    const f = (await classifyArtifact(e, { sniff: true }, signal())).files[0]!;
    expect(f.format).toBe('unknown');
    expect(f.evidence).toMatch(
      new RegExp(`header length ${good.length * 10} is larger than the blob \\(${lying.length} bytes\\)`),
    );
    expect((await checkFormats(e, DEFAULT, signal())).failures.map((x) => x.code)).toEqual(['FORMAT_DENIED']);
    const r = await checkFormats(e, SAFETENSORS_ONLY, signal());
    expect(r.failures.map((x) => x.code)).toEqual(['FORMAT_DENIED']);
    expect(r.failures[0]!.message).toMatch(/is unknown .* the policy allows only safetensors/);
  });

  it('refuses a header that is not JSON, and offsets outside the data', async () => {
    const bad = concat(
      new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0]),
      bytes('{"w": not json!!'),
      new Uint8Array(8),
    );
    expect((await one({ name: 'a.safetensors', content: bad })).evidence).toMatch(/header is not JSON/);
    const header = bytes(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 4096] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const outside = concat(len, header, new Uint8Array(16));
    expect((await one({ name: 'a.safetensors', content: outside })).evidence).toMatch(
      /data_offsets outside the 16 data bytes/,
    );
  });

  it('judges a header too long to parse by its first bytes', async () => {
    const header = bytes(
      JSON.stringify({
        __metadata__: { pad: 'x'.repeat(300_000) },
        w: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const { files, bytesRead } = await classify(
      [{ name: 'big.safetensors', content: concat(len, header, new Uint8Array(4)) }],
      BY_RANGE,
    );
    expect(files[0]!.format).toBe('safetensors');
    expect(files[0]!.evidence).toMatch(/first bytes checked; too long to parse/);
    expect(bytesRead).toBeLessThan(8192);
  });

  it('parses a header that spans more than the first read', async () => {
    const header = bytes(
      JSON.stringify({
        __metadata__: { pad: 'x'.repeat(10_000) },
        w: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const { files } = await classify([
      { name: 'mid.safetensors', content: concat(len, header, new Uint8Array(4)) },
    ]);
    expect(files[0]!.evidence).toMatch(/safetensors header of 100\d\d bytes, 1 tensors/);
  });
});

describe('zip central directory', () => {
  it('finds data.pkl in a subfolder from the central directory at the end', async () => {
    const content = zip([
      { name: 'weights/0', data: new Uint8Array(5000) },
      { name: 'nested/deeper/archive/data.pkl', data: pickle(2) },
    ]);
    const { files, e } = await classify([{ name: 'model.bin', content }], BY_RANGE);
    expect(files[0]).toMatchObject({ format: 'pytorch-zip', decidedBy: 'content' });
    expect(files[0]!.evidence).toMatch(/pickle member nested\/deeper\/archive\/data\.pkl/);
    const starts = (e.reader as MemoryReader).ranges.map(([, s]) => s);
    expect(starts).toContain(0);
    expect(Math.max(...starts)).toBeGreaterThan(0);
  });

  it('reads zip64 end records', async () => {
    const content = zip(
      [
        { name: 'w/0', data: new Uint8Array(8000) },
        { name: 'w/data.pkl', data: pickle(2) },
      ],
      { zip64: true },
    );
    expect((await one({ name: 'm.pt', content })).format).toBe('pytorch-zip');
  });

  it('finds the end record behind a long comment', async () => {
    const content = zip(
      [
        { name: 'w/0', data: new Uint8Array(10) },
        { name: 'w/data.pkl', data: pickle(2) },
      ],
      {
        comment: 'c'.repeat(20_000),
      },
    );
    expect((await one({ name: 'm.pt', content })).format).toBe('pytorch-zip');
  });

  it('refuses a zip whose central directory is truncated', async () => {
    const whole = zip([
      { name: 'w/0', data: new Uint8Array(100) },
      { name: 'w/data.pkl', data: pickle(2) },
    ]);
    const cut = whole.slice(0, whole.length - 30);
    const e = artifact({ files: [{ name: 'm', content: cut }] });
    const f = (await classifyArtifact(e, { sniff: true }, signal())).files[0]!;
    expect(f.inspected).toBe(false);
    const r = await checkFormats(e, DEFAULT, signal());
    expect(r.failures[0]).toMatchObject({ code: 'FORMAT_DENIED' });
    expect(r.failures[0]!.message).toMatch(/could not be determined/);
  });

  it('classifies a 2 GiB PyTorch zip with data.pkl last from a few KiB', async () => {
    const e = artifact({ files: [{ name: 'model.pt', content: sparsePytorchZip(2 * 1024 ** 3) }] });
    const r = await classifyArtifact(e, { sniff: true }, signal());
    expect(r.files[0]!.format).toBe('pytorch-zip');
    expect(r.bytesRead).toBeLessThan(64 * 1024);
  });
});

describe('tarred layers', () => {
  const layer = (entries: Parameters<typeof tar>[0]): FileSpec => ({ content: tar(entries) });

  it('classifies each member, documents and configs included', async () => {
    const { files, others } = await classify([
      layer([
        { name: 'model/config.json', data: bytes('{}') },
        { name: 'model/model.safetensors', data: safetensors() },
        { name: 'model/extra.bin', data: pickle(3) },
        { name: 'model/README.md', data: bytes('# hi') },
      ]),
    ]);
    expect(files.map((f) => [f.member, f.format])).toEqual([
      ['model/config.json', 'json'],
      ['model/model.safetensors', 'safetensors'],
      ['model/extra.bin', 'pickle'],
      ['model/README.md', 'text'],
    ]);
    // A claimed role is report information; it exempts nothing.
    expect(others).toEqual([]);
  });

  it('reads PAX long names and follows links to classified members', async () => {
    const long = `${'d/'.repeat(60)}weights.bin`;
    const { files } = await classify([
      layer([
        { name: long, data: pickle(2) },
        { name: 'model.safetensors', type: '2', link: long },
      ]),
    ]);
    expect(files.map((f) => [f.member, f.format])).toEqual([
      [long, 'pickle'],
      ['model.safetensors', 'pickle'],
    ]);
    expect(files[1]!.evidence).toMatch(/^link to /);
  });

  it('refuses a link whose target is not in the layer', async () => {
    const { files } = await classify([
      layer([{ name: 'model.safetensors', type: '2', link: '/etc/passwd' }]),
    ]);
    expect(files[0]).toMatchObject({ inspected: false });
  });

  it('classifies a KitOps model layer and a ModelPack weight tar', async () => {
    const kit = await one({
      content: tar([{ name: 'm.gguf', data: gguf() }]),
      mediaType: 'application/vnd.kitops.modelkit.model.v1.tar',
    });
    expect(kit).toMatchObject({ member: 'm.gguf', format: 'gguf' });
    const pack = await one({
      name: 'weights.tar',
      content: tar([{ name: 'model.onnx', data: onnx() }]),
      mediaType: 'application/vnd.cncf.model.weight.v1.tar',
    });
    expect(pack).toMatchObject({ member: 'model.onnx', format: 'onnx' });
  });

  it('refuses a tar whose member runs past the end (truncated)', async () => {
    const whole = tar(
      [
        { name: 'a.safetensors', data: safetensors() },
        { name: 'b.bin', data: new Uint8Array(4000) },
      ],
      { end: false },
    );
    const { files } = await classify([{ content: whole.slice(0, whole.length - 1000) }]);
    expect(files.at(-1)).toMatchObject({ inspected: false });
    expect(files.at(-1)!.evidence).toMatch(/runs past the end/);
  });

  it('refuses a gzip layer whose stream inflates to nothing known', async () => {
    const e = artifact({
      files: [{ content: gzipMagic(), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    });
    const r = await checkFormats(e, DEFAULT, signal());
    expect(r.failures.map((f) => f.code)).toEqual(['FORMAT_DENIED']);
    expect((r.report.files as FileFormat[])[0]!.evidence).toMatch(/^gzip-compressed: /);
  });
});

describe('media types and names', () => {
  it('reads configs, ML-BOMs, signatures and documents too, and reports their claimed roles', async () => {
    const { files, others, e } = await classify([
      { name: 'mlbom.json', content: bytes('{}'), mediaType: 'application/vnd.cyclonedx+json' },
      {
        name: 'model.sigstore.json',
        content: bytes('{}'),
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      },
      { name: 'config.json', content: bytes('{}'), mediaType: 'application/json' },
      { name: 'README.md', content: bytes('# x') },
      { name: 'tokenizer.model', content: bytes('x') },
      { name: 'model.safetensors', content: safetensors() },
    ]);
    expect(files.map((f) => [f.file, f.format, f.verified])).toEqual([
      ['mlbom.json', 'json', true],
      ['model.sigstore.json', 'json', true],
      ['config.json', 'json', true],
      ['README.md', 'text', true],
      ['tokenizer.model', 'text', true],
      ['model.safetensors', 'safetensors', true],
    ]);
    expect(others.map((o) => o.role)).toEqual(['mlbom', 'signature', 'config', 'doc', 'doc']);
    // Small blobs are fetched whole (digest-checked), not by range.
    expect((e.reader as MemoryReader).ranges).toEqual([]);
    // One whole read per distinct blob (the three '{}' layers and the empty config share a digest).
    expect((e.reader as MemoryReader).blobReads).toHaveLength(new Set(files.map((f) => f.layerDigest)).size);
  });

  it('reads a layer whose media type says json but whose name says weights', async () => {
    const f = await one({ name: 'model.pkl', content: pickle(2), mediaType: 'application/json' });
    expect(f.format).toBe('pickle');
  });

  it.each([
    ['application/vnd.kitops.modelkit.docs.v1.tar', 'doc'],
    ['application/vnd.kitops.modelkit.code.v1.tar+gzip', 'code'],
    ['application/vnd.kitops.modelkit.dataset.v1.tar', 'dataset'],
    ['application/vnd.kitops.modelkit.config.v1+json', 'config'],
    ['application/vnd.cncf.model.weight.config.v1.raw', 'config'],
    ['application/vnd.cncf.model.doc.v1.tar', 'doc'],
    ['application/vnd.docker.ai.license', 'doc'],
    ['application/vnd.dev.sigstore.bundle.v0.3+json', 'signature'],
    ['text/plain', 'doc'],
  ])(
    'reads %s layers (claimed role %s) like any other: a pickle there is pickle',
    async (mediaType, role) => {
      const { files, others } = await classify([{ content: pickle(2), mediaType }]);
      expect(files.map((f) => f.format)).toEqual(['pickle']);
      expect(others[0]!.role).toBe(role);
    },
  );

  it.each([
    ['application/vnd.cncf.model.weight.v1.raw'],
    ['application/vnd.cncf.model.weight.v1.tar'],
    ['application/vnd.kitops.modelkit.modelpart.v1.tar'],
    ['application/vnd.docker.ai.mmproj'],
    ['application/octet-stream'],
    ['application/vnd.oci.image.layer.v1.tar'],
    ['application/vnd.example.unknown'],
  ])('reads %s layers as weights', async (mediaType) => {
    expect((await one({ content: pickle(2), mediaType })).format).toBe('pickle');
  });

  it('uses the ModelPack filepath annotation as the name', async () => {
    const f = await one({ name: 'sub/model.safetensors', content: bytes('nope'), filepathAnnotation: true });
    expect(f.file).toBe('sub/model.safetensors');
    expect(f.contradicts).toBe('name sub/model.safetensors claims safetensors');
  });

  it('takes the ModelPack model config format as a media type hint', async () => {
    const config = {
      mediaType: 'application/vnd.cncf.model.config.v1+json',
      content: bytes(JSON.stringify({ config: { format: 'onnx' } })),
    };
    const e = artifact({
      config,
      files: [{ name: 'w', content: bytes('????'), mediaType: 'application/vnd.cncf.model.weight.v1.raw' }],
    });
    const f = (await classifyArtifact(e, { sniff: true }, signal())).files[0]!;
    expect(f.hint).toMatchObject({
      format: 'onnx',
      source: 'mediaType',
      evidence: 'model config format "onnx"',
    });
    expect(f.contradicts).toBe('model config format "onnx" claims onnx');
  });

  it('classifies by media type and name only, with no I/O, when the policy allows every format', async () => {
    const files: FileSpec[] = [
      { name: 'model', content: pickle(2), mediaType: 'application/vnd.docker.ai.gguf.v3' },
      { name: 'model.safetensors', content: pickle(2) },
      { name: 'blob', content: pickle(2) },
    ];
    const e = artifact({ files });
    const r = await checkFormats(e, ADMIT_ALL, signal());
    expect(r.failures).toEqual([]);
    expect(r.report.bytesRead).toBe(0);
    expect((e.reader as MemoryReader).bytesRead).toBe(0);
    const got = (r.report.files as FileFormat[]).map((f) => [f.format, f.decidedBy]);
    expect(got).toEqual([
      ['gguf', 'mediaType'],
      ['safetensors', 'name'],
      ['unknown', 'none'],
    ]);
  });

  it('classifies every platform manifest of an index', async () => {
    const reader = new MemoryReader();
    const a = artifact({ reader, files: [{ name: 'a.safetensors', content: safetensors() }] });
    const b = artifact({ reader, files: [{ name: 'b.pkl', content: pickle(2) }] });
    const e: ArtifactEvidence = {
      ...a,
      manifest: undefined,
      children: [
        { descriptor: { mediaType: a.mediaType, digest: a.digest, size: 1 }, manifest: a.manifest! },
        { descriptor: { mediaType: b.mediaType, digest: b.digest, size: 1 }, manifest: b.manifest! },
      ],
      layers: [...a.layers, ...b.layers],
    };
    const r = await checkFormats(e, DEFAULT, signal());
    expect((r.report.files as FileFormat[]).map((f) => f.format)).toEqual(['safetensors', 'pickle']);
    expect(r.failures.map((f) => f.code)).toEqual(['FORMAT_DENIED']);
  });
});

describe('policy', () => {
  const e = () =>
    artifact({
      files: [
        { name: 'a.safetensors', content: safetensors() },
        { name: 'b.onnx', content: onnx() },
        { name: 'c.pt', content: pytorchZip() },
        { name: 'd.dat', content: OPAQUE },
      ],
    });
  const refused = (r: { failures: readonly { message: string }[] }) =>
    r.failures.map((f) => f.message.match(/^file (\S+)/)?.[1]);

  it('refuses pytorch-zip and unknown when formats is absent (fail closed)', async () => {
    const r = await checkFormats(e(), DEFAULT, signal());
    expect(refused(r)).toEqual(['c.pt', 'd.dat']);
    expect(r.failures[0]!.message).toMatch(/is pytorch-zip \(detected by its content/);
    expect(r.failures[1]!.message).toMatch(/is unknown .*the default formats rule admits only/);
  });

  it('applies formats.deny, and a deny-only rule still refuses unknown', async () => {
    const r = await checkFormats(e(), policy({ formats: { deny: ['onnx'] } }), signal());
    expect(refused(r)).toEqual(['b.onnx', 'd.dat']);
    expect(r.failures[1]!.message).toMatch(/a deny-only formats rule still refuses unknown files/);
  });

  it('applies formats.allow, which can admit unknown', async () => {
    const r = await checkFormats(e(), policy({ formats: { allow: ['safetensors', 'onnx'] } }), signal());
    expect(refused(r)).toEqual(['c.pt', 'd.dat']);
    expect(r.failures[1]!.message).toMatch(/the policy allows only safetensors, onnx/);
    const withUnknown = policy({ formats: { allow: ['safetensors', 'onnx', 'unknown'] } });
    expect(refused(await checkFormats(e(), withUnknown, signal()))).toEqual(['c.pt']);
  });

  it('refuses what it could not read within the budget', async () => {
    const st = (v: number) => safetensors({ w: f32(new Array(2000).fill(v)) });
    const big = artifact({
      files: [
        { name: 'a.safetensors', content: st(1) },
        { name: 'b.safetensors', content: st(2) },
      ],
    });
    const r = await formatCheck({ budgetBytes: 4096 + 100, concurrency: 1, verifiedBlobBytes: 0 })(
      big,
      DEFAULT,
      signal(),
    );
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.message).toMatch(/read budget of 4196 bytes is spent/);
  });

  it('keeps the bytes read for a 2 GiB safetensors file small', async () => {
    const r = await checkFormats(
      artifact({ files: [{ name: 'model.safetensors', content: sparseSafetensors(2 * 1024 ** 3) }] }),
      DEFAULT,
      signal(),
    );
    expect(r.failures).toEqual([]);
    expect(r.report.bytesRead).toBeLessThanOrEqual(4096);
    expect(r.report.rangeTrust).toMatch(/not digest-checked/);
    expect((r.report.files as FileFormat[])[0]!.verified).toBe(false);
  });
});

describe('reads', () => {
  it('reads a blob once however many names it has', async () => {
    const content = pickle(2);
    const { files, e } = await classify([
      { name: 'a.safetensors', content },
      { name: 'b.gguf', content },
    ]);
    expect(files.map((f) => [f.file, f.format, f.contradicts])).toEqual([
      ['a.safetensors', 'pickle', 'name a.safetensors claims safetensors'],
      ['b.gguf', 'pickle', 'name b.gguf claims gguf'],
    ]);
    expect((e.reader as MemoryReader).blobReads).toHaveLength(1);
  });
});
