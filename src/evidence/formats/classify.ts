// Classification of every file of an artifact by its bytes. Every layer is read, whatever role its media
// type or title claims (config, doc, code, dataset, signature, ML-BOM): a role is report information, it
// exempts nothing. Every member of a tar or zip (and of what is inside them, compressed or not) is read
// too, within a depth and byte budget. Each file gets every reading its bytes support (the pickle walk
// runs on all of them) and every reading its claims force (a `.pkl` name is pickle); the MOST DANGEROUS
// reading is its format. Small blobs are fetched whole and digest-checked before they are read; larger
// ones are read by Range, which the registry could answer with other bytes (reported as not verified).
import type { Descriptor, Manifest } from '../../oci/types.ts';
import type { ModelFormat } from '../../policy/schema.ts';
import { printable, utf8Text } from '../bytes.ts';
import type { ArtifactEvidence } from '../types.ts';
import { type Compression, decompressed } from './compress.ts';
import {
  baseMediaType,
  configFormatValue,
  hintOf,
  hintsOf,
  inflatedName,
  layerClaims,
  layerName,
  MODELPACK_CONFIGS,
  memberHints,
  nameInfo,
  type OtherRole,
} from './hints.ts';
import { walkPickle } from './pickle.ts';
import { inspectSafetensors } from './safetensors.ts';
import { HEAD_BYTES, hasZipEndRecord, noFormatEvidence, sniffHead, ZIP_TAIL_BYTES } from './sniff.ts';
import {
  type ArchiveListing,
  type ByteSource,
  DEFAULT_VERIFIED_BLOB_BYTES,
  MemorySource,
  PrefetchedSource,
  ReadBudget,
  ReadBudgetExceeded,
  SourceWindow,
  wholeBlobSource,
} from './source.ts';
import { listTar } from './tar.ts';
import { sniffSentencePiece, sniffText, sniffTiktoken, yamlPythonTag } from './text.ts';
import type { DecidedBy, FileFormat, FormatHint } from './types.ts';
import { listZip } from './zip.ts';

const MiB = 1024 * 1024;
/** Bytes read at most to classify the files of one artifact (small files whole, large ones by range). */
export const DEFAULT_READ_BUDGET = 64 * MiB;
/** Archive and compression levels read at most (a layer is level 0, a member of a tar layer level 1). */
export const DEFAULT_MAX_DEPTH = 4;
/** Bytes one compressed stream may inflate to. */
export const DEFAULT_MAX_INFLATED_BYTES = 256 * MiB;
/** Model configs and Kitfiles larger than this are not read. */
const MAX_MODEL_CONFIG = MiB;
/** Files up to this size are read whole by range when they are not in memory (text is judged whole). */
const SMALL_FILE = 64 * 1024;
/** HDF5 bytes searched for Lambda layers when the file is not in memory. */
const HDF5_SCAN = MiB;
const DEFAULT_CONCURRENCY = 4;

export interface ClassifyOptions {
  /** Read the files' bytes. False: classify by media type and name only, with no I/O. */
  readonly sniff: boolean;
  readonly budgetBytes?: number;
  readonly concurrency?: number;
  /** Blobs up to this size are fetched whole through the digest-checking reader (default 16 MiB). */
  readonly verifiedBlobBytes?: number;
  readonly maxDepth?: number;
  readonly maxInflatedBytes?: number;
}

/** A layer (or member) whose media type or name claims a role other than weights: report information only. */
export interface OtherFile {
  readonly file: string;
  readonly layerDigest: string;
  readonly member?: string;
  readonly mediaType: string;
  readonly role: OtherRole;
}

export interface ArtifactFormats {
  readonly files: readonly FileFormat[];
  /** Claimed roles (configs, documents, ...): these files are classified in `files` like any other. */
  readonly others: readonly OtherFile[];
  readonly bytesRead: number;
  readonly requests: number;
  readonly budgetBytes: number;
  readonly verifiedBlobBytes: number;
}

interface LayerEntry {
  readonly layer: Descriptor;
  readonly config?: Descriptor;
}

