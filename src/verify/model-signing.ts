/**
 * OpenSSF model signing (`model_signing`): what a verified signature says
 * about an OCI artifact's files. The statement lists `resources` (files, or
 * shards of files) with their sha256; its subject digest is sha256 over the
 * resources' raw digests in listed order. Each resource is bound to the layer
 * with its path as title and its sha256 as digest: the registry's content
 * addressing ties those digests to the manifest digest, so no weight file is
 * read.
 */
import { createHash } from 'node:crypto';
import { type Descriptor, layerTitle } from '../oci/types.ts';
import {
  type InTotoStatement,
  MODEL_SIGNING_DIGESTS_PREDICATE,
  MODEL_SIGNING_PREDICATE,
} from './statement.ts';

export type FileBinding =
  | {
      readonly ok: true;
      /** Indexes (in the layer list) of the layers the signature covers. */
      readonly covered: ReadonlySet<number>;
      /** The serialization, for reports. */
      readonly method: string;
      readonly resources: number;
    }
  | { readonly ok: false; readonly error: string };

const HEX = /^[0-9a-f]+$/;

/** Whether a statement is an OpenSSF model signature (any version this verifier knows). */
export function isModelSigningStatement(s: InTotoStatement): boolean {
  return s.predicateType === MODEL_SIGNING_PREDICATE || s.predicateType === MODEL_SIGNING_DIGESTS_PREDICATE;
}

/** A path as both sides write it: POSIX, without a leading `./`. */
export function normalizePath(p: string): string {
  let out = p.replace(/\\/g, '/');
  while (out.startsWith('./')) out = out.slice(2);
  return out;
}

interface FileEntry {
  readonly path: string;
  /** Whole-file sha256 (hex), when the resource (or its only shard) gives it. */
  readonly sha256?: string;
  /** Why the file cannot be bound to a layer digest, when it cannot. */
  readonly unbindable?: string;
  /** For a single shard: its end, which must equal the file's size. */
  readonly size?: number;
}

/** Binds a verified model-signing statement to the artifact's layers. */
export function bindModelSigning(statement: InTotoStatement, layers: readonly Descriptor[]): FileBinding {
  const files =
    statement.predicateType === MODEL_SIGNING_PREDICATE ? filesOfV1(statement) : filesOfDigestsV01(statement);
  if (!files.ok) return files;
  return bindFiles(files.files, layers, files.method, files.resources);
}

