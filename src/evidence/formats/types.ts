import type { ModelFormat } from '../../policy/schema.ts';

/** What the bytes of a file say. `uninspectable` means they could not be read far enough to tell. */
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

/** The classification of one file: a layer, or a member of a tarred layer. */
export interface FileFormat {
  /** The file's name (layer title, filepath annotation, or tar member path); the layer digest if none. */
  readonly file: string;
  readonly layerDigest: string;
  /** Path inside a tarred layer. */
  readonly member?: string;
  readonly mediaType: string;
  readonly size: number;
  readonly format: ModelFormat;
  readonly decidedBy: DecidedBy;
  readonly evidence: string;
  /** False when the content could not be read far enough (compressed, budget, truncated archive). */
  readonly inspected: boolean;
  readonly hint?: FormatHint;
  /** Set when the content contradicts what the media type or name claims. */
  readonly contradicts?: string;
}
