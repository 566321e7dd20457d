// Format classification and ML-BOM checks against a real registry, on files made by real producers
// (Python's pickle and zipfile, Hugging Face's safetensors writer, tarfile; the CycloneDX JavaScript
// library) and pushed with the real oras CLI, under honest and under lying media types and names.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFormats, formatCheck } from '../../../src/evidence/formats/index.ts';
import type { FileFormat } from '../../../src/evidence/formats/types.ts';
import { gatherEvidence } from '../../../src/evidence/gather.ts';
import { checkMlBom } from '../../../src/evidence/mlbom/index.ts';
import type { ArtifactEvidence } from '../../../src/evidence/types.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import { RegistryClient } from '../../../src/oci/index.ts';
import { MODEL_FORMATS } from '../../../src/policy/schema.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { type RegistryKind, startRegistry, type TestRegistry } from '../../support/registries.ts';
import { onnx } from '../../unit/evidence/builders.ts';
import { policy } from '../../unit/evidence/support.ts';
import { libraryBom } from './boms.ts';
import { python } from './python.ts';

const CDX = 'application/vnd.cyclonedx+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const MAKE_MODELS = fileURLToPath(new URL('./make_models.py', import.meta.url));
const signal = () => AbortSignal.timeout(30_000);

const DEFAULT = policy();
const ADMIT_ALL = policy({ formats: { allow: [...MODEL_FORMATS] } });
const SAFETENSORS_ONLY = policy({ formats: { allow: ['safetensors'] } });
const MLBOM = policy({ mlbom: { required: true, requireHashMatch: true } });