/** The layers of the artifact (of every platform manifest of an index), each with its manifest's config. */
export function layerEntries(e: ArtifactEvidence): LayerEntry[] {
  const out: LayerEntry[] = [];
  const seen = new Set<string>();
  const add = (layer: Descriptor, config?: Descriptor) => {
    const key = `${layer.digest}\u0000${layerClaims(layer).name ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(config === undefined ? { layer } : { layer, config });
  };
  const fromManifest = (m: Manifest) => {
    for (const l of m.layers) add(l, m.config);
  };
  if (e.manifest) fromManifest(e.manifest);
  for (const c of e.children ?? []) fromManifest(c.manifest);
  for (const l of e.layers) add(l);
  return out;
}

/** The layers that are weight files by their media type and name (no I/O; for ML-BOM hash matching). */
export function weightLayers(e: ArtifactEvidence): Descriptor[] {
  return layerEntries(e)
    .map((x) => x.layer)
    .filter((l) => layerClaims(l).role === 'weight');
}

/** One way of reading a file's bytes, and what it makes of them. */
interface Reading {
  readonly format: ModelFormat;
  readonly by: DecidedBy;
  readonly evidence: string;
  /** False: the bytes could not be read far enough (budget, truncated, undecompressable): fail closed. */
  readonly inspected: boolean;
  /** Two consumers could read the bytes differently (a zip with two end records, ...). */
  readonly ambiguous?: string;
}

// The order of danger: what runs code, then what could not be identified, then data.
const DANGER: Readonly<Record<ModelFormat, number>> = {
  pickle: 10,
  'pytorch-zip': 10,
  torchscript: 10,
  'keras-lambda': 10,
  code: 9,
  archive: 5,
  unknown: 5,
  'keras-h5': 4,
  safetensors: 1,
  gguf: 1,
  onnx: 1,
  numpy: 1,
  json: 1,
  text: 1,
  tokenizer: 1,
  image: 1,
};
const UNINSPECTABLE_DANGER = 8;
/** Claims that make a file more dangerous than its bytes may say: a loader chosen by them runs code. */
const FORCING_CLAIMS: ReadonlySet<ModelFormat> = new Set([
  'pickle',
  'pytorch-zip',
  'torchscript',
  'keras-lambda',
  'keras-h5',
  'code',
]);

function danger(r: Reading): number {
  return r.inspected ? DANGER[r.format] : Math.max(UNINSPECTABLE_DANGER, DANGER[r.format]);
}

/** The most dangerous reading; the first of equals (content readings come before claims). */
function worst(readings: readonly Reading[]): Reading | undefined {
  let best: Reading | undefined;
  for (const r of readings) if (best === undefined || danger(r) > danger(best)) best = r;
  return best;
}

interface Ctx {
  readonly e: ArtifactEvidence;
  readonly budget: ReadBudget;
  readonly signal: AbortSignal;
  readonly verifiedBlobBytes: number;
  readonly maxDepth: number;
  readonly maxInflatedBytes: number;
}

/** What is known of a file before its bytes are read. */
interface Subject {
  readonly file: string;
  readonly layerDigest: string;
  readonly mediaType: string;
  /** Path inside the layer (tar or zip member, joined with `:` across levels). */
  readonly member?: string;
  readonly hints: readonly FormatHint[];
}

interface Classified {
  /** The file itself as a loader opening it sees it; absent for a tar that is only a container. */
  readonly self?: FileFormat;
  /** Files inside it (members of a tar, or of a zip that no framework loads as one model). */
  readonly members: readonly FileFormat[];
}

/** Classifies every file of an artifact. Reader errors (including digest mismatches) propagate; budget exhaustion does not. */
export async function classifyArtifact(
  e: ArtifactEvidence,
  opts: ClassifyOptions,
  signal: AbortSignal,
): Promise<ArtifactFormats> {
  const budget = new ReadBudget(opts.budgetBytes ?? DEFAULT_READ_BUDGET);
  const ctx: Ctx = {
    e,
    budget,
    signal,
    verifiedBlobBytes: opts.verifiedBlobBytes ?? DEFAULT_VERIFIED_BLOB_BYTES,
    maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxInflatedBytes: opts.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES,
  };
  const configs = new Map<string, Promise<unknown>>();
  const readConfig = (config: Descriptor | undefined): Promise<unknown> => {
    if (config === undefined || config.size > MAX_MODEL_CONFIG) return Promise.resolve(undefined);
    let p = configs.get(config.digest);
    if (p === undefined) {
      p = readJsonBlob(e, config, budget, signal);
      configs.set(config.digest, p);
    }
    return p;
  };
  const sources = new Map<string, Promise<ByteSource>>();
  const sourceOf = (layer: Descriptor): Promise<ByteSource> => {
    let p = sources.get(layer.digest);
    if (p === undefined) {
      p = wholeBlobSource(e.reader, layer, budget, signal, ctx.verifiedBlobBytes);
      sources.set(layer.digest, p);
    }
    return p;
  };
  const entries = layerEntries(e);
  const kitNames = opts.sniff ? await kitfileNames(e, readConfig) : new Map<Descriptor, string>();
  const results: { files: FileFormat[]; others: OtherFile[] }[] = entries.map(() => ({
    files: [],
    others: [],
  }));

  const one = async (i: number) => {
    const { layer, config } = entries[i]!;
    const claims = layerClaims(layer);
    const out = results[i]!;
    const name = layerName(layer) ?? kitNames.get(layer);
    const file = name ?? layer.digest;
    const nameClaims =
      name === undefined || claims.name !== undefined ? claims : { ...claims, nameInfo: nameInfo(name) };
    if (claims.role !== 'weight') {
      out.others.push({ file, layerDigest: layer.digest, mediaType: layer.mediaType, role: claims.role });
    }
    if (!opts.sniff) {
      // The policy admits every format: claims are reported, nothing is read.
      if (claims.role === 'weight')
        out.files.push(unread(layer, file, hintOf(layer.mediaType, nameClaims, name)));
      return;
    }
    const modelPackConfig =
      claims.mediaType.modelPack &&
      config !== undefined &&
      MODELPACK_CONFIGS.has(baseMediaType(config.mediaType));
    const fromConfig = modelPackConfig ? modelPackFormat(await readConfig(config)) : undefined;
    const subject: Subject = {
      file,
      layerDigest: layer.digest,
      mediaType: layer.mediaType,
      hints: hintsOf(layer.mediaType, nameClaims, name, fromConfig),
    };
    let got: Classified;
    try {
      const src = await sourceOf(layer);
      got = await classifySource(src, subject, 0, ctx, fromConfig);
    } catch (err) {
      if (!(err instanceof ReadBudgetExceeded)) throw err;
      got = {
        self: fileOf(subject, { size: layer.size, verified: false }, [budgetReading(budget, err)], undefined),
        members: [],
      };
    }
    if (got.self) out.files.push(got.self);
    out.files.push(...got.members);
  };

  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, entries.length) }, async () => {
      while (next < entries.length) {
        signal.throwIfAborted();
        await one(next++);
      }
    }),
  );
  return {
    files: results.flatMap((r) => r.files),
    others: results.flatMap((r) => r.others),
    bytesRead: budget.bytesRead,
    requests: budget.requests,
    budgetBytes: budget.limit,
    verifiedBlobBytes: ctx.verifiedBlobBytes,
  };
}

function unread(layer: Descriptor, file: string, hint: FormatHint | undefined): FileFormat {
  return {
    file,
    layerDigest: layer.digest,
    mediaType: layer.mediaType,
    size: layer.size,
    format: hint?.format ?? 'unknown',
    decidedBy: hint?.source ?? 'none',
    evidence: hint ? `${hint.evidence} (content not read)` : 'no media type or name claim (content not read)',
    inspected: false,
    verified: false,
    ...(hint ? { hint } : {}),
  };
}

/** A small JSON blob (model config, Kitfile) fetched whole and digest-checked; undefined if not JSON. */
async function readJsonBlob(
  e: ArtifactEvidence,
  config: Descriptor,
  budget: ReadBudget,
  signal: AbortSignal,
): Promise<unknown> {
  try {
    budget.take(config.size);
  } catch {
    return undefined;
  }
  let bytes: Uint8Array;
  try {
    bytes = await e.reader.blob(config, MAX_MODEL_CONFIG, signal);
  } catch (err) {
    budget.refund(config.size);
    throw err;
  }
  budget.settle(config.size, bytes.length);
  try {
    return JSON.parse(utf8Text(bytes) ?? '');
  } catch {
    return undefined;
  }
}

function modelPackFormat(json: unknown): { format: ModelFormat; evidence: string } | undefined {
  const value = (json as { config?: { format?: unknown } } | null)?.config?.format;
  const format = configFormatValue(value);
  return format === undefined
    ? undefined
    : { format, evidence: `model config format ${JSON.stringify(String(value).slice(0, 40))}` };
}

const KITFILE_CONFIG = 'application/vnd.kitops.modelkit.config.v1+json';
const KIT_KIND = /^application\/vnd\.kitops\.modelkit\.([a-z]+)\.v1\./;

/**
 * Names of KitOps layers, from the Kitfile (the manifest's config): kit packs one layer per Kitfile
 * entry, in the Kitfile's order within each kind (model, model parts, code, datasets, docs), and gives
 * layers no title.
 */
async function kitfileNames(
  e: ArtifactEvidence,
  readConfig: (d: Descriptor | undefined) => Promise<unknown>,
): Promise<Map<Descriptor, string>> {
  const out = new Map<Descriptor, string>();
  const manifests = [...(e.manifest ? [e.manifest] : []), ...(e.children ?? []).map((c) => c.manifest)];
  for (const m of manifests) {
    if (baseMediaType(m.config.mediaType) !== KITFILE_CONFIG) continue;
    const kit = (await readConfig(m.config)) as Record<string, unknown> | undefined;
    if (typeof kit !== 'object' || kit === null) continue;
    const pathsOf = (v: unknown): (string | undefined)[] =>
      Array.isArray(v)
        ? v.map((x) =>
            typeof (x as { path?: unknown })?.path === 'string' ? (x as { path: string }).path : undefined,
          )
        : [];
    const model = kit.model as { path?: unknown; parts?: unknown } | undefined;
    const byKind: Record<string, (string | undefined)[]> = {
      model: [typeof model?.path === 'string' ? model.path : undefined],
      modelpart: pathsOf(model?.parts),
      code: pathsOf(kit.code),
      dataset: pathsOf(kit.datasets),
      docs: pathsOf(kit.docs),
      prompts: pathsOf(kit.prompts),
    };
    const seen: Record<string, number> = {};
    for (const l of m.layers) {
      const kind = KIT_KIND.exec(baseMediaType(l.mediaType))?.[1];
      if (kind === undefined || byKind[kind] === undefined) continue;
      const i = seen[kind] ?? 0;
      seen[kind] = i + 1;
      const path = byKind[kind]![i];
      if (path !== undefined && path !== '')
        out.set(l, `${path} (Kitfile ${kind === 'dataset' ? 'datasets' : kind})`);
    }
  }
  return out;
}

function budgetReading(budget: ReadBudget, err?: Error): Reading {
  const why =
    err && err.name === 'InflationLimitExceeded'
      ? err.message
      : `the artifact's read budget of ${budget.limit} bytes is spent`;
  return { format: 'unknown', by: 'content', inspected: false, evidence: `not inspected: ${why}` };
}

function uninspectable(evidence: string, ambiguous?: string): Reading {
  return {
    format: 'unknown',
    by: 'content',
    inspected: false,
    evidence,
    ...(ambiguous ? { ambiguous } : {}),
  };
}

function content(format: ModelFormat, evidence: string): Reading {
  return { format, by: 'content', inspected: true, evidence };
}

/** Up to `limit` bytes of `src` from its start, and whether that is all of it. */
async function prefixOf(
  src: ByteSource,
  head: Uint8Array,
  limit: number,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (src.size !== undefined && src.size <= head.length) return { bytes: head, complete: true };
  if (src.size === undefined && head.length < HEAD_BYTES) return { bytes: head, complete: true };
  if (limit <= head.length) return { bytes: head, complete: false };
  const bytes = await src.read(0, limit + 1);
  return bytes.length > limit
    ? { bytes: bytes.subarray(0, limit), complete: false }
    : { bytes, complete: true };
}

/** Whether every byte of `src` is already in memory (a whole blob fetched and checked, or a window of one). */
function inMemory(src: ByteSource): boolean {
  let s: ByteSource = src;
  for (;;) {
    if (s instanceof MemorySource) return true;
    if (s instanceof SourceWindow || s instanceof PrefetchedSource) s = s.inner;
    else return false;
  }
}

/** How much of a file may be read whole: all of it in memory (verified), a little by range. */
function wholeLimit(src: ByteSource, ctx: Ctx): number {
  return src.verified ? ctx.verifiedBlobBytes : SMALL_FILE;
}

async function classifySource(
  src: ByteSource,
  subject: Subject,
  depth: number,
  ctx: Ctx,
  fromConfig?: { format: ModelFormat; evidence: string },
): Promise<Classified> {
  const meta = { size: src.size, verified: src.verified };
  const readings: Reading[] = [];
  const members: FileFormat[] = [];
  let container = false;
  let none: string | undefined;
  let head: Uint8Array = new Uint8Array(0);
  try {
    head = await src.read(0, HEAD_BYTES);
    const size = src.size ?? (head.length < HEAD_BYTES ? head.length : Number.MAX_SAFE_INTEGER);
    // Pickle first and always: pickle.load starts at byte 0 whatever else the bytes also are.
    const pickle = await walkPickle(src, head);
    if (pickle.kind === 'pickle') {
      readings.push(content('pickle', pickle.evidence));
    } else if (pickle.kind === 'undecided')
      readings.push(uninspectable(`pickle walk undecided: ${pickle.evidence}`));

    const heads = sniffHead(head, size);
    // zipfile finds an archive by its end record, whatever the first bytes are: look where it is cheap
    // (bytes in memory; not an inflated stream, where a read at the end inflates through) or where a
    // loader picks zipfile by the name.
    if (!heads.some((h) => h.kind === 'zip') && head.length > 0) {
      const zipName = subject.hints.some(
        (h) => h.source === 'name' && /\.(?:zip|keras|npz)$/i.test(h.evidence),
      );
      if ((inMemory(src) || zipName) && src.size !== undefined && src.size >= 22) {
        const from = Math.max(0, src.size - ZIP_TAIL_BYTES);
        const tail = from === 0 && head.length >= src.size ? head : await src.read(from, src.size - from);
        if (hasZipEndRecord(tail)) heads.push({ kind: 'zip' });
      }
    }
    for (const h of heads) {
      switch (h.kind) {
        case 'format':
          readings.push(content(h.format, h.evidence));
          break;
        case 'opaque-archive':
          readings.push({ format: 'archive', by: 'content', inspected: false, evidence: h.evidence });
          break;
        case 'compressed': {
          const inner = await classifyCompressed(src, h.compression, subject, depth, ctx);
          if (inner.reading) readings.push(inner.reading);
          // A compressed tar is a container like a tar: its members are the files.
          else container = true;
          members.push(...inner.members);
          break;
        }
        case 'safetensors': {
          const v = await inspectSafetensors(src, head, h.headerLength);
          if (v.kind === 'format') readings.push(content(v.format, v.evidence));
          else if (v.kind === 'uninspectable') readings.push(uninspectable(v.evidence));
          else none = v.evidence;
          break;
        }
        case 'hdf5':
          readings.push(await classifyHdf5(src, head, h.offset, ctx));
          break;
        case 'zip': {
          const z = await classifyZip(src, head, subject, depth, ctx);
          if (z.reading) readings.push(z.reading);
          members.push(...z.members);
          break;
        }
        case 'tar': {
          container = true;
          members.push(...(await classifyTar(src, head, subject, depth, ctx, fromConfig)));
          break;
        }
      }
    }
    if (readings.length === 0 && !container) {
      const data = await sniffData(src, head, subject, ctx);
      if (data) readings.push(data);
    }
  } catch (err) {
    if (!(err instanceof ReadBudgetExceeded)) throw err;
    readings.push(budgetReading(ctx.budget, err));
  }
  none ??= noFormatEvidence(head, src.size ?? head.length);
  const forced = claimReadings(subject.hints, readings);
  if (container && readings.length === 0 && forced.length === 0) return { members };
  return { self: fileOf(subject, meta, [...readings, ...forced], none), members };
}

/** The readings a file's claims force: a loader chosen by a `.pkl` name or a pickle media type runs pickle. */
function claimReadings(hints: readonly FormatHint[], readings: readonly Reading[]): Reading[] {
  const out: Reading[] = [];
  for (const h of hints) {
    if (!FORCING_CLAIMS.has(h.format)) continue;
    const top = worst(readings);
    const note = top
      ? `its content reads as ${top.format} (${top.evidence})`
      : 'its content shows no other format';
    out.push({
      format: h.format,
      by: h.source,
      inspected: true,
      evidence: `${h.evidence}: a loader chosen by it opens the file as ${h.format} whatever its bytes; ${note}`,
    });
  }
  return out;
}

// Formats that are one family: a .pt file is a zip or (legacy) a bare pickle, both code on load.
const COMPATIBLE: readonly (readonly ModelFormat[])[] = [
  ['pickle', 'pytorch-zip', 'torchscript'],
  ['keras-h5', 'keras-lambda'],
];

function compatible(a: ModelFormat, b: ModelFormat): boolean {
  return a === b || COMPATIBLE.some((g) => g.includes(a) && g.includes(b));
}

/** The file's verdict from all its readings: the most dangerous one. */
function fileOf(
  subject: Subject,
  meta: { size: number | undefined; verified: boolean },
  readings: readonly Reading[],
  none: string | undefined,
): FileFormat {
  const base = {
    file: subject.file,
    layerDigest: subject.layerDigest,
    mediaType: subject.mediaType,
    size: meta.size ?? -1,
    verified: meta.verified,
    ...(subject.member === undefined ? {} : { member: subject.member }),
  };
  const hint = subject.hints[0];
  const withHint = hint ? { hint } : {};
  const top = worst(readings);
  if (top === undefined) {
    const claim = subject.hints.find((h) => h.format !== 'unknown');
    const evidence = claim
      ? `${claim.evidence} claims ${claim.format}, but the content does not match: ${none ?? 'no known format'}`
      : (none ?? 'no known format');
    return {
      ...base,
      format: 'unknown',
      decidedBy: 'content',
      evidence,
      inspected: true,
      ...withHint,
      ...(claim ? { contradicts: `${claim.evidence} claims ${claim.format}` } : {}),
    };
  }
  const against = subject.hints.find((h) => !compatible(h.format, top.format));
  return {
    ...base,
    format: top.format,
    decidedBy: top.by,
    evidence: top.evidence,
    inspected: top.inspected,
    ...withHint,
    ...(against ? { contradicts: `${against.evidence} claims ${against.format}` } : {}),
    ...(top.ambiguous ? { ambiguous: top.ambiguous } : {}),
  };
}

async function classifyCompressed(
  src: ByteSource,
  c: Compression,
  subject: Subject,
  depth: number,
  ctx: Ctx,
): Promise<{ reading?: Reading; members: readonly FileFormat[] }> {
  if (depth + 1 > ctx.maxDepth) return { reading: tooDeep(ctx, `${c}-compressed data`), members: [] };
  const inner = decompressed(src, c, { maxOutputBytes: ctx.maxInflatedBytes });
  if (inner === undefined) {
    return {
      reading: uninspectable(
        `${c}-compressed: this process cannot decompress ${c}, so its contents cannot be inspected`,
      ),
      members: [],
    };
  }
  const innerSubject: Subject = {
    ...subject,
    hints: subject.hints.map((h) =>
      h.source === 'name'
        ? { ...h, evidence: h.evidence.replace(/^name (.*)$/, (_, n: string) => `name ${inflatedName(n)}`) }
        : h,
    ),
  };
  const got = await classifySource(inner, innerSubject, depth + 1, ctx);
  const self = got.self;
  const reading: Reading | undefined = self
    ? {
        format: self.format,
        by: self.decidedBy === 'none' ? 'content' : self.decidedBy,
        inspected: self.inspected,
        evidence: `${c}-compressed: ${self.evidence}`,
        ...(self.ambiguous ? { ambiguous: self.ambiguous } : {}),
      }
    : undefined;
  return { ...(reading ? { reading } : {}), members: got.members };
}

function tooDeep(ctx: Ctx, what: string): Reading {
  return uninspectable(
    `${what} nested deeper than ${ctx.maxDepth} archive or compression levels: not inspected`,
  );
}

/** HDF5 (Keras .h5): a Lambda layer's config carries Python code that Keras runs when it loads the model. */
async function classifyHdf5(src: ByteSource, head: Uint8Array, offset: number, ctx: Ctx): Promise<Reading> {
  const { bytes, complete } = await prefixOf(src, head, src.verified ? ctx.verifiedBlobBytes : HDF5_SCAN);
  const lambda = kerasCode(latin1Of(bytes));
  if (lambda)
    return content('keras-lambda', `HDF5 signature at offset ${offset}, Keras model config with ${lambda}`);
  return content(
    'keras-h5',
    `HDF5 signature at offset ${offset}${complete ? ', no Lambda layer in the file' : `, no Lambda layer in the first ${bytes.length} bytes`}`,
  );
}

function latin1Of(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

/** What in a Keras model config runs code: a Lambda layer (marshalled Python), or a class from outside Keras. */
function kerasCode(text: string): string | undefined {
  const lambda = /"class_name"\s*:\s*"(Lambda|TFOpLambda|__lambda__)"/.exec(text)?.[1];
  if (lambda) return `a ${lambda} layer (Python code run on load)`;
  for (const m of text.matchAll(/"module"\s*:\s*"([^"]{0,200})"/g)) {
    const mod = m[1]!;
    if (!/^(?:keras|tensorflow|tf_keras)(?:\.|$)/.test(mod)) {
      return `a class from module ${JSON.stringify(mod.slice(0, 60))} (imported on load)`;
    }
  }
  return undefined;
}

async function classifyZip(
  src: ByteSource,
  head: Uint8Array,
  subject: Subject,
  depth: number,
  ctx: Ctx,
): Promise<{ reading?: Reading; members: readonly FileFormat[] }> {
  const listing = await listZip(src, head);
  const startsAsZip = head[0] === 0x50 && head[1] === 0x4b;
  // An end record found in the tail of a file that does not start as one, that zipfile cannot open
  // either: not a zip to any consumer.
  if (!startsAsZip && !listing.complete && listing.members.length === 0 && !listing.ambiguous)
    return { members: [] };
  if (listing.ambiguous) {
    return {
      reading: uninspectable(
        `zip archive that two readers would list differently: ${listing.ambiguous}`,
        listing.ambiguous,
      ),
      members: [],
    };
  }
  if (depth + 1 > ctx.maxDepth) return { reading: tooDeep(ctx, 'zip archive'), members: [] };
  const names = listing.members.map((m) => m.name.toLowerCase());
  const files = names.filter((n) => !n.endsWith('/'));
  const sample = files
    .slice(0, 3)
    .map((n) => printable(n, 60))
    .join(', ');
  const torchPickle = files.find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  // A PyTorch or TorchScript archive is code on load whatever else it holds: its members need no reading.
  if (
    files.some((n) => /(^|\/)code\/__torch__\//.test(n)) &&
    files.some((n) => /(^|\/)constants\.pkl$/.test(n))
  ) {
    return {
      reading: content(
        'torchscript',
        'TorchScript archive (code/__torch__ sources and constants.pkl; torch.jit.load runs them)',
      ),
      members: [],
    };
  }
  if (torchPickle !== undefined && !files.every((n) => n.endsWith('.npy'))) {
    return {
      reading: content('pytorch-zip', `zip archive with pickle member ${printable(torchPickle)}`),
      members: [],
    };
  }
  const inner = await classifyMembers(listing, subject, depth, ctx);
  const innerWorst = worst(inner.map(asReading));
  let kind: Reading;
  if (files.length > 0 && files.every((n) => n.endsWith('.npy'))) {
    kind = content('numpy', `npz archive of ${files.length} .npy arrays`);
  } else if (
    files.includes('config.json') &&
    files.some((n) => n.endsWith('.weights.h5') || n === 'metadata.json')
  ) {
    const config = inner.find(
      (f) => f.member?.toLowerCase().endsWith('config.json') && !f.member.includes('/'),
    );
    const text = await memberText(listing, 'config.json', ctx);
    const code = text === undefined ? undefined : kerasCode(text);
    kind = code
      ? content('keras-lambda', `Keras v3 archive whose config.json has ${code}`)
      : text === undefined
        ? uninspectable(
            `Keras v3 archive whose config.json could not be read${config ? ` (${config.evidence})` : ''}`,
          )
        : content('keras-h5', 'Keras v3 archive (config.json + weights), no Lambda layer in its config');
  } else {
    // Any other zip: each member is a file of its own once extracted, and judged as one.
    const why = listing.complete ? '' : `; listing incomplete: ${listing.problem ?? 'truncated'}`;
    const reading = listing.complete
      ? content('archive', `zip archive of ${files.length} entries (${sample || 'empty'})`)
      : uninspectable(`zip archive that could not be listed completely${why}`);
    return { reading, members: inner };
  }
  // A framework archive is loaded as one file: its members fold into its verdict.
  if (!listing.complete) {
    return {
      reading: worstOf(kind, uninspectable(`zip listing incomplete: ${listing.problem ?? 'truncated'}`)),
      members: [],
    };
  }
  if (innerWorst && danger(innerWorst) > danger(kind) && DANGER[innerWorst.format] >= DANGER.code) {
    return {
      reading: { ...innerWorst, evidence: `${kind.evidence}, with member ${innerWorst.evidence}` },
      members: [],
    };
  }
  return { reading: kind, members: [] };
}

function worstOf(a: Reading, b: Reading): Reading {
  return danger(b) > danger(a) ? b : a;
}

function asReading(f: FileFormat): Reading {
  return {
    format: f.format,
    by: f.decidedBy === 'none' ? 'content' : f.decidedBy,
    inspected: f.inspected,
    evidence: `${f.member ?? f.file}: ${f.evidence}`,
    ...(f.ambiguous ? { ambiguous: f.ambiguous } : {}),
  };
}

async function memberText(listing: ArchiveListing, name: string, ctx: Ctx): Promise<string | undefined> {
  const m = listing.members.find((x) => x.name.toLowerCase() === name);
  if (m === undefined || m.uninspectable !== undefined) return undefined;
  const got = await m.source.read(0, Math.min(m.size ?? ctx.verifiedBlobBytes, ctx.verifiedBlobBytes));
  return latin1Of(got);
}

async function classifyTar(
  src: ByteSource,
  head: Uint8Array,
  subject: Subject,
  depth: number,
  ctx: Ctx,
  fromConfig?: { format: ModelFormat; evidence: string },
): Promise<FileFormat[]> {
  const listing = await listTar(src, head);
  if (listing.ambiguous) {
    return [
      fileOf(
        { ...subject, file: `${subject.file} (tar)` },
        { size: src.size, verified: src.verified },
        [
          uninspectable(
            `tar archive that two readers would list differently: ${listing.ambiguous}`,
            listing.ambiguous,
          ),
        ],
        undefined,
      ),
    ];
  }
  if (depth + 1 > ctx.maxDepth) {
    return [
      fileOf(subject, { size: src.size, verified: src.verified }, [tooDeep(ctx, 'tar archive')], undefined),
    ];
  }
  const out = await classifyMembers(listing, subject, depth, ctx, fromConfig);
  if (!listing.complete) {
    out.push(
      fileOf(
        { ...subject, file: `${subject.file} (rest of the tar)` },
        { size: src.size, verified: src.verified },
        [uninspectable(`tar listing stopped: ${listing.problem ?? 'incomplete'}`)],
        undefined,
      ),
    );
  }
  return out;
}

/** Classifies each member of an archive by its own bytes, with its name as its claim; links follow their targets. */
async function classifyMembers(
  listing: ArchiveListing,
  subject: Subject,
  depth: number,
  ctx: Ctx,
  fromConfig?: { format: ModelFormat; evidence: string },
): Promise<FileFormat[]> {
  const out: FileFormat[] = [];
  const byPath = new Map<string, FileFormat[]>();
  const links: { path: string; link: string; sub: Subject }[] = [];
  for (const m of listing.members) {
    ctx.signal.throwIfAborted();
    const path = normalizePath(m.name);
    if (m.name.endsWith('/') && (m.size ?? 0) === 0 && m.link === undefined) continue; // a directory
    const member = subject.member === undefined ? path : `${subject.member}:${path}`;
    const hints = memberHints(path);
    const sub: Subject = {
      file: `${subject.file}:${path}`,
      layerDigest: subject.layerDigest,
      mediaType: subject.mediaType,
      member,
      hints:
        hints.length > 0
          ? hints
          : fromConfig
            ? [{ format: fromConfig.format, source: 'mediaType', evidence: fromConfig.evidence }]
            : [],
    };
    if (m.link !== undefined) {
      links.push({ path, link: m.link, sub });
      continue;
    }
    const meta = { size: m.size, verified: m.source.verified };
    if (m.uninspectable !== undefined) {
      out.push(fileOf(sub, meta, [uninspectable(`member not inspectable: ${m.uninspectable}`)], undefined));
      continue;
    }
    let got: Classified;
    try {
      got = await classifySource(m.source, sub, depth + 1, ctx);
    } catch (err) {
      if (!(err instanceof ReadBudgetExceeded)) throw err;
      got = { self: fileOf(sub, meta, [budgetReading(ctx.budget, err)], undefined), members: [] };
    }
    const mine = [...(got.self ? [got.self] : []), ...got.members];
    byPath.set(path, mine);
    out.push(...mine);
  }
  for (const { path, link, sub } of links) {
    const target = normalizePath(link.startsWith('/') ? link : `${dirOf(path)}${link}`);
    const seen = byPath.get(target)?.[0];
    if (seen !== undefined) {
      out.push({
        ...seen,
        file: sub.file,
        ...(sub.member ? { member: sub.member } : {}),
        evidence: `link to ${printable(target)}: ${seen.evidence}`,
      });
    } else {
      out.push(
        fileOf(
          sub,
          { size: 0, verified: false },
          [uninspectable(`link to ${printable(target)}, which is not a file classified in this archive`)],
          undefined,
        ),
      );
    }
  }
  return out;
}

/** The data formats of model repositories (tokenizers, JSON, text), judged on the whole file where it can be read. */
async function sniffData(
  src: ByteSource,
  head: Uint8Array,
  subject: Subject,
  ctx: Ctx,
): Promise<Reading | undefined> {
  if (head.length === 0) return undefined;
  const { bytes, complete } = await prefixOf(src, head, wholeLimit(src, ctx));
  const sp = sniffSentencePiece(bytes, complete);
  if (sp) return content(sp.format, sp.evidence);
  const tk = sniffTiktoken(bytes, complete);
  if (tk) return content(tk.format, tk.evidence);
  const text = sniffText(bytes, complete, src.size ?? bytes.length);
  if (!text) return undefined;
  // PyYAML's unsafe loaders are chosen for YAML files: a Python tag there is code.
  if (/\.ya?ml$/i.test(subject.member ?? subject.file)) {
    const tag = yamlPythonTag(utf8Text(bytes) ?? '');
    if (tag)
      return content('code', `YAML with the Python tag ${tag} (PyYAML's unsafe loaders call Python objects)`);
  }
  return content(text.format, text.evidence);
}

function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i + 1);
}
