export { checkMlBom } from './check.ts';
export type { BomCandidate, BomOrigin, FoundBoms, LoadedBom } from './find.ts';
export { findAttestedBoms, findStoredBoms, loadBom, MAX_BOM_BYTES } from './find.ts';
export type { BomEvaluation, BomRules } from './rules.ts';
export { evaluateBom, hashMatch, missingFields, modelComponents } from './rules.ts';
export type { SchemaError } from './schema.ts';
export { validateCycloneDx, warmUpCycloneDxValidator } from './schema.ts';
