import { describe, expect, it } from 'vitest';
import { PREDICATE_CYCLONEDX } from '../../../src/evidence/attestations.ts';
import { checkMlBom } from '../../../src/evidence/mlbom/index.ts';
import { validateCycloneDx } from '../../../src/evidence/mlbom/schema.ts';
import type { ArtifactEvidence } from '../../../src/evidence/types.ts';
import { bytes, safetensors } from './builders.ts';
import { dataset, fixedAttestations, hashOf, json, mlBom, statement } from './mlbom-builders.ts';
import { artifact, attach, type MemoryReader, policy, signal, withReferrers } from './support.ts';

const CDX = 'application/vnd.cyclonedx+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const OTHER = `sha256:${'e'.repeat(64)}`;
const AUTHORITIES = {
  threshold: 1,
  authorities: [
    { name: 'training-ci', keyless: { issuer: 'https://issuer.test', subject: 'ci@test' } },
    { name: 'other', keyless: { issuer: 'https://issuer.test', subject: 'other@test' } },
  ],
};

const required = (mlbom: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  policy({ mlbom: { required: true, requireHashMatch: true, ...mlbom }, ...extra });

function model() {
  return artifact({
    files: [
      { name: 'model.safetensors', content: safetensors() },
      { name: 'config.json', content: bytes('{}'), mediaType: 'application/json' },
    ],
  });
}

/** The model with `bom` attached as a referrer (listed as a registry with the referrers API lists it). */
function withReferrerBom(
  bom: unknown,
  listedType: string | undefined = CDX,
): ArtifactEvidence & { reader: MemoryReader } {
  const e = model();
  const r = attach(
    e.reader,
    e,
    [{ name: 'mlbom.json', content: json(bom), mediaType: CDX }],
    CDX,
    listedType,
  );
  return { ...withReferrers(e, [r]), reader: e.reader };
}

const check = checkMlBom();

describe('finding the ML-BOM', () => {
  it('accepts a referrer whose model component carries the manifest digest', async () => {
    const e0 = model();
    const e = withReferrers(e0, [
      attach(
        e0.reader,
        e0,
        [{ name: 'mlbom.json', content: json(mlBom({ modelHashes: [hashOf(e0.digest)] })), mediaType: CDX }],
        CDX,
      ),
    ]);
    const r = await check(e, required(), signal());
    expect(r.failures).toEqual([]);
    expect(r.report.acceptedBy).toMatch(/^ML-BOM referrer sha256:.* \(mlbom\.json\)$/);
    expect((r.report.boms as { accepted?: unknown }[])[0]!.accepted).toEqual({
      component: 'tiny-model at $.components[0]',
      hashMatch: 'manifest',
    });
  });

  it("reads a referrer's manifest when the registry reports the empty config type (go-containerregistry)", async () => {
    const e0 = model();
    const d = attach(
      e0.reader,
      e0,
      [{ name: 'mlbom.json', content: json(mlBom({ modelHashes: [hashOf(e0.digest)] })), mediaType: CDX }],
      CDX,
      'application/vnd.oci.empty.v1+json',
    );
    const r = await check(withReferrers(e0, [d]), required(), signal());
    expect(r.failures).toEqual([]);
    expect(e0.reader.manifestReads).toContain(d.digest);
  });

  it('does not read referrers that are certainly something else', async () => {
    const e0 = model();
    const sig = attach(e0.reader, e0, [{ name: 'b.json', content: bytes('{}'), mediaType: BUNDLE }], BUNDLE);
    const r = await check(withReferrers(e0, [sig]), required(), signal());
    expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISSING']);
    expect(e0.reader.manifestReads).toEqual([]);
  });

  it('accepts a BOM layer of the artifact, by media type or by name', async () => {
    for (const file of [
      { name: 'mlbom.json', mediaType: CDX },
      { name: 'model.cdx.json', mediaType: 'application/octet-stream' },
    ]) {
      const e0 = model();
      // The BOM names the weight file's digest: a layer cannot name the manifest that contains it.
      const weights = e0.layers[0]!;
      const e = artifact({
        reader: e0.reader,
        files: [
          { name: 'model.safetensors', content: safetensors() },
          {
            ...file,
            content: json(
              mlBom({ files: [{ name: 'model.safetensors', hashes: [hashOf(weights.digest)] }] }),
            ),
          },
        ],
      });
      const r = await check(e, required(), signal());
      expect(r.failures).toEqual([]);
      expect((r.report.boms as { accepted?: { hashMatch?: string } }[])[0]!.accepted?.hashMatch).toBe(
        'weight-files',
      );
    }
  });

  it('ignores a file named like a BOM that is not CycloneDX', async () => {
    const e = artifact({
      files: [
        { name: 'model.safetensors', content: safetensors() },
        { name: 'sbom.json', content: json({ spdxVersion: 'SPDX-2.3' }) },
      ],
    });
    const r = await check(e, required(), signal());
    expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISSING']);
    expect(r.failures[0]!.message).toMatch(/ignored: ML-BOM layer sbom\.json .* is not a CycloneDX document/);
  });

  it('refuses a missing ML-BOM only when it is required', async () => {
    expect((await check(model(), required(), signal())).failures).toEqual([
      {
        code: 'MLBOM_MISSING',
        message: expect.stringMatching(
          /^no CycloneDX ML-BOM found as a referrer, a layer or an attestation of sha256:/,
        ),
      },
    ]);
    expect((await check(model(), required({ required: false }), signal())).failures).toEqual([]);
  });

  it('does nothing when the policy has no mlbom rules', async () => {
    const e = withReferrerBom(mlBom());
    const r = await check(e, policy(), signal());
    expect(r.failures).toEqual([]);
    expect(e.reader.manifestReads).toEqual([]);
  });

  it('refuses a BOM over the size cap without reading it', async () => {
    const e0 = model();
    const big = e0.reader.add(json(mlBom()), CDX, { 'org.opencontainers.image.title': 'mlbom.json' });
    const huge = { ...big, size: 5 * 1024 * 1024 };
    const e = {
      ...e0,
      layers: [...e0.layers, huge],
      manifest: { ...e0.manifest!, layers: [...e0.manifest!.layers, huge] },
    };
    const r = await check(e, required(), signal());
    expect(r.failures[0]).toMatchObject({
      code: 'MLBOM_INVALID',
      message: expect.stringMatching(/over the 4194304-byte cap/),
    });
    expect(e0.reader.blobReads).toEqual([]);
  });
});

describe('ML-BOM rules', () => {
  it('refuses a BOM for another model', async () => {
    const e = withReferrerBom(mlBom({ modelHashes: [hashOf(OTHER)] }));
    const r = await check(e, required(), signal());
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.code).toBe('MLBOM_MISMATCH');
    expect(r.failures[0]!.message).toContain(
      `expected a machine-learning-model component with the manifest digest ${e.digest}`,
    );
    expect(r.failures[0]!.message).toContain(`model.safetensors ${e.layers[0]!.digest}`);
    expect(r.failures[0]!.message).toMatch(/carry SHA-256 eeeeeeeeeeeeeeee…/);
  });

  it('needs every weight file when it matches by weight digests', async () => {
    const e0 = artifact({
      files: [
        { name: 'a.safetensors', content: safetensors() },
        { name: 'b.safetensors', content: bytes('other weights') },
      ],
    });
    const [a, b] = e0.layers;
    const attachBom = (files: { name: string; hashes: ReturnType<typeof hashOf>[] }[]) =>
      withReferrers(e0, [
        attach(e0.reader, e0, [{ name: 'bom.json', content: json(mlBom({ files })), mediaType: CDX }], CDX),
      ]);
    const both = await check(
      attachBom([
        { name: 'a', hashes: [hashOf(a!.digest)] },
        { name: 'b', hashes: [hashOf(b!.digest)] },
      ]),
      required(),
      signal(),
    );
    expect(both.failures).toEqual([]);
    const one = await check(attachBom([{ name: 'a', hashes: [hashOf(a!.digest)] }]), required(), signal());
    expect(one.failures.map((f) => f.code)).toEqual(['MLBOM_MISMATCH']);
  });

  it('compares hex case-insensitively and finds the model in metadata.component', async () => {
    const e0 = model();
    const h = hashOf(e0.digest);
    const bom = mlBom({
      modelHashes: [{ ...h, content: h.content.toUpperCase() }],
      asMetadataComponent: true,
    });
    const r = await check(
      withReferrers(e0, [
        attach(e0.reader, e0, [{ name: 'mlbom.json', content: json(bom), mediaType: CDX }], CDX),
      ]),
      required(),
      signal(),
    );
    expect(r.failures).toEqual([]);
  });

  it('does not need hashes when requireHashMatch is false', async () => {
    const r = await check(withReferrerBom(mlBom()), required({ requireHashMatch: false }), signal());
    expect(r.failures).toEqual([]);
  });

  it('refuses a BOM that fails the CycloneDX 1.6 schema, naming the paths', async () => {
    const bom = mlBom({ modelHashes: [{ alg: 'SHA-256', content: 'not-hex' }] });
    (bom.components as Record<string, unknown>[])[0]!.type = 'neural-net';
    const r = await check(withReferrerBom(bom), required(), signal());
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.code).toBe('MLBOM_INVALID');
    expect(r.failures[0]!.message).toMatch(/does not validate against CycloneDX 1\.6: /);
    expect(r.failures[0]!.message).toContain('$.components[0].type must be one of');
    expect(r.failures[0]!.message).toContain('$.components[0].hashes[0].content must match pattern');
  });

  it('refuses, without throwing, a BOM that makes the validator throw (an own "valueOf" string)', async () => {
    const bom = mlBom();
    const components = bom.components as Record<string, unknown>[];
    components.push({ ...components[0]!, 'bom-ref': 'twin', modelCard: { valueOf: '' } });
    components[0]!.modelCard = {};
    const r = await check(withReferrerBom(bom), required({ requireHashMatch: false }), signal());
    expect(r.failures.map((f) => f.code)).toContain('MLBOM_INVALID');
  });
  it('refuses a BOM without a machine-learning-model component (MLBOM_INVALID)', async () => {
    const r = await check(
      withReferrerBom(mlBom({ noModel: true, components: [{ type: 'library', name: 'torch' }] })),
      required(),
      signal(),
    );
    expect(r.failures).toEqual([
      {
        code: 'MLBOM_INVALID',
        message: expect.stringMatching(/has no component of type machine-learning-model/),
      },
    ]);
  });

  it('accepts when one of several BOMs meets every rule', async () => {
    const e0 = model();
    const sbom = attach(
      e0.reader,
      e0,
      [{ name: 'sbom.cdx.json', content: json(mlBom({ noModel: true })), mediaType: CDX }],
      CDX,
    );
    const good = attach(
      e0.reader,
      e0,
      [{ name: 'mlbom.json', content: json(mlBom({ modelHashes: [hashOf(e0.digest)] })), mediaType: CDX }],
      CDX,
    );
    const r = await check(withReferrers(e0, [sbom, good]), required(), signal());
    expect(r.failures).toEqual([]);
    expect((r.report.boms as { status: string }[]).map((b) => b.status)).toEqual(['refused', 'accepted']);
  });

  it('reports every refused BOM', async () => {
    const e0 = model();
    const a = attach(
      e0.reader,
      e0,
      [{ name: 'a.cdx.json', content: json(mlBom({ noModel: true })), mediaType: CDX }],
      CDX,
    );
    const b = attach(
      e0.reader,
      e0,
      [{ name: 'b.cdx.json', content: json(mlBom({ modelHashes: [hashOf(OTHER)] })), mediaType: CDX }],
      CDX,
    );
    const r = await check(withReferrers(e0, [a, b]), required(), signal());
    expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_INVALID', 'MLBOM_MISMATCH']);
  });

  it('refuses a BOM that is not JSON', async () => {
    const e0 = model();
    const d = attach(e0.reader, e0, [{ name: 'mlbom.json', content: bytes('{oops'), mediaType: CDX }], CDX);
    const r = await check(withReferrers(e0, [d]), required(), signal());
    expect(r.failures).toEqual([{ code: 'MLBOM_INVALID', message: expect.stringMatching(/is not JSON$/) }]);
  });
});

