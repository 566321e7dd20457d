import type { Descriptor, Manifest } from '../../oci/types.ts';
import type { ModelFormat } from '../../policy/schema.ts';
import { printable, utf8Text } from '../bytes.ts';
import type { ArtifactEvidence } from '../types.ts';
import {
  baseMediaType,
  configFormatValue,
  hintOf,
  layerClaims,
  MODELPACK_CONFIGS,
  nameInfo,
  type OtherRole,
} from './hints.ts';
import { inspectSafetensors } from './safetensors.ts';
import { HEAD_BYTES, type HeadVerdict, sniffHead } from './sniff.ts';
import { BlobWindow, ReadBudget, ReadBudgetExceeded } from './source.ts';
import { listTar, type TarMember } from './tar.ts';
import type { ContentVerdict, FileFormat, FormatHint } from './types.ts';
import { inspectZip } from './zip.ts';

const MiB = 1024 * 1024;
/** Bytes read at most to classify the files of one artifact (a 2 GiB file needs a few KiB). */
export const DEFAULT_READ_BUDGET = 8 * MiB;
/** Model configs (for ModelPack's `config.format`) larger than this are not read. */
const MAX_MODEL_CONFIG = MiB;
const DEFAULT_CONCURRENCY = 4;

export interface ClassifyOptions {
  /** Read the files' first bytes. False: classify by media type and name only, with no I/O. */
  readonly sniff: boolean;
  readonly budgetBytes?: number;
  readonly concurrency?: number;
}

/** A layer (or tar member) that is not a weight file: never judged against the format rules. */
export interface OtherFile {
  readonly file: string;
  readonly layerDigest: string;
  readonly member?: string;
  readonly mediaType: string;
  readonly role: OtherRole;
}

