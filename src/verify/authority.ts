/**
 * A policy's authorities, compiled: each holds the `@sigstore/verify`
 * verifier it needs (trust material and thresholds), built once per policy
 * content and trust material (see trust.ts). `verifySigner` answers whether one signed entity was signed by
 * one authority, and with what identity.
 */
import type { KeyObject } from 'node:crypto';
import { type SignedEntity, Verifier } from '@sigstore/verify';
import type { AuthoritySpec } from '../policy/schema.ts';
import { claimedIdentity, isDigestOnly, type ParsedBundle } from './bundle.ts';
import { hintNotation, type KeyAlgorithm, keyFingerprint, keyHints, parsePublicKey } from './crypto.ts';
import { type TrustContext, TrustError } from './trust-context.ts';

interface AuthorityBase {
  readonly name: string;
  /** A transparency-log entry (with a verified inclusion proof or promise) is required. */
  readonly tlogRequired: boolean;
  /** Who this authority accepts, in words, for messages. */
  readonly expected: string;
}

export interface KeyAuthority extends AuthorityBase {
  readonly kind: 'key';
  readonly key: KeyObject;
  readonly algorithm: KeyAlgorithm;
  /** `sha256:<hex>` of the SPKI. */
  readonly fingerprint: string;
  readonly hints: ReadonlySet<string>;
  readonly verifier: Verifier;
}

export interface KeylessAuthority extends AuthorityBase {
  readonly kind: 'keyless';
  readonly issuer: string;
  readonly subject: { readonly exact: string } | { readonly pattern: RegExp };
  /** Where its trusted root came from. */
  readonly root: string;
  readonly verifier: Verifier;
}

/** An authority whose trust material could not be built: it verifies nothing (fail closed). */
export interface UnavailableAuthority extends AuthorityBase {
  readonly kind: 'unavailable';
  readonly reason: string;
  /** What the operator changes to make it available (TRUST_UNAVAILABLE's fix). */
  readonly fix: string;
}

export type CompiledAuthority = KeyAuthority | KeylessAuthority | UnavailableAuthority;

/** The outcome of checking one signature against one authority. */
export type SignerVerdict =
  | { readonly ok: true; readonly identity: string; readonly signerId: string }
  | {
      readonly ok: false;
      readonly code: 'SIGNATURE_INVALID' | 'IDENTITY_MISMATCH' | 'TRUST_UNAVAILABLE';
      readonly message: string;
    };

/** Anchors a policy's subject pattern: it must match the whole subject, never a part of it. */
export function anchoredPattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, 'u');
}

export async function compileAuthority(
  spec: AuthoritySpec,
  ctx: TrustContext,
  signal: AbortSignal,
): Promise<CompiledAuthority> {
  const name = spec.name;
  if (spec.keyless !== undefined) {
    const k = spec.keyless;
    // The pattern as the operator wrote it: anchoring is how it is applied, not part of what they wrote.
    const subjectText =
      k.subject !== undefined
        ? `subject ${k.subject}`
        : `subject matching ${k.subjectRegExp} (whole subject)`;
    const expected = `issuer ${k.issuer}, ${subjectText}`;
    try {
      const root = await ctx.trustedRoot(k.trustedRoot, signal);
      if (root.material.certificateAuthorities.length === 0) {
        throw new TrustError(
          `trusted root ${root.origin} lists no certificateAuthorities to issue keyless certificates`,
          { fix: `give authority ${name} a trusted root that lists the Fulcio certificate authorities` },
        );
      }
      let subject: KeylessAuthority['subject'];
      if (k.subject !== undefined) subject = { exact: k.subject };
      else if (k.subjectRegExp !== undefined) subject = { pattern: anchoredPattern(k.subjectRegExp) };
      else throw new TrustError('keyless authority names neither subject nor subjectRegExp');
      return {
        kind: 'keyless',
        name,
        tlogRequired: true,
        expected,
        issuer: k.issuer,
        subject,
        root: root.origin,
        verifier: new Verifier(root.material, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }),
      };
    } catch (err) {
      return unavailable(name, true, expected, err, `fix the trust material of authority ${name}`);
    }
  }
  const tlogRequired = spec.transparencyLog?.required ?? false;
  const where = spec.key?.secretRef
    ? `the key in secret ${spec.key.secretRef.namespace}/${spec.key.secretRef.name}/${spec.key.secretRef.key}`
    : 'the key in the policy';
  try {
    if (spec.key === undefined) throw new TrustError('authority names neither keyless nor key');
    const pem =
      spec.key.pem ?? (spec.key.secretRef ? await ctx.secret(spec.key.secretRef, signal) : undefined);
    if (pem === undefined) throw new TrustError('key names neither pem nor secretRef');
    let parsed: ReturnType<typeof parsePublicKey>;
    try {
      parsed = parsePublicKey(pem);
    } catch (err) {
      throw new TrustError(`${where}: ${(err as Error).message}`, {
        cause: err,
        fix: `put a PEM public key (-----BEGIN PUBLIC KEY-----, e.g. cosign.pub) in ${where.replace(/^the key in /, '')}`,
      });
    }
    const fingerprint = keyFingerprint(parsed.key);
    // Key-signed bundles are checked against the key alone; their log entries (when any) against the
    // logs of the authority's trusted root (a private Rekor), by default the public-good ones. Its
    // certificate authorities play no part: the key is the identity.
    const logs = (await ctx.trustedRoot(spec.key.trustedRoot, signal)).material;
    const material = {
      ...logs,
      certificateAuthorities: [],
      publicKey: () => ({ publicKey: parsed.key, validFor: () => true }),
    };
    return {
      kind: 'key',
      name,
      tlogRequired,
      expected: `key ${fingerprint} (${parsed.algorithm})`,
      key: parsed.key,
      algorithm: parsed.algorithm,
      fingerprint,
      hints: keyHints(parsed.key),
      verifier: new Verifier(material, {
        tlogThreshold: tlogRequired ? 1 : 0,
        ctlogThreshold: 0,
        timestampThreshold: 0,
      }),
    };
  } catch (err) {
    return unavailable(name, tlogRequired, where, err, `fix the key of authority ${name}`);
  }
}

