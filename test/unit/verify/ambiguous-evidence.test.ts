// Signed evidence that cosign or cyclonedx-go (Go's encoding/json: keys match in any case, the last
// duplicate wins) could read differently from modelgate is refused, and the check that then finds
// nothing usable says ARTIFACT_AMBIGUOUS (rewrite the document), not MLBOM_MISSING or PROVENANCE_FAILED
// (attach one) or REGISTRY_ERROR (retry).
import { describe, expect, it } from 'vitest';
import { checkMlBom } from '../../../src/evidence/mlbom/index.ts';
import { checkProvenance } from '../../../src/evidence/provenance.ts';
import { RegistryError } from '../../../src/oci/errors.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { validateModelPolicy } from '../../../src/policy/validate.ts';
import { SignatureVerifier } from '../../../src/verify/signatures.ts';
import {
  artifact,
  attach,
  BUNDLE_V03,
  cosignStatement,
  dsseBundle,
  ecKey,
  evidence,
  json,
  keyAuthority,
  MemoryRepo,
  sha256,
  statement,
} from './builders.ts';

const signal = new AbortController().signal;
const key = ecKey();
const CDX = 'application/vnd.cyclonedx+json';

function policyWith(spec: Record<string, unknown>) {
  const v = validateModelPolicy({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: 'p', uid: `amb-${Math.random()}` },
    spec: {
      models: ['127.0.0.1:5000/**'],
      signatures: { authorities: [keyAuthority('release', key.pem)] },
      ...spec,
    },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return compilePolicy(v.policy);
}

/** A signed model with one more attestation, whose statement text is `text` (signed as it is). */
function withAttestation(text: (digest: string) => string) {
  const repo = new MemoryRepo();
  const a = artifact(repo, [repo.phantom('model.safetensors', 'weights')]);
  const sig = attach(repo, a, [repo.blob(json(dsseBundle(key, cosignStatement(a.digest))), BUNDLE_V03)]);
  const att = attach(repo, a, [repo.blob(json(dsseBundle(key, Buffer.from(text(a.digest)))), BUNDLE_V03)]);
  return evidence(repo, a, [sig, att]);
}

const subjectOf = (digest: string) => [{ digest: { sha256: digest.slice(7) } }];

describe('signed attestations two readers could read differently', () => {
  it('an ML-BOM attestation with a case-variant predicate key: ARTIFACT_AMBIGUOUS, not MLBOM_MISSING', async () => {
    const p = policyWith({ mlbom: { required: true, signedBy: ['release'], requireHashMatch: false } });
    const e = withAttestation((d) =>
      JSON.stringify(
        statement({
          subject: subjectOf(d),
          predicateType: 'https://cyclonedx.org/bom',
          predicate: { bomFormat: 'CycloneDX', specVersion: '1.6', components: [] },
        }),
      ).replace('"components":[]', '"components":[],"Components":[{"type":"library","name":"x"}]'),
    );
    const v = new SignatureVerifier();
    // The model's own signature is fine: only the attestation is ambiguous.
    expect((await v.check(e, p, signal)).failures).toEqual([]);
    const r = await checkMlBom(v)(e, p, signal);
    expect(r.failures.map((f) => f.code)).toEqual(['ARTIFACT_AMBIGUOUS']);
    expect(r.failures[0]!.message).toMatch(/no usable CycloneDX ML-BOM signed by release.*Components/);
  });

  it('the same attestation without the variant is accepted (the case above fails for the variant alone)', async () => {
    const p = policyWith({ mlbom: { required: true, signedBy: ['release'], requireHashMatch: false } });
    const e = withAttestation((d) =>
      JSON.stringify(
        statement({
          subject: subjectOf(d),
          predicateType: 'https://cyclonedx.org/bom',
          predicate: {
            bomFormat: 'CycloneDX',
            specVersion: '1.6',
            version: 1,
            components: [{ type: 'machine-learning-model', name: 'm' }],
          },
        }),
      ),
    );
    const r = await checkMlBom(new SignatureVerifier())(e, p, signal);
    expect(r.failures).toEqual([]);
  });

  it('a provenance statement with two predicateType spellings: ARTIFACT_AMBIGUOUS, not PROVENANCE_FAILED', async () => {
    const p = policyWith({ provenance: { required: true, builderIds: ['https://builder.example/*'] } });
    const e = withAttestation((d) =>
      JSON.stringify(
        statement({
          subject: subjectOf(d),
          predicateType: 'https://slsa.dev/provenance/v1',
          predicate: {
            buildDefinition: { buildType: 'x' },
            runDetails: { builder: { id: 'https://evil/' } },
          },
        }),
      ).replace(/\}$/, ',"PredicateType":"https://example.com/other"}'),
    );
    const r = await checkProvenance(new SignatureVerifier())(e, p, signal);
    expect(r.failures.map((f) => f.code)).toEqual(['ARTIFACT_AMBIGUOUS']);
    expect(r.failures[0]!.message).toMatch(/no usable SLSA v1 provenance attestation/);
  });

  it('an ambiguous document does not change a check that is not required', async () => {
    const p = policyWith({ provenance: { required: false } });
    const e = withAttestation((d) =>
      JSON.stringify(
        statement({ subject: subjectOf(d), predicateType: 'https://slsa.dev/provenance/v1' }),
      ).replace(/\}$/, ',"Subject":[]}'),
    );
    expect((await checkProvenance(new SignatureVerifier())(e, p, signal)).failures).toEqual([]);
  });
});

