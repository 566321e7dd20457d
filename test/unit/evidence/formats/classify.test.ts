// Issue 10, classes 2, 3 and 6 and the fail-closed default: every byte that can reach a loader is
// classified by its content whatever it claims, the most dangerous reading wins, small blobs are read whole
// (digest-checked), and the default policy admits only what was positively identified as data.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkFormats, formatCheck } from '../../../../src/evidence/formats/index.ts';
import type { FileFormat } from '../../../../src/evidence/formats/types.ts';
import type { EvidenceReader } from '../../../../src/evidence/types.ts';
import type { Descriptor } from '../../../../src/oci/types.ts';
import {
  bytes,
  concat,
  gguf,
  hdf5,
  npy,
  pickle,
  pickle0Exploit,
  safetensors,
  tar,
  zip,
} from '../builders.ts';
import { artifact, type FileSpec, MemoryReader, policy, signal } from '../support.ts';

const DEFAULT = policy();

async function check(files: FileSpec[], p = DEFAULT, config?: { mediaType: string; content: Uint8Array }) {
  const e = artifact({ files, ...(config ? { config } : {}) });
  const r = await checkFormats(e, p, signal());
  return { r, e, files: r.report.files as FileFormat[] };
}

/** The (file, format) of every refused file, and the codes. */
function refusals(r: { failures: readonly { code: string; message: string }[] }) {
  return r.failures.map((f) => f.code);
}

const formats = (files: readonly FileFormat[]) => files.map((f) => [f.file, f.format]);

