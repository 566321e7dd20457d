// What a layer's media type and a file's name claim. Claims never exempt a byte from being read: every
// layer and member is classified by its content whatever role it claims (the role is report information).
// A claim can only make the verdict MORE dangerous: a `.pkl` name is pickle whatever the magic says, a
// safetensors media type over pickle bytes is pickle. Claims are all there is when a policy admits every
// format (no byte of the model is read then).

import type { Descriptor } from '../../oci/types.ts';
import { Annotation } from '../../oci/types.ts';
import type { ModelFormat } from '../../policy/schema.ts';
import { printable } from '../bytes.ts';
import type { FormatHint } from './types.ts';

/** Layers that are not weight files, by what they are. */
export type OtherRole = 'mlbom' | 'signature' | 'config' | 'doc' | 'code' | 'dataset';
export type LayerRole = 'weight' | OtherRole;

export const CYCLONEDX_JSON = 'application/vnd.cyclonedx+json';
const MODELPACK_WEIGHT =
  /^application\/vnd\.(?:cncf|cnai)\.model\.weight\.v1\.(?:raw|tar(?:\+gzip|\+zstd)?)$/;
export const MODELPACK_CONFIGS: ReadonlySet<string> = new Set([
  'application/vnd.cncf.model.config.v1+json',
  'application/vnd.cnai.model.config.v1+json',
]);

export interface MediaTypeInfo {
  /** undefined: a generic type (octet-stream, OCI layer tar, unknown): the name decides the role. */
  readonly role?: LayerRole;
  readonly hint?: ModelFormat;
  /** A ModelPack weight layer, whose format the model config's `config.format` may give. */
  readonly modelPack?: boolean;
}

/** The media type without parameters, lower-case. */
export function baseMediaType(mediaType: string): string {
  return (mediaType.split(';')[0] ?? '').trim().toLowerCase();
}

const EXACT: Readonly<Record<string, MediaTypeInfo>> = {
  [CYCLONEDX_JSON]: { role: 'mlbom' },
  'application/vnd.cyclonedx+xml': { role: 'mlbom' },
  'application/vnd.cyclonedx': { role: 'mlbom' },
  'application/spdx+json': { role: 'mlbom' },
  'text/spdx': { role: 'mlbom' },
  'application/vnd.in-toto+json': { role: 'signature' },
  'application/vnd.dsse.envelope.v1+json': { role: 'signature' },
  'application/vnd.oci.image.config.v1+json': { role: 'config' },
  'application/vnd.oci.empty.v1+json': { role: 'config' },
  'application/vnd.kitops.modelkit.config.v1+json': { role: 'config' },
  'application/vnd.docker.container.image.v1+json': { role: 'config' },
  'application/vnd.docker.ai.license': { role: 'doc' },
  'application/vnd.docker.ai.chat.template.jinja': { role: 'doc' },
  'application/vnd.docker.ai.vllm.config.tar': { role: 'config' },
  'application/vnd.docker.ai.gguf.v3': { role: 'weight', hint: 'gguf' },
  'application/vnd.docker.ai.mmproj': { role: 'weight', hint: 'gguf' },
  'application/vnd.docker.ai.safetensors': { role: 'weight', hint: 'safetensors' },
  'application/json': { role: 'config' },
  'application/yaml': { role: 'config' },
  'application/x-yaml': { role: 'config' },
  'application/toml': { role: 'config' },
  'application/pdf': { role: 'doc' },
};

/** The role and format hint of a layer media type. */
export function mediaTypeInfo(mediaType: string): MediaTypeInfo {
  const mt = baseMediaType(mediaType);
  const exact = EXACT[mt];
  if (exact) return exact;
  for (const c of MODELPACK_CONFIGS) if (mt === c) return { role: 'config' };
  if (mt.startsWith('application/vnd.dev.sigstore.') || mt.startsWith('application/vnd.dev.cosign.')) {
    return { role: 'signature' };
  }
  if (
    MODELPACK_WEIGHT.test(mt) ||
    mt === 'application/vnd.cnai.model.layer.v1.tar' ||
    mt === 'application/vnd.cnai.model.layer.v1.tar+gzip'
  ) {
    return { role: 'weight', modelPack: true };
  }
  const kit = /^application\/vnd\.kitops\.modelkit\.([a-z]+)\.v1\./.exec(mt)?.[1];
  if (kit !== undefined) {
    if (kit === 'model' || kit === 'modelpart') return { role: 'weight' };
    if (kit === 'docs') return { role: 'doc' };
    if (kit === 'code') return { role: 'code' };
    if (kit === 'dataset') return { role: 'dataset' };
    return {};
  }
  const pack = /^application\/vnd\.(?:cncf|cnai)\.model\.([a-z.]+)\.v1\./.exec(mt)?.[1];
  if (pack !== undefined) {
    if (pack === 'weight.config') return { role: 'config' };
    if (pack === 'doc') return { role: 'doc' };
    if (pack === 'code') return { role: 'code' };
    if (pack === 'dataset') return { role: 'dataset' };
  }
  if (mt.startsWith('application/vnd.docker.ai.')) {
    if (mt.includes('config')) return { role: 'config' };
    const hint = formatNamedIn(mt);
    return hint ? { role: 'weight', hint } : { role: 'weight' };
  }
  if (mt.startsWith('text/')) return { role: 'doc' };
  // Vendor types that spell out a format (application/vnd.safetensors, application/x-pickle, ...).
  const hint = formatNamedIn(mt);
  return hint ? { role: 'weight', hint } : {};
}

