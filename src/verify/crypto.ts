/**
 * Signature primitives the Sigstore libraries do not offer: verifying with the
 * hash a key's algorithm calls for (P-384 keys sign SHA-384, P-521 SHA-512),
 * and verifying an ECDSA signature over a digest that is already known (a
 * layer's digest), so that a file is never downloaded to check its signature.
 */
import { createHash, createPublicKey, type KeyObject, verify as nodeVerify } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519' | 'rsa';

const CURVES = {
  'P-256': { algorithm: 'ecdsa-p256', hash: 'sha256', curve: p256 },
  'P-384': { algorithm: 'ecdsa-p384', hash: 'sha384', curve: p384 },
  'P-521': { algorithm: 'ecdsa-p521', hash: 'sha512', curve: p521 },
} as const;

const MIN_RSA_BITS = 2048;

/** The algorithm of a public key this verifier accepts, or an explanation of why not. */
export function keyAlgorithm(
  key: KeyObject,
): { ok: true; algorithm: KeyAlgorithm } | { ok: false; error: string } {
  if (key.type !== 'public') return { ok: false, error: 'not a public key' };
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const crv = key.export({ format: 'jwk' }).crv;
      const c = crv === undefined ? undefined : CURVES[crv as keyof typeof CURVES];
      return c
        ? { ok: true, algorithm: c.algorithm }
        : { ok: false, error: `unsupported elliptic curve ${crv}` };
    }
    case 'ed25519':
      return { ok: true, algorithm: 'ed25519' };
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      return bits >= MIN_RSA_BITS
        ? { ok: true, algorithm: 'rsa' }
        : { ok: false, error: `RSA key of ${bits} bits (at least ${MIN_RSA_BITS})` };
    }
    default:
      return { ok: false, error: `unsupported key type ${key.asymmetricKeyType}` };
  }
}

/** Parses a PEM public key (SPKI), refusing anything but the accepted algorithms. */
export function parsePublicKey(pem: string): { key: KeyObject; algorithm: KeyAlgorithm } {
  let key: KeyObject;
  try {
    key = createPublicKey(pem.trim());
  } catch (err) {
    throw new Error(`not a PEM public key: ${(err as Error).message}`);
  }
  const alg = keyAlgorithm(key);
  if (!alg.ok) throw new Error(alg.error);
  return { key, algorithm: alg.algorithm };
}

/** `sha256:<hex>` of the key's DER SubjectPublicKeyInfo: how reports name a key. */
export function keyFingerprint(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex')}`;
}

/**
 * The hints a bundle may carry for this key: cosign writes base64(sha256(DER SPKI)),
 * model_signing hex(sha256(PEM)). Hints are unauthenticated; they only make messages clearer.
 */
export function keyHints(key: KeyObject): Set<string> {
  const der = key.export({ format: 'der', type: 'spki' });
  const pem = key.export({ format: 'pem', type: 'spki' });
  const derHash = createHash('sha256').update(der).digest();
  return new Set([
    derHash.toString('base64'),
    derHash.toString('hex'),
    createHash('sha256').update(pem).digest('hex'),
  ]);
}

/**
 * A bundle's key hint in the notation of `keyFingerprint` (`sha256:<hex>` of the DER SPKI), so that
 * expected and found keys can be compared by eye. cosign's base64 hint converts exactly;
 * model_signing's is the hash of the PEM text, which names the key but in another form, and says so.
 * Anything else is shown as it is (cut and made printable: the hint is the bundle author's text).
 */
export function hintNotation(hint: string): string {
  if (/^[A-Za-z0-9+/]{43}=$/.test(hint)) {
    const bytes = Buffer.from(hint, 'base64');
    if (bytes.length === 32) return `sha256:${bytes.toString('hex')}`;
  }
  if (/^[0-9a-f]{64}$/.test(hint)) return `sha256:${hint} of its PEM text (model_signing's hint)`;
  const shown = hint.replace(/[^\x20-\x7e]/g, '?');
  return `"${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}"`;
}

/** Hashes to try for a message signed with this key: the algorithm's own first, SHA-256 (older signers) second. */
function hashesFor(key: KeyObject): (string | null)[] {
  if (key.asymmetricKeyType === 'ed25519') return [null];
  if (key.asymmetricKeyType === 'ec') {
    const crv = key.export({ format: 'jwk' }).crv as keyof typeof CURVES | undefined;
    const own = crv ? CURVES[crv]?.hash : undefined;
    return own && own !== 'sha256' ? [own, 'sha256'] : ['sha256'];
  }
  return ['sha256'];
}

/** Verifies a signature over `data` (a DSSE PAE, a simple-signing payload). */
export function verifyData(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  for (const hash of hashesFor(key)) {
    try {
      if (nodeVerify(hash, data, key, signature)) return true;
    } catch {
      // A malformed signature is a failed verification.
    }
  }
  return false;
}

/**
 * Verifies an ECDSA signature (DER) over a message whose digest is `digest`,
 * without the message. EdDSA signs the message itself, so an Ed25519 key
 * cannot be checked this way; RSA is not supported here either.
 */
export function verifyDigest(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  if (key.asymmetricKeyType !== 'ec') return false;
  const jwk = key.export({ format: 'jwk' });
  const c = jwk.crv === undefined ? undefined : CURVES[jwk.crv as keyof typeof CURVES];
  if (c === undefined || jwk.x === undefined || jwk.y === undefined) return false;
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  try {
    return c.curve.verify(signature, digest, point, { prehash: false, format: 'der', lowS: false });
  } catch {
    return false;
  }
}
