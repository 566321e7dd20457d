// The signature parsers meet whatever a pod author's registry stores: Sigstore bundles (cosign v3 and
// OpenSSF model signing), DSSE in-toto statements, legacy simple-signing payloads. 10,000 cases each,
// from real bundles mutated at random paths and bytes: a parser refuses with its own error, never another.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BundleFormatError, parseBundle, parseBundleJson } from '../../../src/verify/bundle.ts';
import { parseSimpleSigning } from '../../../src/verify/legacy.ts';
import { bindModelSigning, isModelSigningStatement } from '../../../src/verify/model-signing.ts';
import { parseStatement, subjectDigests } from '../../../src/verify/statement.ts';
import { mutatedBytes, mutatedJson, utf8 } from './mutate.ts';

const RUNS = { numRuns: 10_000 };
const fixture = (p: string) => readFileSync(new URL(`../../fixtures/verify/${p}`, import.meta.url));
const COSIGN = JSON.parse(fixture('cosign/bundle.sigstore.json').toString('utf8'));
const MODEL_SIGNING = JSON.parse(fixture('model-signing/files-p256.sig').toString('utf8'));
const LEGACY = fixture('cosign/legacy-payload.json');

function statementOf(bundle: { dsseEnvelope: { payload: string } }): unknown {
  return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
}

/** Refuses with BundleFormatError or parses; anything else thrown is a bug. */
function parsesOrRefuses(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(BundleFormatError);
  }
}

describe('Sigstore bundle parser on hostile input', () => {
  it('parseBundleJson: mutated cosign and model_signing bundles', () => {
    fc.assert(
      fc.property(
        fc.oneof(mutatedJson(COSIGN), mutatedJson(MODEL_SIGNING), fc.anything({ maxDepth: 4 })),
        (json) => parsesOrRefuses(() => parseBundleJson(json)),
      ),
      RUNS,
    );
  });

  it('parseBundle: damaged bytes and arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          mutatedBytes(utf8(JSON.stringify(COSIGN))),
          mutatedBytes(utf8(JSON.stringify(MODEL_SIGNING))),
          fc.uint8Array({ maxLength: 1024 }),
        ),
        (bytes) => parsesOrRefuses(() => parseBundle(bytes)),
      ),
      RUNS,
    );
  });
});

describe('statement parsers on hostile input', () => {
  const statements = [statementOf(COSIGN), statementOf(MODEL_SIGNING)];
  const payloadType = fc.constantFrom('application/vnd.in-toto+json', 'application/json', '');

  it('parseStatement never throws; what it accepts has a predicate type and subjects', () => {
    fc.assert(
      fc.property(
        payloadType,
        fc.oneof(
          ...statements.map((s) => mutatedJson(s).map((v) => utf8(JSON.stringify(v) ?? ''))),
          ...statements.map((s) => mutatedBytes(utf8(JSON.stringify(s)))),
          fc.uint8Array({ maxLength: 512 }),
        ),
        (type, payload) => {
          const r = parseStatement(type, payload);
          if (!r.ok) return;
          expect(typeof r.statement.predicateType).toBe('string');
          expect(Array.isArray(r.statement.subject)).toBe(true);
          subjectDigests(r.statement);
          // The model_signing binding reads the predicate's resources: it too must not throw.
          if (isModelSigningStatement(r.statement)) bindModelSigning(r.statement, []);
        },
      ),
      RUNS,
    );
  });

  it('parseSimpleSigning never throws', () => {
    const base = JSON.parse(LEGACY.toString('utf8'));
    fc.assert(
      fc.property(
        fc.oneof(
          mutatedJson(base).map((v) => utf8(JSON.stringify(v) ?? '')),
          mutatedBytes(LEGACY),
          fc.uint8Array(),
        ),
        (bytes) => {
          const r = parseSimpleSigning(bytes);
          if (r?.manifestDigest !== undefined) expect(typeof r.manifestDigest).toBe('string');
        },
      ),
      RUNS,
    );
  });
});
