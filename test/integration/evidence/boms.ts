// ML-BOMs made by the real CycloneDX JavaScript library (its models and its 1.6 JSON serializer).
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';

export interface BomOptions {
  /** Digests the model component carries (`sha256:<hex>`), e.g. the manifest's. */
  readonly modelDigests?: readonly string[];
  /** Weight files as sub-components of type file, each with its digest. */
  readonly files?: readonly { readonly name: string; readonly digest: string }[];
  readonly license?: string;
  readonly version?: string;
}

const hashes = (digests: readonly string[]) =>
  new Models.HashDictionary(
    digests.map((d) => [Enums.HashAlgorithm['SHA-256'], d.replace(/^sha256:/, '')] as const),
  );

/** A CycloneDX 1.6 ML-BOM, serialized by the library. */
export function libraryBom(opts: BomOptions = {}): string {
  const bom = new Models.Bom();
  bom.metadata.timestamp = new Date('2025-01-01T00:00:00Z');
  const model = new Models.Component(Enums.ComponentType.MachineLearningModel, 'tiny-model', {
    bomRef: 'model',
    ...(opts.version === undefined ? {} : { version: opts.version }),
    hashes: hashes(opts.modelDigests ?? []),
  });
  if (opts.license) model.licenses.add(new Models.SpdxLicense(opts.license));
  for (const f of opts.files ?? []) {
    model.components.add(
      new Models.Component(Enums.ComponentType.File, f.name, {
        bomRef: `file:${f.name}`,
        hashes: hashes([f.digest]),
      }),
    );
  }
  bom.components.add(model);
  bom.components.add(new Models.Component(Enums.ComponentType.Library, 'safetensors', { version: '0.7.0' }));
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: false, space: 2 });
}
