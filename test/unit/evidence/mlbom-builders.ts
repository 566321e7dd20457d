// CycloneDX 1.6 ML-BOMs as typed builders (the integration tests use the real library's serializer).
import type { AttestationSource, VerifiedStatement } from '../../../src/evidence/attestations.ts';

export type Hash = { alg: string; content: string };

export const hashOf = (digest: string): Hash => {
  const [alg, hex] = digest.split(':') as [string, string];
  return { alg: alg === 'sha512' ? 'SHA-512' : 'SHA-256', content: hex };
};

export interface BomSpec {
  modelHashes?: Hash[];
  /** Sub-components (e.g. one `file` component per weight file) of the model component. */
  files?: { name: string; hashes: Hash[] }[];
  modelCard?: Record<string, unknown>;
  components?: Record<string, unknown>[];
  asMetadataComponent?: boolean;
  noModel?: boolean;
}

export function mlBom(spec: BomSpec = {}): Record<string, unknown> {
  const model: Record<string, unknown> = {
    type: 'machine-learning-model',
    'bom-ref': 'model',
    name: 'tiny-model',
    version: '1.0.0',
    ...(spec.modelHashes ? { hashes: spec.modelHashes } : {}),
    ...(spec.files
      ? {
          components: spec.files.map((f) => ({
            type: 'file',
            name: f.name,
            'bom-ref': `file:${f.name}`,
            hashes: f.hashes,
          })),
        }
      : {}),
    ...(spec.modelCard ? { modelCard: spec.modelCard } : {}),
  };
  const components = [
    ...(spec.noModel || spec.asMetadataComponent ? [] : [model]),
    ...(spec.components ?? []),
  ];
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
    version: 1,
    metadata: {
      timestamp: '2025-01-01T00:00:00Z',
      ...(spec.asMetadataComponent && !spec.noModel ? { component: model } : {}),
    },
    components,
  };
}

export function dataset(ref: string, hashes: Hash[] = [{ alg: 'SHA-256', content: 'c'.repeat(64) }]) {
  return {
    type: 'data',
    'bom-ref': ref,
    name: ref,
    ...(hashes.length ? { hashes } : {}),
    data: [{ type: 'dataset', name: ref }],
  };
}

export function statement(predicateType: string, digest: string, predicate: unknown) {
  const [alg, hex] = digest.split(':') as [string, string];
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'registry.test/models/m', digest: { [alg]: hex } }],
    predicateType,
    predicate,
  };
}

/** An attestation source that hands back fixed statements (as if their signatures had verified). */
export function fixedAttestations(entries: VerifiedStatement[]): AttestationSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async verifiedStatements(_e, _policy, predicateType) {
      calls.push(predicateType);
      return entries.filter(
        (s) => (s.statement as { predicateType?: string }).predicateType === predicateType,
      );
    },
  };
}

export const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