describe('required fields', () => {
  const DATASETS = 'modelCard.modelParameters.datasets';
  const run = async (
    modelCard: Record<string, unknown> | undefined,
    components: Record<string, unknown>[] = [],
    fields = [DATASETS],
  ) => {
    const e0 = model();
    const bom = mlBom({ modelHashes: [hashOf(e0.digest)], ...(modelCard ? { modelCard } : {}), components });
    const e = withReferrers(e0, [
      attach(e0.reader, e0, [{ name: 'mlbom.json', content: json(bom), mediaType: CDX }], CDX),
    ]);
    return check(e, required({ requiredFields: fields }), signal());
  };

  it('accepts datasets that reference data components with a SHA-256 hash', async () => {
    const r = await run({ modelParameters: { datasets: [{ ref: 'train' }, { ref: 'eval' }] } }, [
      dataset('train'),
      dataset('eval'),
    ]);
    expect(r.failures).toEqual([]);
  });

  it('refuses a missing field', async () => {
    const r = await run(undefined);
    expect(r.failures).toEqual([
      {
        code: 'MLBOM_INVALID',
        message: expect.stringMatching(
          /lacks required fields: modelCard\.modelParameters\.datasets is missing$/,
        ),
      },
    ]);
  });

  it('refuses an empty list', async () => {
    const r = await run({ modelParameters: { datasets: [] } });
    expect(r.failures[0]!.message).toMatch(/datasets is missing/);
  });

  it('refuses datasets without hashes', async () => {
    const r = await run(
      {
        modelParameters: {
          datasets: [
            { type: 'dataset', name: 'inline' },
            { ref: 'nohash' },
            { ref: 'ghost' },
            { ref: 'weak' },
          ],
        },
      },
      [dataset('nohash', []), dataset('weak', [{ alg: 'MD5', content: 'a'.repeat(32) }])],
    );
    expect(r.failures).toHaveLength(1);
    const m = r.failures[0]!.message;
    expect(m).toContain('datasets[0] is an inline dataset (inline) without hashes');
    expect(m).toContain('datasets[1] refers to nohash, which carries no SHA-256 (or stronger) hash');
    expect(m).toContain('datasets[2] refers to ghost, which no component of this BOM declares');
    expect(m).toContain('datasets[3] refers to weak, which carries no SHA-256 (or stronger) hash');
  });

  it('checks other dotted paths, through arrays', async () => {
    const card = {
      considerations: { users: ['ops'] },
      quantitativeAnalysis: { performanceMetrics: [{ type: 'acc', value: '0.9' }] },
    };
    const ok = await run(
      card,
      [],
      [
        'modelCard.considerations.users',
        'modelCard.quantitativeAnalysis.performanceMetrics.value',
        'version',
      ],
    );
    expect(ok.failures).toEqual([]);
    const bad = await run(card, [], ['modelCard.considerations.ethicalConsiderations']);
    expect(bad.failures[0]!.code).toBe('MLBOM_INVALID');
  });
});