/** A format named inside a media type string. */
function formatNamedIn(mt: string): ModelFormat | undefined {
  if (mt.includes('safetensors')) return 'safetensors';
  if (mt.includes('gguf')) return 'gguf';
  if (mt.includes('onnx')) return 'onnx';
  if (mt.includes('pickle')) return 'pickle';
  if (mt.includes('pytorch') || mt.includes('torch')) return 'pytorch-zip';
  if (mt.includes('hdf5') || mt.includes('x-hdf') || mt.includes('keras')) return 'keras-h5';
  if (mt.includes('numpy') || mt.includes('npy')) return 'numpy';
  return undefined;
}

const EXTENSIONS: readonly [string, ModelFormat][] = [
  ['.safetensors', 'safetensors'],
  ['.gguf', 'gguf'],
  ['.onnx', 'onnx'],
  ['.pkl', 'pickle'],
  ['.pickle', 'pickle'],
  ['.joblib', 'pickle'],
  ['.dill', 'pickle'],
  ['.sav', 'pickle'],
  // torch.load opens these: a zip with data.pkl, or else a bare pickle.
  ['.pt', 'pytorch-zip'],
  ['.pth', 'pytorch-zip'],
  ['.ckpt', 'pytorch-zip'],
  ['.bin', 'pytorch-zip'],
  ['.pt2', 'pytorch-zip'],
  ['.mar', 'pytorch-zip'],
  ['.h5', 'keras-h5'],
  ['.hdf5', 'keras-h5'],
  ['.keras', 'keras-h5'],
  ['.npy', 'numpy'],
  ['.npz', 'numpy'],
  // Source and native code: an interpreter or the dynamic loader runs it (trust_remote_code, ctypes).
  ['.py', 'code'],
  ['.pyc', 'code'],
  ['.pyo', 'code'],
  ['.pyw', 'code'],
  ['.pyx', 'code'],
  ['.pyd', 'code'],
  ['.so', 'code'],
  ['.dylib', 'code'],
  ['.dll', 'code'],
  ['.sh', 'code'],
  ['.ipynb', 'code'],
];

/** Extensions of compressed files: `model.pkl.gz` is judged as `model.pkl` once inflated. */
const COMPRESSED_EXTENSIONS = ['.gz', '.gzip', '.zst', '.zstd', '.xz', '.bz2', '.lzma', '.z', '.lz4'];

/** The name a compressed file's inflated bytes go by (the name without its compression extension). */
export function inflatedName(name: string): string {
  const lower = name.toLowerCase();
  for (const ext of COMPRESSED_EXTENSIONS) if (lower.endsWith(ext)) return name.slice(0, -ext.length);
  return name;
}

const OTHER_EXTENSIONS: readonly [string, OtherRole][] = [
  ['.cdx.json', 'mlbom'],
  ['.spdx.json', 'mlbom'],
  ['.sigstore.json', 'signature'],
  ['.sigstore', 'signature'],
  ['.sig', 'signature'],
  ['.pem', 'signature'],
  ['.crt', 'signature'],
  ['.pub', 'signature'],
  ['.json', 'config'],
  ['.yaml', 'config'],
  ['.yml', 'config'],
  ['.toml', 'config'],
  ['.cfg', 'config'],
  ['.ini', 'config'],
  ['.jinja', 'config'],
  ['.tiktoken', 'config'],
  ['.txt', 'doc'],
  ['.md', 'doc'],
  ['.rst', 'doc'],
  ['.html', 'doc'],
  ['.pdf', 'doc'],
  ['.png', 'doc'],
  ['.jpg', 'doc'],
  ['.jpeg', 'doc'],
  ['.gif', 'doc'],
  ['.svg', 'doc'],
];

// Whole file names that are documentation or tokenizer configuration (sentencepiece models are
// protobufs read as data, not code).
const OTHER_NAMES: ReadonlySet<string> = new Set([
  'license',
  'licence',
  'notice',
  'readme',
  'copying',
  'authors',
  'kitfile',
  'modelfile',
  '.gitattributes',
  '.gitignore',
  'tokenizer.model',
  'spiece.model',
  'sentencepiece.bpe.model',
]);

export interface NameInfo {
  readonly hint?: ModelFormat;
  readonly role?: OtherRole;
}

