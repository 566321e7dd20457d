// Model artifacts laid out as the model packagers lay them out, pushed with the real oras CLI
// (`oras blob push`, `oras manifest push`): KitOps ModelKits (`kit pack`), CNCF ModelPack (`modctl
// build`), Ollama's manifests. `kit` and `modctl` are not served by the Go module proxy, so their
// manifests are assembled here from their sources' media types and annotations; the layer bytes come
// from make_producers.py / make_corpus.py (tarfile, as Go's archive/tar writes them).
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Oras } from '../../support/oras.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** KitOps (pkg/lib/constants/mediatype): `application/vnd.kitops.modelkit.<kind>.v1.tar[+gzip]`. */
export const KIT = {
  artifactType: 'application/vnd.kitops.modelkit.manifest.v1+json',
  config: 'application/vnd.kitops.modelkit.config.v1+json',
  layer: (kind: 'model' | 'modelpart' | 'docs' | 'code' | 'dataset', gzip = false) =>
    `application/vnd.kitops.modelkit.${kind}.v1.tar${gzip ? '+gzip' : ''}`,
} as const;

/** CNCF ModelPack (model-spec v1), as modctl and `kit pack --use-model-pack` write it. */
export const MODELPACK = {
  artifactType: 'application/vnd.cncf.model.manifest.v1+json',
  config: 'application/vnd.cncf.model.config.v1+json',
  weightRaw: 'application/vnd.cncf.model.weight.v1.raw',
  weight: 'application/vnd.cncf.model.weight.v1.tar',
  weightConfig: 'application/vnd.cncf.model.weight.config.v1.tar',
  doc: 'application/vnd.cncf.model.doc.v1.tar',
  filepath: 'org.cncf.model.filepath',
} as const;

/** Ollama's layer media types (its registry's manifests are Docker v2 schema 2). */
export const OLLAMA = {
  config: 'application/vnd.docker.container.image.v1+json',
  model: 'application/vnd.ollama.image.model',
  template: 'application/vnd.ollama.image.template',
  params: 'application/vnd.ollama.image.params',
  system: 'application/vnd.ollama.image.system',
  license: 'application/vnd.ollama.image.license',
} as const;