export interface ArtifactFormats {
  readonly files: readonly FileFormat[];
  readonly others: readonly OtherFile[];
  readonly bytesRead: number;
  readonly requests: number;
  readonly budgetBytes: number;
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

/** The layers that are weight files by their media type and name (no I/O). */
export function weightLayers(e: ArtifactEvidence): Descriptor[] {
  return layerEntries(e)
    .map((x) => x.layer)
    .filter((l) => layerClaims(l).role === 'weight');
}

/** Classifies every weight file of an artifact. Reader errors propagate; budget exhaustion does not. */
export async function classifyArtifact(
  e: ArtifactEvidence,
  opts: ClassifyOptions,
  signal: AbortSignal,
): Promise<ArtifactFormats> {
  const budget = new ReadBudget(opts.budgetBytes ?? DEFAULT_READ_BUDGET);
  const configs = new Map<string, Promise<{ format: ModelFormat; evidence: string } | undefined>>();
  const inspections = new Map<string, Promise<Inspection>>();
  const entries = layerEntries(e);
  const results: { files: FileFormat[]; others: OtherFile[] }[] = entries.map(() => ({
    files: [],
    others: [],
  }));

  const configFormat = (config: Descriptor | undefined) => {
    if (config === undefined || !MODELPACK_CONFIGS.has(baseMediaType(config.mediaType))) {
      return Promise.resolve(undefined);
    }
    let p = configs.get(config.digest);
    if (p === undefined) {
      p = readConfigFormat(e, config, budget, signal);
      configs.set(config.digest, p);
    }
    return p;
  };

  const one = async (i: number) => {
    const { layer, config } = entries[i]!;
    const claims = layerClaims(layer);
    const out = results[i]!;
    const file = claims.name ?? layer.digest;
    if (claims.role !== 'weight') {
      out.others.push({ file, layerDigest: layer.digest, mediaType: layer.mediaType, role: claims.role });
      return;
    }
    if (!opts.sniff) {
      out.files.push(unread(layer, file, hintOf(layer.mediaType, claims, claims.name)));
      return;
    }
    const fromConfig = claims.mediaType.modelPack ? await configFormat(config) : undefined;
    const hint = hintOf(layer.mediaType, claims, claims.name, fromConfig);
    await classifyLayer(e, layer, file, hint, fromConfig, budget, signal, inspections, out);
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
    ...(hint ? { hint } : {}),
  };
}

async function readConfigFormat(
  e: ArtifactEvidence,
  config: Descriptor,
  budget: ReadBudget,
  signal: AbortSignal,
): Promise<{ format: ModelFormat; evidence: string } | undefined> {
  if (config.size > MAX_MODEL_CONFIG) return undefined;
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
  let json: unknown;
  try {
    json = JSON.parse(utf8Text(bytes) ?? '');
  } catch {
    return undefined;
  }
  const value = (json as { config?: { format?: unknown } } | null)?.config?.format;
  const format = configFormatValue(value);
  return format === undefined
    ? undefined
    : { format, evidence: `model config format ${JSON.stringify(String(value).slice(0, 40))}` };
}

type Inspection =
  | { kind: 'content'; verdict: ContentVerdict }
  | { kind: 'tar'; w: BlobWindow; head: Uint8Array };

/** What a blob's bytes say; the same blob under several names is read once. */
function inspectBlob(
  e: ArtifactEvidence,
  layer: Descriptor,
  budget: ReadBudget,
  signal: AbortSignal,
  cache: Map<string, Promise<Inspection>>,
): Promise<Inspection> {
  let p = cache.get(layer.digest);
  if (p === undefined) {
    p = (async (): Promise<Inspection> => {
      const w = BlobWindow.ofBlob(e.reader, layer, budget, signal);
      try {
        const head = await w.read(0, HEAD_BYTES);
        const v = sniffHead(head, layer.size);
        if (v.kind === 'tar') return { kind: 'tar', w, head };
        return { kind: 'content', verdict: await resolve(w, head, v) };
      } catch (err) {
        if (!(err instanceof ReadBudgetExceeded)) throw err;
        return { kind: 'content', verdict: budgetVerdict(budget) };
      }
    })();
    cache.set(layer.digest, p);
  }
  return p;
}

async function classifyLayer(
  e: ArtifactEvidence,
  layer: Descriptor,
  file: string,
  hint: FormatHint | undefined,
  fromConfig: { format: ModelFormat; evidence: string } | undefined,
  budget: ReadBudget,
  signal: AbortSignal,
  cache: Map<string, Promise<Inspection>>,
  out: { files: FileFormat[]; others: OtherFile[] },
): Promise<void> {
  const base = { file, layerDigest: layer.digest, mediaType: layer.mediaType, size: layer.size };
  const got = await inspectBlob(e, layer, budget, signal, cache);
  if (got.kind === 'content') out.files.push(decide(base, got.verdict, hint));
  else await classifyTar(got.w, got.head, base, fromConfig, out);
}

async function classifyTar(
  w: BlobWindow,
  head: Uint8Array,
  base: { file: string; layerDigest: string; mediaType: string; size: number },
  fromConfig: { format: ModelFormat; evidence: string } | undefined,
  out: { files: FileFormat[]; others: OtherFile[] },
): Promise<void> {
  let listing: Awaited<ReturnType<typeof listTar>>;
  try {
    listing = await listTar(w, head, HEAD_BYTES);
  } catch (err) {
    if (!(err instanceof ReadBudgetExceeded)) throw err;
    out.files.push(decide(base, budgetVerdict(w.budget), undefined));
    return;
  }
  const byName = new Map<string, FileFormat>();
  const links: TarMember[] = [];
  for (const m of listing.members) {
    const member = normalizePath(m.name);
    const ni = nameInfo(member);
    const mbase = { ...base, file: `${base.file}:${member}`, member, size: m.size };
    if (m.link !== undefined) {
      links.push(m);
      continue;
    }
    if (ni.role !== undefined && ni.hint === undefined) {
      out.others.push({
        file: mbase.file,
        layerDigest: base.layerDigest,
        member,
        mediaType: base.mediaType,
        role: ni.role,
      });
      continue;
    }
    const hint: FormatHint | undefined =
      ni.hint !== undefined
        ? { format: ni.hint, source: 'name', evidence: `name ${printable(member, 120)}` }
        : fromConfig
          ? { format: fromConfig.format, source: 'mediaType', evidence: fromConfig.evidence }
          : undefined;
    let f: FileFormat;
    try {
      const sub = w.sub(m.offset, m.size);
      const v = sniffHead(m.head, m.size);
      const verdict: ContentVerdict =
        v.kind === 'tar'
          ? { kind: 'uninspectable', evidence: 'tar archive inside a tarred layer' }
          : await resolve(sub, m.head, v);
      f = decide(mbase, verdict, hint);
    } catch (err) {
      if (!(err instanceof ReadBudgetExceeded)) throw err;
      f = decide(mbase, budgetVerdict(w.budget), hint);
    }
    byName.set(member, f);
    out.files.push(f);
  }
  for (const m of links) {
    const member = normalizePath(m.name);
    const target = normalizePath(m.link!.startsWith('/') ? m.link! : `${dirOf(member)}${m.link!}`);
    const ni = nameInfo(member);
    const mbase = { ...base, file: `${base.file}:${member}`, member, size: 0 };
    const seen = byName.get(target);
    if (seen !== undefined) {
      out.files.push({
        ...seen,
        ...mbase,
        size: seen.size,
        evidence: `link to ${printable(target)}: ${seen.evidence}`,
      });
    } else if (ni.role !== undefined && ni.hint === undefined) {
      out.others.push({
        file: mbase.file,
        layerDigest: base.layerDigest,
        member,
        mediaType: base.mediaType,
        role: ni.role,
      });
    } else {
      out.files.push(
        decide(
          mbase,
          {
            kind: 'uninspectable',
            evidence: `link to ${printable(target)}, which is not a file classified in this layer`,
          },
          undefined,
        ),
      );
    }
  }
  if (!listing.complete) {
    out.files.push(
      decide(
        { ...base, file: `${base.file} (rest of the tar)` },
        { kind: 'uninspectable', evidence: `tar listing stopped: ${listing.problem ?? 'incomplete'}` },
        undefined,
      ),
    );
  }
}

async function resolve(w: BlobWindow, head: Uint8Array, v: HeadVerdict): Promise<ContentVerdict> {
  switch (v.kind) {
    case 'zip':
      return inspectZip(w, head);
    case 'safetensors':
      return inspectSafetensors(w, head, v.headerLength);
    case 'tar':
      return { kind: 'uninspectable', evidence: 'nested tar archive' };
    default:
      return v;
  }
}

function budgetVerdict(budget: ReadBudget): ContentVerdict {
  return {
    kind: 'uninspectable',
    evidence: `not inspected: the artifact's read budget of ${budget.limit} bytes is spent`,
  };
}

// Formats that are one family: a .pt file is a zip or (legacy) a bare pickle, both code on load.
const COMPATIBLE: readonly (readonly ModelFormat[])[] = [['pickle', 'pytorch-zip']];

function compatible(a: ModelFormat, b: ModelFormat): boolean {
  return a === b || COMPATIBLE.some((g) => g.includes(a) && g.includes(b));
}

/** Combines what the content says with what the media type or name claims: content wins. */
export function decide(
  base: { file: string; layerDigest: string; mediaType: string; size: number; member?: string },
  v: ContentVerdict,
  hint: FormatHint | undefined,
): FileFormat {
  const withHint = hint ? { hint } : {};
  if (v.kind === 'format') {
    const contradicts =
      hint && !compatible(hint.format, v.format) ? `${hint.evidence} claims ${hint.format}` : undefined;
    return {
      ...base,
      format: v.format,
      decidedBy: 'content',
      evidence: v.evidence,
      inspected: true,
      ...withHint,
      ...(contradicts ? { contradicts } : {}),
    };
  }
  if (v.kind === 'uninspectable') {
    return {
      ...base,
      format: 'unknown',
      decidedBy: 'content',
      evidence: v.evidence,
      inspected: false,
      ...withHint,
    };
  }
  // Protocol 0/1 pickles have no signature: a pickle claim the content does not contradict stands.
  if (hint?.format === 'pickle') {
    return {
      ...base,
      format: 'pickle',
      decidedBy: hint.source,
      evidence: `${hint.evidence}; content shows no other format (${v.evidence})`,
      inspected: true,
      hint,
    };
  }
  if (hint) {
    return {
      ...base,
      format: 'unknown',
      decidedBy: 'content',
      evidence: `${hint.evidence} claims ${hint.format}, but the content does not match: ${v.evidence}`,
      inspected: true,
      hint,
      contradicts: `${hint.evidence} claims ${hint.format}`,
    };
  }
  return { ...base, format: 'unknown', decidedBy: 'content', evidence: v.evidence, inspected: true };
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
