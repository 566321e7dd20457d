/**
 * CycloneDX fields modelgate reads (and their neighbours), for the strict JSON reader. cyclonedx-go
 * decodes with encoding/json, which fills them from any case variant, so any other spelling of one is
 * refused: in an ML-BOM layer or referrer, and in a signed CycloneDX attestation's predicate. A leaf:
 * the statement parser imports it too.
 */
export const CYCLONEDX_FIELD_NAMES: readonly string[] = [
  'bomFormat',
  'specVersion',
  'serialNumber',
  'version',
  'metadata',
  'component',
  'components',
  'type',
  'name',
  'group',
  'description',
  'hashes',
  'alg',
  'content',
  'purl',
  'bom-ref',
  'modelCard',
  'modelParameters',
  'datasets',
  'manufacturer',
  'supplier',
  'externalReferences',
  'url',
  'properties',
  'value',
  'licenses',
];