export interface Blob {
  readonly mediaType: string;
  readonly content: Uint8Array | string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ManifestSpec {
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: Blob;
  readonly layers: readonly Blob[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface PushedManifest {
  /** `host/repo@sha256:...` */
  readonly reference: string;
  readonly digest: string;
}

const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const size = (b: Uint8Array | string) => (typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength);

/** Pushes every blob with `oras blob push`, then the manifest with `oras manifest push`. */
export async function pushManifest(
  oras: Oras,
  host: string,
  repoAndTag: string,
  spec: ManifestSpec,
): Promise<PushedManifest> {
  const repo = repoAndTag.split(':')[0]!;
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-layout-'));
  try {
    const descriptor = async (b: Blob, i: number) => {
      const digest = sha256(b.content);
      const file = join(dir, `blob-${i}`);
      await writeFile(file, b.content);
      await oras.run(['blob', 'push', `${host}/${repo}@${digest}`, file]);
      return {
        mediaType: b.mediaType,
        digest,
        size: size(b.content),
        ...(b.annotations === undefined ? {} : { annotations: b.annotations }),
      };
    };
    const mediaType = spec.mediaType ?? OCI_MANIFEST;
    const config = await descriptor(spec.config, 0);
    const layers = [];
    for (const [i, l] of spec.layers.entries()) layers.push(await descriptor(l, i + 1));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType,
      ...(spec.artifactType === undefined ? {} : { artifactType: spec.artifactType }),
      config,
      layers,
      ...(spec.annotations === undefined ? {} : { annotations: spec.annotations }),
    });
    const file = join(dir, 'manifest.json');
    await writeFile(file, manifest);
    await oras.run(['manifest', 'push', `${host}/${repoAndTag}`, file, '--media-type', mediaType]);
    const digest = sha256(manifest);
    return { reference: `${host}/${repo}@${digest}`, digest };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A file of a ModelKit: its Kitfile path, the kind of entry, and its (tarred) layer bytes. */
export interface KitEntry {
  readonly path: string;
  readonly kind: 'model' | 'modelpart' | 'docs' | 'code' | 'dataset';
  readonly tar: Uint8Array;
}

/**
 * A ModelKit as `kit pack` + `kit push` make it (pkg/lib/filesystem/local-storage.go): the Kitfile as
 * JSON config, one tar layer per Kitfile entry annotated with its path, the manifest's artifactType.
 */
export function kitManifest(name: string, entries: readonly KitEntry[], gzip = false): ManifestSpec {
  const model = entries.find((e) => e.kind === 'model');
  const kitfile = {
    manifestVersion: '1.0.0',
    package: { name, description: 'modelgate producer test' },
    ...(model === undefined
      ? {}
      : {
          model: {
            name,
            path: model.path,
            parts: entries.filter((e) => e.kind === 'modelpart').map((e) => ({ path: e.path })),
          },
        }),
    docs: entries.filter((e) => e.kind === 'docs').map((e) => ({ path: e.path })),
    code: entries.filter((e) => e.kind === 'code').map((e) => ({ path: e.path })),
    datasets: entries.filter((e) => e.kind === 'dataset').map((e) => ({ name: e.path, path: e.path })),
  };
  return {
    artifactType: KIT.artifactType,
    config: { mediaType: KIT.config, content: JSON.stringify(kitfile) },
    layers: entries.map((e) => ({
      mediaType: KIT.layer(e.kind, gzip),
      content: e.tar,
      annotations: { [MODELPACK.filepath]: e.path },
    })),
    annotations: {
      'ml.kitops.modelkit.cli-version': 'modelgate-test',
      'org.opencontainers.image.created': '2025-01-01T00:00:00Z',
    },
  };
}

/** A ModelPack model config (model-spec `Model`), `format` naming the weights' format. */
export function modelPackConfig(format: string, diffIds: readonly string[]): string {
  return JSON.stringify({
    descriptor: { name: 'tiny-model', family: 'tiny' },
    config: { format, paramSize: '8' },
    modelfs: { type: 'layers', diffIds },
  });
}

export interface PackFile {
  readonly path: string;
  readonly mediaType: string;
  readonly content: Uint8Array;
}

/** A ModelPack artifact as `modctl build` + `modctl push` make it: one layer per file. */
export function modelPackManifest(files: readonly PackFile[], format = 'safetensors'): ManifestSpec {
  return {
    artifactType: MODELPACK.artifactType,
    config: {
      mediaType: MODELPACK.config,
      content: modelPackConfig(
        format,
        files.map((f) => sha256(f.content)),
      ),
    },
    layers: files.map((f) => ({
      mediaType: f.mediaType,
      content: f.content,
      annotations: {
        [MODELPACK.filepath]: f.path,
        'org.cncf.model.file.mediatype.untested': 'false',
      },
    })),
  };
}

/** An Ollama model manifest: Docker v2 schema 2, a container-image config, typed layers, no titles. */
export function ollamaManifest(model: Uint8Array, license: string): ManifestSpec {
  return {
    mediaType: DOCKER_MANIFEST,
    config: {
      mediaType: OLLAMA.config,
      content: JSON.stringify({
        model_format: 'gguf',
        model_family: 'llama',
        model_families: ['llama'],
        model_type: '8',
        file_type: 'F32',
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha256(model)] },
      }),
    },
    layers: [
      { mediaType: OLLAMA.model, content: model },
      { mediaType: OLLAMA.template, content: '{{ .System }}\n{{ .Prompt }}' },
      { mediaType: OLLAMA.system, content: 'You are a tiny test model.' },
      { mediaType: OLLAMA.params, content: JSON.stringify({ stop: ['</s>'], temperature: 0.2 }) },
      { mediaType: OLLAMA.license, content: license },
    ],
  };
}