describe('claims exempt nothing: every layer is read', () => {
  it.each([
    ['a CycloneDX ML-BOM', 'mlbom.json', 'application/vnd.cyclonedx+json'],
    ['a sigstore bundle', 'model.sigstore.json', 'application/vnd.dev.sigstore.bundle.v0.3+json'],
    ['a DSSE envelope', 'att.json', 'application/vnd.dsse.envelope.v1+json'],
    ['a JSON config', 'config.json', 'application/json'],
    ['a KitOps config', 'Kitfile', 'application/vnd.kitops.modelkit.config.v1+json'],
    ['a licence', 'LICENSE', 'application/vnd.docker.ai.license'],
    ['plain text', 'notes.txt', 'text/plain'],
  ])('refuses a pickle under %s media type', async (_, name, mediaType) => {
    const { r, files } = await check([{ name, content: pickle0Exploit(), mediaType }]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    expect(formats(files)).toEqual([[name, 'pickle']]);
    expect(r.failures[0]!.message).toMatch(new RegExp(`^file ${name.replace('.', '\\.')} .* is pickle`));
  });

  it('admits a real JSON bundle under the sigstore media type (it is JSON)', async () => {
    const bundle = bytes(JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }));
    const { r, files } = await check([
      { name: 'model.sig', content: bundle, mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
    ]);
    expect(r.failures).toEqual([]);
    expect(formats(files)).toEqual([['model.sig', 'json']]);
  });

  it('refuses a tar titled README.md that holds a pickle', async () => {
    const { r, files } = await check([
      { name: 'README.md', content: tar([{ name: 'weights', data: pickle(4) }]), mediaType: 'text/markdown' },
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    expect(formats(files)).toEqual([['README.md:weights', 'pickle']]);
  });

  it('refuses a pickle named config.json inside a tar', async () => {
    const { r, files } = await check([
      {
        content: tar([
          { name: 'model/config.json', data: pickle(2) },
          { name: 'model/model.safetensors', data: safetensors() },
        ]),
        mediaType: 'application/vnd.cncf.model.weight.v1.tar',
        name: 'model',
      },
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    expect(formats(files)).toEqual([
      ['model:model/config.json', 'pickle'],
      ['model:model/model.safetensors', 'safetensors'],
    ]);
  });

  it('refuses pickles in KitOps dataset and code layers, naming them by their Kitfile paths', async () => {
    const kitfile = {
      manifestVersion: '1.0.0',
      model: { path: 'model.safetensors' },
      code: [{ path: 'src' }],
      datasets: [{ name: 'train', path: 'data/train' }],
    };
    const { r, files } = await check(
      [
        { content: safetensors(), mediaType: 'application/vnd.kitops.modelkit.model.v1.tar' },
        {
          content: tar([{ name: 'src/helper.txt', data: pickle0Exploit() }]),
          mediaType: 'application/vnd.kitops.modelkit.code.v1.tar',
        },
        {
          content: tar([{ name: 'data/train/part-0', data: pickle(5) }]),
          mediaType: 'application/vnd.kitops.modelkit.dataset.v1.tar',
        },
      ],
      DEFAULT,
      {
        mediaType: 'application/vnd.kitops.modelkit.config.v1+json',
        content: bytes(JSON.stringify(kitfile)),
      },
    );
    expect(refusals(r)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED']);
    expect(formats(files)).toEqual([
      ['model.safetensors (Kitfile model)', 'safetensors'],
      ['src (Kitfile code):src/helper.txt', 'pickle'],
      ['data/train (Kitfile datasets):data/train/part-0', 'pickle'],
    ]);
    expect(r.failures[1]!.message).toMatch(/^file data\/train \(Kitfile datasets\):data\/train\/part-0 /);
  });

  it('names a layer by the org.cnai.model.filepath annotation that modctl writes', async () => {
    const reader = new MemoryReader();
    const e = artifact({ reader, files: [] });
    const layer = reader.add(pickle(2), 'application/vnd.cnai.model.weight.v1.raw', {
      'org.cnai.model.filepath': 'weights/model.safetensors',
    });
    const r = await checkFormats(
      { ...e, layers: [layer], manifest: { ...e.manifest!, layers: [layer] } },
      DEFAULT,
      signal(),
    );
    expect(r.failures[0]!.message).toMatch(/^file weights\/model\.safetensors .* is pickle/);
  });
});

describe('the most dangerous reading wins', () => {
  const ggufPickle = () =>
    // 'G' (BINFLOAT) eats the next 8 bytes, "GUF" + version 3 + one byte; then a protocol 0 os.system call.
    concat(bytes('GGUF'), new Uint8Array([3, 0, 0, 0, 0]), pickle0Exploit());

  it.each([
    ['GGUF', gguf()],
    ['HDF5', hdf5()],
    ['tar', tar([{ name: 'x.safetensors', data: safetensors() }])],
    ['safetensors', safetensors()],
    ['NumPy', npy()],
  ])('calls a .pkl file pickle although its first bytes look like %s', async (_, content) => {
    const { r, files } = await check([{ name: 'model.pkl', content }]);
    expect(files[0]).toMatchObject({ file: 'model.pkl', format: 'pickle', decidedBy: 'name' });
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
  });

  it.each([['pytorch_model.bin'], ['model.pt'], ['model.ckpt'], ['model.joblib'], ['model.dill']])(
    'calls %s a pickle-family file whatever its bytes',
    async (name) => {
      const { r, files } = await check([{ name, content: safetensors() }]);
      expect(['pickle', 'pytorch-zip']).toContain(files[0]!.format);
      expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    },
  );

  it('calls a GGUF-looking file that is also a pickle stream reaching code pickle, under a safe name', async () => {
    const { r, files } = await check([{ name: 'model.gguf', content: ggufPickle() }]);
    expect(files[0]).toMatchObject({ format: 'pickle', decidedBy: 'content' });
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
  });

  it('calls a tar layer whose first header is also a pickle stream pickle (and still reads its members)', async () => {
    const poly = tar([{ name: "cos\nsystem\n(S'id'\ntR.", data: safetensors() }]);
    const { r, files } = await check([
      { name: 'model', content: poly, mediaType: 'application/vnd.oci.image.layer.v1.tar' },
    ]);
    expect(files.map((f) => f.format)).toEqual(['pickle', 'safetensors']);
    expect(files[0]).toMatchObject({ file: 'model', decidedBy: 'content' });
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
  });

  it('does not call a tar whose first member is config.json a pickle (its GLOBAL names no module)', async () => {
    // 'c' is GLOBAL: the walk reads "onfig.json" and the header's NUL padding as a module name, which
    // CPython's import refuses; kit and modctl write such tars for every config layer.
    const kit = tar([
      { name: 'config.json', data: bytes('{\n  "architectures": ["X"]\n}\n') },
      { name: 'index.json', data: bytes('{}\n') },
    ]);
    const { r, files } = await check([
      { content: kit, mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar' },
    ]);
    expect(r.failures).toEqual([]);
    expect(files.map((f) => [f.member, f.format])).toEqual([
      ['config.json', 'json'],
      ['index.json', 'json'],
    ]);
    // A module name without the NUL is an import: pickle.
    const real = await check([{ name: 'x', content: bytes("cos\nsystem\n(S'id'\ntR.") }]);
    expect(real.files[0]!.format).toBe('pickle');
  });

  it('calls an HDF5 file whose user block is a pickle pickle', async () => {
    const poly = concat(pickle0Exploit(), new Uint8Array(512 - pickle0Exploit().length), hdf5().subarray(0));
    const { files } = await check([{ name: 'model.h5', content: poly }]);
    expect(files[0]).toMatchObject({ format: 'pickle', decidedBy: 'content' });
  });

  it('refuses pickle bytes named model.safetensors under a ModelPack weight media type', async () => {
    const { r, files } = await check([
      {
        name: 'model.safetensors',
        content: pickle(4),
        mediaType: 'application/vnd.cncf.model.weight.v1.raw',
      },
    ]);
    expect(files[0]).toMatchObject({ format: 'pickle', decidedBy: 'content' });
    expect(files[0]!.contradicts).toBe('name model.safetensors claims safetensors');
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
  });

  it('calls a Keras HDF5 file with a Lambda layer keras-lambda, and a .keras zip with one too', async () => {
    const config =
      '{"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}';
    const h5 = concat(hdf5(), bytes(`model_config${config}`));
    const keras = zip([
      { name: 'metadata.json', data: bytes('{}') },
      { name: 'config.json', data: bytes(config) },
      { name: 'model.weights.h5', data: hdf5() },
    ]);
    const { r, files } = await check([
      { name: 'model.h5', content: h5 },
      { name: 'model.keras', content: keras },
    ]);
    expect(formats(files)).toEqual([
      ['model.h5', 'keras-lambda'],
      ['model.keras', 'keras-lambda'],
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED']);
    const plain = await check(
      [{ name: 'model.h5', content: hdf5() }],
      policy({ formats: { allow: ['keras-h5'] } }),
    );
    expect(plain.r.failures).toEqual([]);
  });

  it('calls a TorchScript archive torchscript', async () => {
    const ts = zip([
      { name: 'm/code/__torch__/model.py', data: bytes('def forward(self, x):\n  return x\n') },
      { name: 'm/constants.pkl', data: pickle(2) },
      { name: 'm/data.pkl', data: pickle(2) },
    ]);
    const { files } = await check([{ name: 'model', content: ts }]);
    expect(files[0]!.format).toBe('torchscript');
  });

  it('calls a .npy whose header names an object dtype in double quotes pickle (numpy reads a Python literal)', async () => {
    let header = '{"descr": "|O", "fortran_order": False, "shape": (1,), }';
    header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(header.length);
    const npyQ = concat(
      new Uint8Array([0x93]),
      bytes('NUMPY'),
      new Uint8Array([1, 0]),
      len,
      bytes(header),
      pickle(3),
    );
    const { r, files } = await check([{ name: 'dquote.npy', content: npyQ }]);
    expect(files[0]).toMatchObject({ format: 'pickle', decidedBy: 'content' });
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
  });

  it('calls an npz with an object array member pickle', async () => {
    const npz = zip([
      { name: 'a.npy', data: npy('<f4') },
      { name: 'b.npy', data: npy('|O') },
    ]);
    const { files } = await check([{ name: 'arrays.npz', content: npz }]);
    expect(files[0]!.format).toBe('pickle');
  });

  it('finds a pickle inside a zip under a non-pickle member name', async () => {
    const z = zip([
      { name: 'weights/readme.txt', data: bytes('hello') },
      { name: 'weights/tensor', data: pickle0Exploit() },
    ]);
    const { r, files } = await check([{ name: 'bundle.zip', content: z }]);
    expect(files.map((f) => f.format)).toContain('pickle');
    expect(refusals(r)).toContain('FORMAT_DENIED');
  });

  it('refuses 7z and RAR archives whose members it cannot read, whatever the policy allows', async () => {
    const sevenZip = concat(new Uint8Array([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), new Uint8Array(32));
    const rar = concat(bytes('Rar!'), new Uint8Array([0x1a, 0x07, 0x01, 0x00]), new Uint8Array(32));
    const all = policy({ formats: { allow: ['archive', 'unknown', 'safetensors'] } });
    const { r, files } = await check(
      [
        { name: 'model.7z', content: sevenZip },
        { name: 'model.rar', content: rar },
      ],
      all,
    );
    expect(files.map((f) => [f.format, f.inspected])).toEqual([
      ['archive', false],
      ['archive', false],
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED']);
    expect(r.failures[0]!.message).toMatch(/7z archive/);
  });

  it('calls Python source and native libraries code: refused by default, admitted when allowed', async () => {
    const elf = concat(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), new Uint8Array(57));
    const files: FileSpec[] = [
      { name: 'modeling_x.py', content: bytes('import os\nos.system("id")\n') },
      { name: 'libops', content: elf },
    ];
    const { r, files: got } = await check(files);
    expect(formats(got)).toEqual([
      ['modeling_x.py', 'code'],
      ['libops', 'code'],
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED']);
    const withCode = policy({ formats: { allow: ['safetensors', 'code'] } });
    expect((await check(files, withCode)).r.failures).toEqual([]);
  });

  it('calls YAML with a Python tag code', async () => {
    const { r, files } = await check([
      { name: 'config.yaml', content: bytes('model: !!python/object/apply:os.system ["id"]\n') },
    ]);
    expect(files[0]!.format).toBe('code');
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
  });
});

describe('compressed layers and nesting', () => {
  it('admits a safe safetensors model in a tar+gzip layer (kit --compression gzip)', async () => {
    const layer = gzipSync(
      tar([
        { name: 'model/model.safetensors', data: safetensors() },
        { name: 'model/config.json', data: bytes('{"architectures": ["X"]}') },
      ]),
    );
    const { r, files } = await check([
      { content: layer, mediaType: 'application/vnd.kitops.modelkit.model.v1.tar+gzip' },
    ]);
    expect(r.failures).toEqual([]);
    expect(files.map((f) => [f.member, f.format])).toEqual([
      ['model/model.safetensors', 'safetensors'],
      ['model/config.json', 'json'],
    ]);
  });

  it('refuses a pickle in a tar+gzip layer', async () => {
    const layer = gzipSync(tar([{ name: 'model/model.safetensors', data: pickle(4) }]));
    const { r, files } = await check([
      { content: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    expect(files[0]).toMatchObject({ member: 'model/model.safetensors', format: 'pickle' });
  });

  it('judges a gzip file by what it inflates to (joblib-style compression)', async () => {
    const { files } = await check([{ name: 'model.gz', content: gzipSync(pickle(4)) }]);
    expect(files[0]!.format).toBe('pickle');
    expect(files[0]!.evidence).toMatch(/^gzip-compressed: /);
  });

  it('refuses what is nested deeper than the depth budget', async () => {
    let inner: Uint8Array = safetensors();
    for (let i = 0; i < 6; i++) inner = tar([{ name: `level${i}`, data: inner }]);
    const { r, files } = await check([{ name: 'deep', content: inner }]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    expect(files.at(-1)!.evidence).toMatch(/nested deeper than 4/);
  });

  it('refuses what the read budget does not cover', async () => {
    const e = artifact({
      files: [
        { name: 'a.safetensors', content: safetensors() },
        { name: 'b.txt', content: bytes('x'.repeat(10_000)) },
      ],
    });
    const r = await formatCheck({ budgetBytes: 2000, concurrency: 1 })(e, DEFAULT, signal());
    expect(refusals(r)).toContain('FORMAT_DENIED');
    expect((r.report.files as FileFormat[]).some((f) => !f.inspected)).toBe(true);
  });
});

describe('digest-checked bytes', () => {
  /** A registry that serves `ranged` to Range requests and `whole` to full GETs of the same digest. */
  function splitReader(ranged: Uint8Array, whole: Uint8Array): EvidenceReader & { wholeReads: number } {
    const r = {
      wholeReads: 0,
      async blob(_d: Descriptor, maxBytes: number) {
        if (whole.length > maxBytes) throw new Error('over cap');
        r.wholeReads++;
        return whole;
      },
      async range(_d: Descriptor, start: number, end: number) {
        return ranged.slice(start, end + 1);
      },
      async manifest(): Promise<never> {
        throw new Error('no manifests');
      },
    };
    return r;
  }

  it('reads a small blob whole, so a registry serving safetensors to ranges and a pickle to the GET is caught', async () => {
    const honest = artifact({ files: [{ name: 'model.safetensors', content: safetensors() }] });
    const reader = splitReader(safetensors(), pickle(4));
    const e = { ...honest, reader };
    const r = await checkFormats(e, DEFAULT, signal());
    expect(reader.wholeReads).toBe(1);
    expect(refusals(r)).toEqual(['FORMAT_DENIED']);
    expect((r.report.files as FileFormat[])[0]).toMatchObject({ format: 'pickle', verified: true });
  });

  it('propagates a digest mismatch from the whole-blob read', async () => {
    const honest = artifact({ files: [{ name: 'model.safetensors', content: safetensors() }] });
    const reader: EvidenceReader = {
      ...honest.reader,
      blob: async () => {
        throw new Error('blob digest mismatch');
      },
      range: honest.reader.range.bind(honest.reader),
      manifest: honest.reader.manifest.bind(honest.reader),
    };
    await expect(checkFormats({ ...honest, reader }, DEFAULT, signal())).rejects.toThrow(/digest mismatch/);
  });

  it('reports a file above the bound as read by range, not verified, with the residual trust stated', async () => {
    const honest = artifact({ files: [{ name: 'model.safetensors', content: safetensors() }] });
    const reader = splitReader(safetensors(), pickle(4));
    const r = await formatCheck({ verifiedBlobBytes: 0 })({ ...honest, reader }, DEFAULT, signal());
    expect(reader.wholeReads).toBe(0);
    expect((r.report.files as FileFormat[])[0]).toMatchObject({ format: 'safetensors', verified: false });
    expect(r.report.rangeTrust).toMatch(/not digest-checked/);
  });
});

describe('the fail-closed default', () => {
  const sentencePiece = () => {
    // ModelProto { pieces: [{piece: "<unk>", score: 0, type: 2}, {piece: "a", score: -1}] }
    const piece = (s: string, type?: number) =>
      concat(
        new Uint8Array([0x0a, s.length]),
        bytes(s),
        new Uint8Array([0x15, 0, 0, 0x80, 0xbf]),
        type === undefined ? new Uint8Array(0) : new Uint8Array([0x18, type]),
      );
    const p1 = piece('<unk>', 2);
    const p2 = piece('a');
    return concat(new Uint8Array([0x0a, p1.length]), p1, new Uint8Array([0x0a, p2.length]), p2);
  };

  it('admits safetensors with config.json, tokenizer.json, README.md and the other harmless files', async () => {
    const png = concat(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), new Uint8Array(16));
    const { r, files } = await check([
      { name: 'model.safetensors', content: safetensors() },
      { name: 'config.json', content: bytes('{"model_type": "llama"}') },
      { name: 'tokenizer.json', content: bytes('{"version": "1.0", "model": {"type": "BPE"}}') },
      { name: 'README.md', content: bytes('# Model\n\nA model card.\n') },
      { name: 'LICENSE', content: bytes('Apache License\nVersion 2.0\n') },
      { name: 'chat_template.jinja', content: bytes('{% for m in messages %}{{ m.content }}{% endfor %}') },
      { name: 'tokenizer.model', content: sentencePiece() },
      { name: 'cl100k_base.tiktoken', content: bytes('IQ== 0\nIg== 1\n') },
      { name: 'merges.txt', content: bytes('#version: 0.2\nĠ t\n') },
      { name: 'assets/logo.png', content: png },
      { name: 'model.gguf', content: gguf() },
    ]);
    expect(r.failures).toEqual([]);
    expect(files.map((f) => f.format)).toEqual([
      'safetensors',
      'json',
      'json',
      'text',
      'text',
      'text',
      'tokenizer',
      'tokenizer',
      'text',
      'image',
      'gguf',
    ]);
  });

  it('admits an Ollama-style manifest and a Docker model layout (GGUF, template, params, licence)', async () => {
    const ollama = await check([
      { content: gguf(), mediaType: 'application/vnd.ollama.image.model' },
      { content: bytes('{{ .Prompt }}'), mediaType: 'application/vnd.ollama.image.template' },
      { content: bytes('{"stop": ["<|end|>"]}'), mediaType: 'application/vnd.ollama.image.params' },
      { content: bytes('MIT License\n'), mediaType: 'application/vnd.ollama.image.license' },
    ]);
    expect(ollama.r.failures).toEqual([]);
    expect(ollama.files.map((f) => f.format)).toEqual(['gguf', 'text', 'json', 'text']);
    const docker = await check([
      { content: gguf(), mediaType: 'application/vnd.docker.ai.gguf.v3' },
      { content: bytes('Apache License 2.0\n'), mediaType: 'application/vnd.docker.ai.license' },
    ]);
    expect(docker.r.failures).toEqual([]);
  });

  it('refuses unknown, pickle, pytorch-zip and archives, each named in its message', async () => {
    const { r, files } = await check([
      { name: 'blob', content: new Uint8Array([1, 2, 3, 0xff, 0xfe, 0, 7]) },
      { name: 'w.pkl', content: pickle(2) },
      { name: 'x.zip', content: zip([{ name: 'a.safetensors', data: safetensors() }]) },
    ]);
    expect(formats(files)).toEqual([
      ['blob', 'unknown'],
      ['w.pkl', 'pickle'],
      ['x.zip', 'archive'],
      ['x.zip:a.safetensors', 'safetensors'],
    ]);
    expect(refusals(r)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED', 'FORMAT_DENIED']);
    expect(r.failures.map((f) => /is (\S+) \(/.exec(f.message)?.[1])).toEqual([
      'unknown',
      'pickle',
      'archive',
    ]);
    for (const f of r.failures)
      expect(f.message).toMatch(/the default formats rule admits only safetensors, gguf/);
  });

  it('widens the default only through formats.allow; a deny list still refuses unknown', async () => {
    const files: FileSpec[] = [
      { name: 'blob', content: new Uint8Array([1, 2, 3, 0xff, 0xfe, 0, 7]) },
      { name: 'c.pt', content: safetensors() },
    ];
    const denyPickle = await check(files, policy({ formats: { deny: ['pickle'] } }));
    // Denying pickle also denies pytorch-zip (a zip of pickles), and unknown stays refused.
    expect(refusals(denyPickle.r)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED']);
    const allowUnknown = await check(files, policy({ formats: { allow: ['unknown', 'pytorch-zip'] } }));
    expect(allowUnknown.r.failures).toEqual([]);
  });
});

describe('ambiguous archives', () => {
  it('refuses a zip that two readers would list differently with ARTIFACT_AMBIGUOUS', async () => {
    // Two members of one name: zipfile's namelist keeps both, its getinfo (and numpy's NpzFile) the last,
    // an extractor writes the first and then overwrites it.
    const twice = zip([
      { name: 'w.npy', data: npy() },
      { name: 'w.npy', data: npy('|O') },
    ]);
    const { r } = await check([{ name: 'model.npz', content: twice }]);
    expect(refusals(r)).toEqual(['ARTIFACT_AMBIGUOUS']);
    expect(r.failures[0]!.message).toMatch(/^file model\.npz .*two readers would see different files/);
  });
});