function unavailable(
  name: string,
  tlogRequired: boolean,
  expected: string,
  err: unknown,
  fallbackFix: string,
): UnavailableAuthority {
  return {
    kind: 'unavailable',
    name,
    tlogRequired,
    expected,
    reason: (err as Error)?.message ?? String(err),
    fix: err instanceof TrustError && err.fix !== undefined ? err.fix : fallbackFix,
  };
}

/**
 * Whether `entity` (built from `b`) was signed by authority `a`: the key or
 * certificate chain, SCTs, log entries and their inclusion, timestamps within
 * the certificate's validity, the signature, and for keyless the identity.
 * Synchronous and without I/O, like the verifier underneath.
 */
export function verifySigner(a: CompiledAuthority, b: ParsedBundle, entity: SignedEntity): SignerVerdict {
  switch (a.kind) {
    case 'unavailable':
      return { ok: false, code: 'TRUST_UNAVAILABLE', message: `authority is unavailable: ${a.reason}` };
    case 'key': {
      const found = () =>
        b.key.kind === 'public-key'
          ? b.key.hint
            ? a.hints.has(b.key.hint)
              ? `, the bundle names this key`
              : `, the bundle names key ${hintNotation(b.key.hint)} (another key)`
            : ''
          : `, the bundle carries a certificate for ${describeClaim(b)}`;
      if (isDigestOnly(entity) && !a.algorithm.startsWith('ecdsa-')) {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `an ${a.algorithm} signature over a file cannot be checked from the file's digest, and files are never downloaded (sign the file with an ECDSA key, or sign the manifest)`,
        };
      }
      // The signature first: when the key is not the signer's, say that rather than what else fails.
      if (!entity.signature.verifySignature(a.key)) {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `signature does not verify with the authority's key (expected ${a.expected}${found()})`,
        };
      }
      if (a.tlogRequired && entity.tlogEntries.length === 0) {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `no transparency-log entry, and authority ${a.name} requires one (expected ${a.expected})`,
        };
      }
      // Whatever key material the bundle names, only the authority's key is tried.
      const asKey: SignedEntity = { ...entity, key: { $case: 'public-key', hint: '' } };
      try {
        a.verifier.verify(asKey);
      } catch (err) {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `${sigstoreMessage(err, a)} (expected ${a.expected}${found()})`,
        };
      }
      return { ok: true, identity: `key ${a.fingerprint}`, signerId: `key:${a.fingerprint}` };
    }
    case 'keyless': {
      if (b.key.kind !== 'certificate') {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `signed with a public key (${b.key.hint ? `key ${hintNotation(b.key.hint)}` : 'no key hint'}), not with a certificate from trusted root ${a.root} (expected ${a.expected})`,
        };
      }
      if (entity.tlogEntries.length === 0) {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `no transparency-log entry, and keyless authorities require one (certificate for ${describeClaim(b)})`,
        };
      }
      let signer: ReturnType<Verifier['verify']>;
      try {
        signer = a.verifier.verify(entity);
      } catch (err) {
        return {
          ok: false,
          code: 'SIGNATURE_INVALID',
          message: `${sigstoreMessage(err, a)} (certificate for ${describeClaim(b)}, trusted root ${a.root})`,
        };
      }
      const issuer = signer.identity?.extensions?.issuer;
      const subject = signer.identity?.subjectAlternativeName;
      const found = `issuer ${issuer ?? '(none)'}, subject ${subject ?? '(none)'}`;
      const subjectOk =
        subject !== undefined &&
        ('exact' in a.subject ? subject === a.subject.exact : a.subject.pattern.test(subject));
      if (issuer !== a.issuer || !subjectOk) {
        return { ok: false, code: 'IDENTITY_MISMATCH', message: `expected ${a.expected}; found ${found}` };
      }
      return { ok: true, identity: found, signerId: `keyless:${issuer}\u0000${subject}` };
    }
  }
}

function describeClaim(b: ParsedBundle): string {
  if (b.key.kind !== 'certificate') return 'a public key';
  const c = claimedIdentity(b.key.certificate);
  return `${c.subject ?? '(no subject)'} from ${c.issuer ?? '(no issuer)'}`;
}

/** A sigstore-js error in words that say what failed. */
function sigstoreMessage(err: unknown, a: CompiledAuthority): string {
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  switch (e?.code) {
    case 'SIGNATURE_ERROR':
      return a.kind === 'key'
        ? `signature does not verify with the authority's key`
        : 'signature does not verify';
    case 'TLOG_ERROR':
      return /expected \d+ tlog entries/.test(msg)
        ? 'no transparency-log entry, and this authority requires one'
        : `transparency-log entry invalid: ${msg}`;
    case 'TIMESTAMP_ERROR':
      return /expected \d+ timestamps/.test(msg)
        ? 'no verified timestamp (log entry or TSA) to check the certificate against'
        : `timestamp invalid: ${msg}`;
    case 'CERTIFICATE_ERROR':
      return `certificate invalid: ${msg}`;
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
    case 'TLOG_MISSING_INCLUSION_ERROR':
    case 'TLOG_BODY_ERROR':
      return `transparency-log entry invalid: ${msg}`;
    case 'PUBLIC_KEY_ERROR':
      return `public key invalid: ${msg}`;
    default:
      return `verification failed: ${msg}`;
  }
}
