/**
 * What a signature binds to. A signature only counts for a model when what it
 * signed is this artifact: the manifest digest itself (cosign), or files the
 * manifest's layers carry (model_signing, a bundle beside one file), matched
 * by title and sha256. Pure: no I/O, no cryptography (the authority check is
 * separate), so that each rule has its own small test.
 */
import type { SignedEntity } from '@sigstore/verify';
import type { ArtifactEvidence } from '../evidence/types.ts';
import { layerTitle } from '../oci/types.ts';
import { signedEntity } from './bundle.ts';
import type { Candidate } from './discover.ts';
import { signedFileTitle } from './discover.ts';
import { bindModelSigning, isModelSigningStatement, normalizePath } from './model-signing.ts';
import {
  COSIGN_SIGN_PREDICATE,
  type InTotoStatement,
  parseStatement,
  subjectDigests,
  subjectHasDigest,
} from './statement.ts';

/** The layers (indexes) a signature covers, or the whole artifact. */
export type Coverage =
  | { readonly kind: 'artifact' }
  | { readonly kind: 'files'; readonly layers: ReadonlySet<number> };

export type Binding =
  | {
      readonly kind: 'signature';
      readonly coverage: Coverage;
      /** What it is, for reports: `cosign signature`, `model_signing (files, 3 resources)`, ... */
      readonly what: string;
      readonly entity: SignedEntity;
      readonly statement?: InTotoStatement;
    }
  /** A verifiable statement about this artifact that is not a signature of it (an attestation). */
  | { readonly kind: 'attestation'; readonly statement: InTotoStatement; readonly entity: SignedEntity }
  /** Not a signature of this artifact: why (`ambiguous` when two consumers could read it differently). */
  | { readonly kind: 'unbound'; readonly error: string; readonly ambiguous?: boolean };

const SHA256_HEX = /^sha256:([0-9a-f]{64})$/;

/** Decides what a candidate signs, for artifact `e`. */
export function bindCandidate(c: Candidate, e: ArtifactEvidence): Binding {
  if (c.error !== undefined || c.bundle === undefined)
    return {
      kind: 'unbound',
      error: c.error ?? 'not a signature',
      ...(c.ambiguous ? { ambiguous: true } : {}),
    };
  const b = c.bundle;

  if (c.source.kind === 'legacy-tag') {
    const claims = c.legacy?.claims;
    if (claims === undefined)
      return { kind: 'unbound', error: 'payload is not a cosign simple-signing document' };
    if (claims.manifestDigest !== e.digest) {
      return {
        kind: 'unbound',
        error: `signs ${claims.manifestDigest ?? '(no digest)'}, not this artifact ${e.digest}`,
      };
    }
    return {
      kind: 'signature',
      coverage: { kind: 'artifact' },
      what: 'cosign legacy signature',
      entity: signedEntity(b, { bytes: c.legacy!.payload }),
    };
  }

  // A bundle stored as a layer beside the file it signs: `model.pt.sigstore.json` next to `model.pt`.
  // Also a bundle attached as a referrer under such a title (`oras attach ... model.pt.sigstore.json`):
  // its subject is this artifact, so the file it names is this artifact's.
  const beside = besideTarget(c.source.title, e);

  if (b.content.kind === 'message') {
    const digest = b.content.digest.toString('hex');
    if (b.content.algorithm !== 'sha256') {
      return {
        kind: 'unbound',
        error: `message digest algorithm ${b.content.algorithm ?? 'unknown'} is not sha256`,
      };
    }
    if (beside !== undefined) {
      if (digest !== beside.hex) {
        return {
          kind: 'unbound',
          error: `message digest sha256:${digest} is not the digest of layer ${beside.title} (${beside.digest})`,
        };
      }
      return {
        kind: 'signature',
        coverage: { kind: 'files', layers: new Set([beside.index]) },
        what: `message signature over ${beside.title}`,
        entity: signedEntity(b, { digest: Buffer.from(digest, 'hex') }),
      };
    }
    if (`sha256:${digest}` === e.digest) {
      return {
        kind: 'signature',
        coverage: { kind: 'artifact' },
        what: 'message signature over the manifest',
        entity: signedEntity(b, { digest: Buffer.from(digest, 'hex') }),
      };
    }
    return {
      kind: 'unbound',
      error: `message digest sha256:${digest} is neither this artifact nor a file of it`,
    };
  }

  const parsed = parseStatement(b.content.payloadType, b.content.payload);
  if (!parsed.ok)
    return {
      kind: 'unbound',
      error: parsed.error,
      ...(parsed.code === 'ARTIFACT_AMBIGUOUS' ? { ambiguous: true } : {}),
    };
  const statement = parsed.statement;
  const entity = signedEntity(b);

  if (isModelSigningStatement(statement)) {
    const files = bindModelSigning(statement, e.layers);
    if (!files.ok) return { kind: 'unbound', error: `model_signing: ${files.error}` };
    return {
      kind: 'signature',
      coverage: { kind: 'files', layers: files.covered },
      what: `model_signing (${files.method}, ${files.resources} resources)`,
      entity,
      statement,
    };
  }
  if (beside !== undefined) {
    if (!subjectHasDigest(statement, beside.digest)) {
      return {
        kind: 'unbound',
        error: `statement subjects ${subjectDigests(statement).join(', ') || '(none)'} do not include layer ${beside.title} (${beside.digest})`,
      };
    }
    return {
      kind: 'signature',
      coverage: { kind: 'files', layers: new Set([beside.index]) },
      what: `statement (${statement.predicateType}) over ${beside.title}`,
      entity,
      statement,
    };
  }
  if (!subjectHasDigest(statement, e.digest)) {
    return {
      kind: 'unbound',
      error: `statement subjects ${subjectDigests(statement).join(', ') || '(none)'}, not this artifact ${e.digest}`,
    };
  }
  if (statement.predicateType === COSIGN_SIGN_PREDICATE) {
    return { kind: 'signature', coverage: { kind: 'artifact' }, what: 'cosign signature', entity, statement };
  }
  return { kind: 'attestation', statement, entity };
}

/** The file layer a signature layer sits beside, by title. */
function besideTarget(
  title: string | undefined,
  e: ArtifactEvidence,
): { index: number; title: string; digest: string; hex: string } | undefined {
  const target = signedFileTitle(title);
  if (target === undefined) return undefined;
  const want = normalizePath(target);
  const matches = e.layers
    .map((d, index) => ({ d, index }))
    .filter(({ d }) => {
      const t = layerTitle(d);
      return t !== undefined && normalizePath(t) === want;
    });
  // Two layers with the same title: ambiguous, so not "beside" anything.
  if (matches.length !== 1) return undefined;
  const { d, index } = matches[0]!;
  const m = SHA256_HEX.exec(d.digest.toLowerCase());
  if (!m) return undefined;
  return { index, title: want, digest: d.digest.toLowerCase(), hex: m[1]! };
}