function filesOfV1(
  s: InTotoStatement,
): { ok: true; files: FileEntry[]; method: string; resources: number } | { ok: false; error: string } {
  const predicate = s.predicate as { serialization?: unknown; resources?: unknown } | undefined;
  if (typeof predicate !== 'object' || predicate === null) return { ok: false, error: 'no predicate' };
  const serialization = predicate.serialization as { method?: unknown; hash_type?: unknown } | undefined;
  const method = serialization?.method;
  if (method !== 'files' && method !== 'shards') {
    return { ok: false, error: `serialization method ${String(method)} is not files or shards` };
  }
  if (!Array.isArray(predicate.resources)) return { ok: false, error: 'no resources list' };
  if (s.subject.length !== 1) return { ok: false, error: `expected one subject, found ${s.subject.length}` };
  const root = s.subject[0]!.digest.sha256;
  if (root === undefined) return { ok: false, error: 'subject has no sha256 root digest' };

  // The root digest: sha256 over each resource's raw digest, in the listed order.
  const hasher = createHash('sha256');
  const byPath = new Map<string, { start: number; end: number; digest: string; algorithm: string }[]>();
  const names = new Set<string>();
  for (const [i, raw] of predicate.resources.entries()) {
    const r = raw as { name?: unknown; digest?: unknown; algorithm?: unknown };
    if (typeof r?.name !== 'string' || typeof r.digest !== 'string' || typeof r.algorithm !== 'string') {
      return { ok: false, error: `resource ${i} lacks a name, digest or algorithm` };
    }
    const digest = r.digest.toLowerCase();
    if (!HEX.test(digest) || digest.length % 2 !== 0)
      return { ok: false, error: `resource ${r.name}: digest is not hex` };
    if (names.has(r.name)) return { ok: false, error: `resource ${r.name} is listed twice` };
    names.add(r.name);
    hasher.update(Buffer.from(digest, 'hex'));
    let path = r.name;
    let start = 0;
    let end = -1;
    if (method === 'shards') {
      const m = /^(.*):(\d+):(\d+)$/.exec(r.name);
      if (!m) return { ok: false, error: `shard resource ${r.name} is not path:start:end` };
      path = m[1]!;
      start = Number(m[2]);
      end = Number(m[3]);
      if (!(end > start) && !(start === 0 && end === 0)) {
        return { ok: false, error: `shard resource ${r.name} is empty or reversed` };
      }
    }
    path = normalizePath(path);
    const list = byPath.get(path) ?? [];
    list.push({ start, end, digest, algorithm: r.algorithm });
    byPath.set(path, list);
  }
  const computed = hasher.digest('hex');
  if (computed !== root.toLowerCase()) {
    return {
      ok: false,
      error: `the resources hash to sha256:${computed}, not to the signed root digest sha256:${root}`,
    };
  }

  const files: FileEntry[] = [];
  for (const [path, parts] of byPath) {
    const sha256 = (a: string) => a === 'sha256' || /^sha256-sharded-\d+$/.test(a);
    if (parts.some((p) => !sha256(p.algorithm))) {
      files.push({
        path,
        unbindable: `hashed with ${parts[0]?.algorithm}: only sha256 can be matched with OCI layer digests`,
      });
      continue;
    }
    if (method === 'files') {
      files.push({ path, sha256: parts[0]!.digest });
      continue;
    }
    if (parts.length === 1 && parts[0]!.start === 0) {
      files.push({ path, sha256: parts[0]!.digest, size: parts[0]!.end });
    } else {
      files.push({
        path,
        unbindable: `signed as ${parts.length} shards: a shard's digest cannot be matched with the layer digest without reading the file (sign with files serialization, or a shard size at least the file size)`,
      });
    }
  }
  return { ok: true, files, method, resources: predicate.resources.length };
}

/** The v0.1 `Digests` predicate: each subject is one file with its sha256; there is no root digest. */
function filesOfDigestsV01(
  s: InTotoStatement,
): { ok: true; files: FileEntry[]; method: string; resources: number } | { ok: false; error: string } {
  const files: FileEntry[] = [];
  const seen = new Set<string>();
  for (const sub of s.subject) {
    if (sub.name === undefined) return { ok: false, error: 'a subject has no name' };
    const sha = sub.digest.sha256;
    if (sha === undefined || !HEX.test(sha))
      return { ok: false, error: `subject ${sub.name} has no sha256 digest` };
    const path = normalizePath(sub.name);
    if (seen.has(path)) return { ok: false, error: `subject ${sub.name} is listed twice` };
    seen.add(path);
    files.push({ path, sha256: sha });
  }
  if (files.length === 0) return { ok: false, error: 'no subjects' };
  return { ok: true, files, method: 'digests-v0.1', resources: files.length };
}

function bindFiles(
  files: readonly FileEntry[],
  layers: readonly Descriptor[],
  method: string,
  resources: number,
): FileBinding {
  const byTitle = new Map<string, number[]>();
  layers.forEach((l, i) => {
    const title = layerTitle(l);
    if (title === undefined) return;
    const key = normalizePath(title);
    byTitle.set(key, [...(byTitle.get(key) ?? []), i]);
  });
  const covered = new Set<number>();
  for (const f of files) {
    const at = byTitle.get(f.path);
    if (at === undefined) return { ok: false, error: `signed file ${f.path} is not in the artifact` };
    if (f.unbindable !== undefined) return { ok: false, error: `signed file ${f.path}: ${f.unbindable}` };
    for (const i of at) {
      const layer = layers[i]!;
      const want = `sha256:${f.sha256}`;
      if (layer.digest.toLowerCase() !== want) {
        return {
          ok: false,
          error: `layer ${f.path} has digest ${layer.digest}, but the signature covers ${want}`,
        };
      }
      if (f.size !== undefined && layer.size !== f.size) {
        return {
          ok: false,
          error: `layer ${f.path} has ${layer.size} bytes, but its signed shard ends at ${f.size}`,
        };
      }
      covered.add(i);
    }
  }
  return { ok: true, covered, method, resources };
}