let dir: string;
const file = async (name: string) => new Uint8Array(await readFile(join(dir, name)));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-evidence-models-'));
  await python(MAKE_MODELS, [dir]);
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(['ggcr', 'distribution'] as RegistryKind[])('evidence on %s', (kind) => {
  let reg: TestRegistry;
  let oras: Oras;
  let client: RegistryClient;
  const evidence = (p: Pushed): Promise<ArtifactEvidence> =>
    gatherEvidence(
      client,
      {
        registry: reg.host,
        repository: p.reference.split('@')[0]!.slice(reg.host.length + 1),
        digest: p.digest,
      },
      signal(),
    );
  const formatsOf = (r: { report: Record<string, unknown> }) =>
    (r.report.files as FileFormat[]).map((f) => [f.file, f.format, f.decidedBy]);

  beforeAll(async () => {
    reg = await startRegistry(kind);
    oras = new Oras({ host: reg.host });
    client = new RegistryClient({ insecureRegistries: [reg.host], maxRetries: 2, retryBaseMs: 20 });
  });

  afterAll(async () => {
    await client?.close();
    await oras?.close();
    await reg?.stop();
  });

  describe('formats', () => {
    it('classifies honest files by their content and admits them', async () => {
      const p = await oras.push('models/honest:v1', [
        {
          name: 'model.safetensors',
          content: await file('model.safetensors'),
          mediaType: 'application/vnd.docker.ai.safetensors',
        },
        {
          name: 'model.gguf',
          content: await file('model.gguf'),
          mediaType: 'application/vnd.docker.ai.gguf.v3',
        },
        { name: 'model.onnx', content: onnx() },
        { name: 'array.npy', content: await file('array.npy') },
        { name: 'config.json', content: '{"arch":"tiny"}', mediaType: 'application/json' },
        { name: 'README.md', content: '# tiny' },
      ]);
      const r = await checkFormats(await evidence(p), DEFAULT, signal());
      expect(r.failures).toEqual([]);
      expect(formatsOf(r)).toEqual([
        ['model.safetensors', 'safetensors', 'content'],
        ['model.gguf', 'gguf', 'content'],
        ['model.onnx', 'onnx', 'content'],
        ['array.npy', 'numpy', 'content'],
        ['config.json', 'json', 'content'],
        ['README.md', 'text', 'content'],
      ]);
      // Their claimed roles are reported; they exempted nothing from being read.
      expect((r.report.otherFiles as { file: string }[]).map((o) => o.file)).toEqual([
        'config.json',
        'README.md',
      ]);
    });

    it('classifies pickles under lying media types and names as pickle and refuses them', async () => {
      const p = await oras.push('models/lying:v1', [
        {
          name: 'model.safetensors',
          content: await file('state.pkl'),
          mediaType: 'application/vnd.docker.ai.safetensors',
        },
        {
          name: 'model.gguf',
          content: await file('exploit-p0.pkl'),
          mediaType: 'application/vnd.docker.ai.gguf.v3',
        },
      ]);
      const r = await checkFormats(await evidence(p), DEFAULT, signal());
      expect(formatsOf(r)).toEqual([
        ['model.safetensors', 'pickle', 'content'],
        ['model.gguf', 'pickle', 'content'],
      ]);
      expect(r.failures.map((f) => f.code)).toEqual(['FORMAT_DENIED', 'FORMAT_DENIED']);
      expect(r.failures[0]!.message).toMatch(
        /^file model\.safetensors .* is pickle \(detected by its content: .* although its media type application\/vnd\.docker\.ai\.safetensors claims safetensors\); the default formats rule admits only safetensors, /,
      );
      expect(r.failures[1]!.message).toMatch(/pickle protocol 0 opcode stream/);
    });

    it('refuses a safetensors header length larger than the blob where only safetensors is allowed', async () => {
      const p = await oras.push('models/oversized:v1', [
        { name: 'model.safetensors', content: await file('oversized-header.safetensors') },
      ]);
      const e = await evidence(p);
      // The default refuses what it cannot identify: unknown.
      expect((await checkFormats(e, DEFAULT, signal())).failures.map((f) => f.code)).toEqual([
        'FORMAT_DENIED',
      ]);
      const r = await checkFormats(e, SAFETENSORS_ONLY, signal());
      expect(r.failures).toHaveLength(1);
      expect(r.failures[0]!.message).toMatch(
        /is unknown .*header length 12800 is larger than the blob \(128 bytes\).* the policy allows only safetensors/,
      );
    });

    it('finds a data.pkl hidden in a subfolder from the zip central directory, reading a few KiB', async () => {
      const hidden = await file('hidden.bin');
      const p = await oras.push('models/hidden:v1', [{ name: 'weights.bin', content: hidden }]);
      // Read by range (as a file above the whole-read bound is): the end records and the directory only.
      const r = await formatCheck({ verifiedBlobBytes: 0 })(await evidence(p), DEFAULT, signal());
      expect(formatsOf(r)).toEqual([['weights.bin', 'pytorch-zip', 'content']]);
      expect(r.failures[0]!.message).toMatch(/pickle member payload\/deep\/nested\/data\.pkl/);
      expect(r.report.bytesRead).toBeLessThan(96 * 1024);
      expect(hidden.length).toBeGreaterThan(200_000);
    });

    it('refuses a PyTorch checkpoint by default and reads nothing when the policy admits every format', async () => {
      const p = await oras.push('models/torch:v1', [{ name: 'model.pt', content: await file('model.pt') }]);
      const e = await evidence(p);
      const denied = await checkFormats(e, DEFAULT, signal());
      expect(denied.failures.map((f) => f.code)).toEqual(['FORMAT_DENIED']);
      expect(denied.failures[0]!.message).toMatch(/is pytorch-zip .*archive\/data\.pkl/);
      const admitted = await checkFormats(e, ADMIT_ALL, signal());
      expect(admitted.failures).toEqual([]);
      expect(admitted.report).toMatchObject({ contentRead: false, bytesRead: 0, requests: 0 });
      expect(formatsOf(admitted)).toEqual([['model.pt', 'pytorch-zip', 'name']]);
    });

    it('reads the members of a tarred layer by range', async () => {
      const p = await oras.push('models/tarred:v1', [
        {
          name: 'model.tar',
          content: await file('model.tar'),
          mediaType: 'application/vnd.kitops.modelkit.model.v1.tar',
        },
      ]);
      const r = await checkFormats(await evidence(p), DEFAULT, signal());
      expect(formatsOf(r)).toEqual([
        ['model.tar:model/config.json', 'json', 'content'],
        ['model.tar:model/model.safetensors', 'safetensors', 'content'],
        ['model.tar:model/extra/optimizer.bin', 'pickle', 'content'],
      ]);
      expect(r.failures).toHaveLength(1);
      expect(r.failures[0]!.message).toMatch(/^file model\.tar:model\/extra\/optimizer\.bin /);
    });

    it('inflates a gzipped layer and finds the pickle in the tar inside it', async () => {
      const p = await oras.push('models/gzipped:v1', [
        {
          name: 'model.tar.gz',
          content: await file('model.tar.gz'),
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        },
      ]);
      const r = await checkFormats(await evidence(p), DEFAULT, signal());
      expect(r.failures.map((f) => f.code)).toEqual(['FORMAT_DENIED']);
      expect(r.failures[0]!.message).toMatch(
        /^file model\.tar\.gz:model\.tar:model\/extra\/optimizer\.bin .* is pickle/,
      );
    });

    it("takes a ModelPack model config's format as a hint that the content overrules", async () => {
      const work = await mkdtemp(join(tmpdir(), 'mg-modelpack-'));
      try {
        await writeFile(
          join(work, 'config.json'),
          JSON.stringify({
            descriptor: { name: 'tiny' },
            config: { format: 'safetensors' },
            modelfs: { type: 'layers', diff_ids: [] },
          }),
        );
        await writeFile(join(work, 'model.safetensors'), await file('model.safetensors'));
        await writeFile(join(work, 'extra.safetensors'), await file('state.pkl'));
        await oras.run(
          [
            'push',
            `${reg.host}/models/modelpack:v1`,
            '--artifact-type',
            'application/vnd.cncf.model.manifest.v1+json',
            '--config',
            'config.json:application/vnd.cncf.model.config.v1+json',
            'model.safetensors:application/vnd.cncf.model.weight.v1.raw',
            'extra.safetensors:application/vnd.cncf.model.weight.v1.raw',
          ],
          work,
        );
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      const digest = (await oras.run(['resolve', `${reg.host}/models/modelpack:v1`])).trim();
      const e = await gatherEvidence(
        client,
        { registry: reg.host, repository: 'models/modelpack', digest },
        signal(),
      );
      const r = await checkFormats(e, DEFAULT, signal());
      const files = r.report.files as FileFormat[];
      expect(files.map((f) => [f.file, f.format, f.hint?.evidence])).toEqual([
        ['model.safetensors', 'safetensors', 'model config format "safetensors"'],
        ['extra.safetensors', 'pickle', 'model config format "safetensors"'],
      ]);
      expect(files[1]!.contradicts).toBe('model config format "safetensors" claims safetensors');
      expect(r.failures.map((f) => f.code)).toEqual(['FORMAT_DENIED']);
    });
  });

  describe('ML-BOM', () => {
    let model: Pushed;

    beforeAll(async () => {
      model = await oras.push('models/bom:v1', [
        { name: 'model.safetensors', content: await file('model.safetensors') },
      ]);
    });

    const attachBom = (target: Pushed, content: string) =>
      oras.attach(
        `${target.reference.split('@')[0]!.slice(reg.host.length + 1)}@${target.digest}`,
        [{ name: 'mlbom.json', content, mediaType: CDX }],
        {
          artifactType: CDX,
        },
      );

    it('accepts an attached ML-BOM whose model component carries the manifest digest', async () => {
      const m = await oras.push('models/bom-good:v1', [
        { name: 'model.safetensors', content: await file('model.safetensors') },
      ]);
      const att = await attachBom(
        m,
        libraryBom({ modelDigests: [m.digest], version: '1.0.0', license: 'Apache-2.0' }),
      );
      const e = await evidence(m);
      expect(e.referrers.map((r) => r.digest)).toContain(att.digest);
      const r = await checkMlBom()(e, MLBOM, signal());
      expect(r.failures).toEqual([]);
      expect(r.report.acceptedBy).toMatch(/^ML-BOM referrer sha256:.* \(mlbom\.json\)$/);
      const fields = await checkMlBom()(
        e,
        policy({
          mlbom: { required: true, requireHashMatch: true, requiredFields: ['version', 'licenses'] },
        }),
        signal(),
      );
      expect(fields.failures).toEqual([]);
      const missing = await checkMlBom()(
        e,
        policy({
          mlbom: {
            required: true,
            requireHashMatch: true,
            requiredFields: ['modelCard.modelParameters.datasets'],
          },
        }),
        signal(),
      );
      expect(missing.failures.map((f) => f.code)).toEqual(['MLBOM_INVALID']);
    });

    it("refuses an ML-BOM made for another model's hash", async () => {
      const other = await oras.push('models/bom-other:v1', [
        { name: 'model.safetensors', content: await file('array.npy') },
      ]);
      await attachBom(model, libraryBom({ modelDigests: [other.digest] }));
      const r = await checkMlBom()(await evidence(model), MLBOM, signal());
      expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISMATCH']);
      expect(r.failures[0]!.message).toContain(`the manifest digest ${model.digest}`);
    });

    it('refuses an ML-BOM that fails the CycloneDX 1.6 schema', async () => {
      const m = await oras.push('models/bom-invalid:v1', [
        { name: 'model.safetensors', content: await file('model.safetensors') },
      ]);
      const doc = JSON.parse(libraryBom({ modelDigests: [m.digest] }));
      doc.components[0].hashes[0].alg = 'SHA-257';
      await attachBom(m, JSON.stringify(doc));
      const r = await checkMlBom()(await evidence(m), MLBOM, signal());
      expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_INVALID']);
      expect(r.failures[0]!.message).toMatch(/\$\.components\[0\]\.hashes\[0\]\.alg must be one of "MD5"/);
    });

    it('accepts an ML-BOM layer naming the weight file digests (the seed layout: model, BOM, signature in one manifest)', async () => {
      const weights = await file('model.safetensors');
      const m = await oras.push('models/bom-layer:v1', [
        { name: 'model.safetensors', content: weights },
        {
          name: 'mlbom.json',
          content: libraryBom({ files: [{ name: 'model.safetensors', digest: digestOf(weights) }] }),
          mediaType: CDX,
        },
        { name: 'model.safetensors.sigstore.json', content: '{}', mediaType: BUNDLE },
      ]);
      const e = await evidence(m);
      const r = await checkMlBom()(e, MLBOM, signal());
      expect(r.failures).toEqual([]);
      expect((r.report.boms as { accepted?: { hashMatch?: string } }[])[0]!.accepted?.hashMatch).toBe(
        'weight-files',
      );
      // The seed layout: the BOM and the bundle are layers too, read and classified (JSON).
      const f = await checkFormats(e, DEFAULT, signal());
      expect(f.failures).toEqual([]);
      expect(formatsOf(f)).toEqual([
        ['model.safetensors', 'safetensors', 'content'],
        ['mlbom.json', 'json', 'content'],
        ['model.safetensors.sigstore.json', 'json', 'content'],
      ]);
    });

    it('refuses a model without an ML-BOM', async () => {
      const m = await oras.push('models/bom-none:v1', [
        { name: 'model.safetensors', content: await file('model.safetensors') },
      ]);
      const r = await checkMlBom()(await evidence(m), MLBOM, signal());
      expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISSING']);
    });
  });
});