describe('ML-BOM referrers the registry serves but that cannot be read', () => {
  /** The artifact, with referrers whose manifests the registry client refused with `code`. */
  function refusedReferrer(code: RegistryError['code'], artifactType: string) {
    const repo = new MemoryRepo();
    const a = artifact(repo, [repo.phantom('model.safetensors', 'weights')]);
    const e = evidence(repo, a, [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256('r'),
        size: 300,
        artifactType,
      },
    ]);
    const inner = e.reader;
    return {
      ...e,
      reader: {
        ...inner,
        manifest: async () => {
          throw new RegistryError(code, 'manifest has both "layers" and "Layers"', { status: 200 });
        },
      },
    };
  }
  const p = () => policyWith({ signatures: { required: false }, mlbom: { required: true } });

  it('an ambiguous CycloneDX referrer manifest is ARTIFACT_AMBIGUOUS, not REGISTRY_ERROR', async () => {
    const r = await checkMlBom()(refusedReferrer('ARTIFACT_AMBIGUOUS', CDX), p(), signal);
    expect(r.failures.map((f) => f.code)).toEqual(['ARTIFACT_AMBIGUOUS']);
    expect(r.failures[0]!.message).toMatch(/Layers/);
  });

  it('an untyped ambiguous referrer may be the ML-BOM (ggcr lists oras attachments untyped): ambiguous too', async () => {
    const r = await checkMlBom()(refusedReferrer('ARTIFACT_AMBIGUOUS', ''), p(), signal);
    expect(r.failures.map((f) => f.code)).toEqual(['ARTIFACT_AMBIGUOUS']);
  });

  it('a referrer served with the wrong digest is a note: the model still lacks an ML-BOM', async () => {
    const r = await checkMlBom()(refusedReferrer('MANIFEST_DIGEST_MISMATCH', CDX), p(), signal);
    expect(r.failures.map((f) => f.code)).toEqual(['MLBOM_MISSING']);
    expect(r.report).toMatchObject({
      notes: expect.arrayContaining([expect.stringMatching(/manifest not readable/)]),
    });
  });

  it('a registry outage on the referrer is not hidden: it surfaces as the registry failure', async () => {
    const e = refusedReferrer('REGISTRY_ERROR', CDX);
    const down = {
      ...e,
      reader: {
        ...e.reader,
        manifest: async () => {
          throw new RegistryError('REGISTRY_ERROR', 'connection refused');
        },
      },
    };
    await expect(checkMlBom()(down, p(), signal)).rejects.toMatchObject({ code: 'REGISTRY_ERROR' });
  });
});