describe('signed ML-BOMs (attestations)', () => {
  const signedPolicy = (signedBy?: string[]) =>
    required(signedBy ? { signedBy } : {}, { signatures: AUTHORITIES });

  it('fails closed when signedBy is set and this build cannot verify attestations', async () => {
    const e = withReferrerBom(mlBom());
    const r = await checkMlBom()(e, signedPolicy(['training-ci']), signal());
    expect(r.failures).toEqual([
      {
        code: 'MLBOM_MISSING',
        message: expect.stringMatching(/signed by training-ci, but this build cannot verify attestations/),
      },
    ]);
  });

  it('accepts a BOM attested by a listed authority and ignores unsigned ones', async () => {
    const e0 = model();
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_CYCLONEDX, e0.digest, mlBom({ modelHashes: [hashOf(e0.digest)] })),
      },
    ]);
    const unsigned = attach(
      e0.reader,
      e0,
      [{ name: 'mlbom.json', content: json(mlBom({ modelHashes: [hashOf(OTHER)] })), mediaType: CDX }],
      CDX,
    );
    const r = await checkMlBom(att)(withReferrers(e0, [unsigned]), signedPolicy(['training-ci']), signal());
    expect(r.failures).toEqual([]);
    expect(r.report.acceptedBy).toBe('ML-BOM attestation signed by training-ci');
    expect(att.calls).toEqual([PREDICATE_CYCLONEDX]);
    expect(e0.reader.manifestReads).toEqual([]);
  });

  it('refuses a BOM signed by an authority signedBy does not list', async () => {
    const e0 = model();
    const att = fixedAttestations([
      {
        authority: 'other',
        statement: statement(PREDICATE_CYCLONEDX, e0.digest, mlBom({ modelHashes: [hashOf(e0.digest)] })),
      },
    ]);
    const r = await checkMlBom(att)(e0, signedPolicy(['training-ci']), signal());
    expect(r.failures).toEqual([
      {
        code: 'MLBOM_MISSING',
        message: expect.stringMatching(/signed by training-ci found .*signed by other, not by training-ci/),
      },
    ]);
  });

  it('ignores an attestation about another artifact', async () => {
    const e0 = model();
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_CYCLONEDX, OTHER, mlBom({ modelHashes: [hashOf(e0.digest)] })),
      },
    ]);
    const r = await checkMlBom(att)(e0, signedPolicy(['training-ci']), signal());
    expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISSING']);
  });

  it('applies the rules to attested BOMs', async () => {
    const e0 = model();
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_CYCLONEDX, e0.digest, mlBom({ modelHashes: [hashOf(OTHER)] })),
      },
    ]);
    const r = await checkMlBom(att)(e0, signedPolicy(), signal());
    expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISMATCH']);
    expect(r.failures[0]!.message).toMatch(
      /^ML-BOM attestation signed by training-ci does not describe this model/,
    );
  });
});

describe('schema validator', () => {
  it('accepts a minimal 1.6 document and reports JSON paths', () => {
    expect(validateCycloneDx({ bomFormat: 'CycloneDX', specVersion: '1.6' })).toEqual([]);
    expect(
      validateCycloneDx({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ name: 'x' }] }),
    ).toEqual([{ path: '$.components[0]', message: "must have required property 'type'" }]);
    expect(validateCycloneDx({ specVersion: '1.6', bogus: 1 })[0]).toEqual({
      path: '$',
      message: "must have required property 'bomFormat'",
    });
  });
});
