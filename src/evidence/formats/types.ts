import type { ModelFormat } from '../../policy/schema.ts';

/** What the bytes of a file say (one reading). `uninspectable` means they could not be read far enough to tell. */
export type ContentVerdict =
  | { readonly kind: 'format'; readonly format: ModelFormat; readonly evidence: string }
  | { readonly kind: 'none'; readonly evidence: string }
  | { readonly kind: 'uninspectable'; readonly evidence: string };

export type DecidedBy = 'mediaType' | 'name' | 'content' | 'none';

/** A format suggested by a layer's media type (or its model config) or by a file name. */
export interface FormatHint {
  readonly format: ModelFormat;
  readonly source: 'mediaType' | 'name';
  /** e.g. `media type application/vnd.docker.ai.gguf.v3`, `name model.safetensors`. */
  readonly evidence: string;
}

/** The classification of one file: a layer, or a member of an archive (at any depth). */
export interface FileFormat {
  /**
   * The file's name (layer title, ModelPack filepath annotation, Kitfile path) with `:member` for each
   * archive level; the layer digest if the layer has no name.
   */
  readonly file: string;
  readonly layerDigest: string;
  /** Path inside the layer: a member path, joined with `:` across nested archives. */
  readonly member?: string;
  readonly mediaType: string;
  /** Bytes; -1 when unknown (an inflated stream not read to its end). */
  readonly size: number;
  readonly format: ModelFormat;
  readonly decidedBy: DecidedBy;
  readonly evidence: string;
  /** False when the content could not be read far enough (compressed, budget, truncated archive). */
  readonly inspected: boolean;
  readonly hint?: FormatHint;
  /** Set when the content contradicts what the media type or name claims. */
  readonly contradicts?: string;
  /**
   * True when every byte judged was digest-checked (the blob was fetched whole and hashed). False: read
   * by Range, which the registry could answer with other bytes than the full GET (docs/performance.md).
   */
  readonly verified: boolean;
  /** Set when two consumers could read the bytes differently (refused with ARTIFACT_AMBIGUOUS). */
  readonly ambiguous?: string;
}
