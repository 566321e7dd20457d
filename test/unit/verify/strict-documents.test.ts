// Signature documents read by Go verifiers (cosign, sigstore-go: protojson and encoding/json) that a
// second reader could read differently are refused with ARTIFACT_AMBIGUOUS, not judged on one reading.
import { describe, expect, it } from 'vitest';
import { BundleFormatError, parseBundle } from '../../../src/verify/bundle.ts';
import { parseSimpleSigning } from '../../../src/verify/legacy.ts';
import { IN_TOTO_PAYLOAD_TYPE, parseStatement } from '../../../src/verify/statement.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const D = (c: string) => c.repeat(64);

function bundleRefusal(text: string | Uint8Array): BundleFormatError {
  try {
    parseBundle(typeof text === 'string' ? enc(text) : text);
  } catch (e) {
    expect(e).toBeInstanceOf(BundleFormatError);
    return e as BundleFormatError;
  }
  throw new Error('accepted');
}

describe('Sigstore bundles', () => {
  it('a duplicate or case-variant field is ARTIFACT_AMBIGUOUS; broken JSON is not', () => {
    const mt = '"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"';
    expect(bundleRefusal(`{${mt},${mt}}`).code).toBe('ARTIFACT_AMBIGUOUS');
    expect(bundleRefusal(`{${mt},"MediaType":"x"}`).code).toBe('ARTIFACT_AMBIGUOUS');
    // protojson reads `dsse_envelope` as `dsseEnvelope`; @sigstore/bundle would not see it.
    expect(bundleRefusal(`{${mt},"dsse_envelope":{}}`).code).toBe('ARTIFACT_AMBIGUOUS');
    expect(bundleRefusal(`{${mt},"dsseEnvelope":{"payload":"","Payload":""}}`).code).toBe(
      'ARTIFACT_AMBIGUOUS',
    );
    expect(bundleRefusal(new Uint8Array([0x7b, 0xff, 0x7d])).code).toBe('ARTIFACT_AMBIGUOUS');
    // Not ambiguous, just not a bundle.
    expect(bundleRefusal('{').code).toBeUndefined();
    expect(bundleRefusal(`{${mt}}`).code).toBeUndefined();
  });
});

describe('in-toto statements (DSSE payloads, model_signing, SLSA provenance)', () => {
  const statement = (extra: string, subject = `[{"name":"m","digest":{"sha256":"${D('a')}"}}]`) =>
    enc(
      `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/signature/v1.0","subject":${subject}${extra}}`,
    );

  it('reads a plain statement', () => {
    expect(parseStatement(IN_TOTO_PAYLOAD_TYPE, statement(',"predicate":{}'))).toMatchObject({ ok: true });
  });

  it('two subject lists, case variants and protojson names are ARTIFACT_AMBIGUOUS', () => {
    const code = (b: Uint8Array) => {
      const r = parseStatement(IN_TOTO_PAYLOAD_TYPE, b);
      return r.ok ? 'ok' : (r.code ?? 'invalid');
    };
    expect(code(statement(`,"Subject":[{"digest":{"sha256":"${D('b')}"}}]`))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(statement(',"predicate_type":"x"'))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(statement(',"predicate":{"resources":[],"Resources":[]}'))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(statement(',"predicate":{"buildDefinition":{"BuildType":"x"}}'))).toBe('ARTIFACT_AMBIGUOUS');
    expect(code(statement('', `[{"digest":{"sha256":"${D('a')}","SHA256":"${D('b')}"}}]`))).toBe(
      'ARTIFACT_AMBIGUOUS',
    );
    // A CycloneDX ML-BOM signed as an attestation: cyclonedx-go would fill `components` from this.
    expect(code(statement(',"predicate":{"bomFormat":"CycloneDX","Components":[]}'))).toBe(
      'ARTIFACT_AMBIGUOUS',
    );
    // model_signing writes floats (`shard_size: 1e9`): no integer rule here.
    expect(code(statement(',"predicate":{"serialization":{"shard_size":1000000000.0}}'))).toBe('ok');
    expect(code(enc('{"_type":'))).toBe('invalid');
  });
});

describe('cosign simple signing payloads', () => {
  const payload = (image: string) =>
    enc(
      `{"critical":{"identity":{"docker-reference":"r"},${image},"type":"cosign container image signature"},"optional":null}`,
    );

  it('binds nothing when the payload names two images', () => {
    expect(
      parseSimpleSigning(payload(`"image":{"docker-manifest-digest":"sha256:${D('a')}"}`)),
    ).toMatchObject({
      manifestDigest: `sha256:${D('a')}`,
    });
    expect(
      parseSimpleSigning(
        payload(
          `"image":{"docker-manifest-digest":"sha256:${D('a')}"},"Image":{"docker-manifest-digest":"sha256:${D('b')}"}`,
        ),
      ),
    ).toBeUndefined();
    expect(
      parseSimpleSigning(payload(`"image":{"Docker-Manifest-Digest":"sha256:${D('b')}"}`)),
    ).toBeUndefined();
  });
});