/** The format hint (by extension) or non-weight role (by name) of a file name. */
export function nameInfo(name: string): NameInfo {
  const base = (name.split('/').pop() ?? name).toLowerCase();
  for (const [ext, format] of EXTENSIONS) if (base.endsWith(ext)) return { hint: format };
  if (base === 'mlbom.json' || base.endsWith('bom.json')) return { role: 'mlbom' };
  for (const [ext, role] of OTHER_EXTENSIONS) if (base.endsWith(ext)) return { role };
  const stem = base.replace(/\.[a-z0-9]+$/, '');
  if (OTHER_NAMES.has(base) || OTHER_NAMES.has(stem)) return { role: 'doc' };
  return {};
}

/** modctl writes the CNAI spelling of the ModelPack filepath annotation. */
const CNAI_FILEPATH = 'org.cnai.model.filepath';

/** The file name a layer carries (title, or the ModelPack filepath annotation in either spelling). */
export function layerName(d: Descriptor): string | undefined {
  return (
    d.annotations?.[Annotation.Title] ??
    d.annotations?.[Annotation.ModelFilepath] ??
    d.annotations?.[CNAI_FILEPATH]
  );
}

export interface LayerClaims {
  readonly role: LayerRole;
  readonly name?: string;
  readonly mediaType: MediaTypeInfo;
  readonly nameInfo: NameInfo;
}

/**
 * What a layer claims to be. A layer is a weight file unless its media type or name says it is
 * something else and neither names a model format; when unsure it is treated as a weight file.
 */
export function layerClaims(d: Descriptor): LayerClaims {
  const name = layerName(d);
  const mt = mediaTypeInfo(d.mediaType);
  const ni = name === undefined ? {} : nameInfo(name);
  let role: LayerRole;
  if (mt.role === 'mlbom' || mt.role === 'signature') role = mt.role;
  else if (mt.role === 'weight' || mt.hint !== undefined || ni.hint !== undefined) role = 'weight';
  else if (mt.role !== undefined) role = mt.role;
  else role = ni.role ?? 'weight';
  return { role, ...(name === undefined ? {} : { name }), mediaType: mt, nameInfo: ni };
}

/** Every claim about a file's format: the media type's, the model config's, and the name's. */
export function hintsOf(
  mediaType: string,
  claims: { mediaType: MediaTypeInfo; nameInfo: NameInfo },
  name: string | undefined,
  configFormat?: { format: ModelFormat; evidence: string },
): FormatHint[] {
  const out: FormatHint[] = [];
  if (claims.mediaType.hint !== undefined) {
    out.push({
      format: claims.mediaType.hint,
      source: 'mediaType',
      evidence: `media type ${baseMediaType(mediaType)}`,
    });
  }
  if (configFormat !== undefined) {
    out.push({ format: configFormat.format, source: 'mediaType', evidence: configFormat.evidence });
  }
  if (claims.nameInfo.hint !== undefined && name !== undefined) {
    out.push({ format: claims.nameInfo.hint, source: 'name', evidence: `name ${printable(name, 120)}` });
  }
  return out;
}

/** The claims of a member name (zip or tar): its extension. */
export function memberHints(name: string): FormatHint[] {
  const hint = nameInfo(name).hint;
  return hint === undefined
    ? []
    : [{ format: hint, source: 'name', evidence: `name ${printable(name, 120)}` }];
}

/** The first hint available: the media type's (or the model config's), then the name's. */
export function hintOf(
  mediaType: string,
  claims: { mediaType: MediaTypeInfo; nameInfo: NameInfo },
  name: string | undefined,
  configFormat?: { format: ModelFormat; evidence: string },
): FormatHint | undefined {
  if (claims.mediaType.hint !== undefined) {
    return {
      format: claims.mediaType.hint,
      source: 'mediaType',
      evidence: `media type ${baseMediaType(mediaType)}`,
    };
  }
  if (configFormat !== undefined) {
    return { format: configFormat.format, source: 'mediaType', evidence: configFormat.evidence };
  }
  if (claims.nameInfo.hint !== undefined && name !== undefined) {
    return { format: claims.nameInfo.hint, source: 'name', evidence: `name ${printable(name, 120)}` };
  }
  return undefined;
}

/** Maps a ModelPack (or Docker) model config `format` value to a model format. */
export function configFormatValue(value: unknown): ModelFormat | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  const table: Readonly<Record<string, ModelFormat>> = {
    safetensors: 'safetensors',
    gguf: 'gguf',
    onnx: 'onnx',
    pickle: 'pickle',
    pkl: 'pickle',
    pytorch: 'pytorch-zip',
    torch: 'pytorch-zip',
    pt: 'pytorch-zip',
    keras: 'keras-h5',
    h5: 'keras-h5',
    hdf5: 'keras-h5',
    numpy: 'numpy',
    npy: 'numpy',
    npz: 'numpy',
  };
  return Object.hasOwn(table, v) ? table[v] : undefined;
}
