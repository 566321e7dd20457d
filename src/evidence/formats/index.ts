export type { FormatCheckOptions } from './check.ts';
export { checkFormats, formatCheck, judgeFile } from './check.ts';
export type { ArtifactFormats, ClassifyOptions, OtherFile } from './classify.ts';
export {
  classifyArtifact,
  DEFAULT_MAX_DEPTH,
  DEFAULT_READ_BUDGET,
  layerEntries,
  weightLayers,
} from './classify.ts';
export type { LayerRole, OtherRole } from './hints.ts';
export { layerClaims, mediaTypeInfo, nameInfo } from './hints.ts';
export { DEFAULT_VERIFIED_BLOB_BYTES } from './source.ts';
export type { ContentVerdict, DecidedBy, FileFormat, FormatHint } from './types.ts';
