import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

/** Parses `sha256:<64 hex>` or `sha512:<128 hex>` (lower-case hex, as the OCI spec requires); undefined otherwise. */
export function parseDigest(value: string): ParsedDigest | undefined {
  const m = DIGEST_RE.exec(value);
  if (m === null) return undefined;
  const algorithm = m[1] as DigestAlgorithm;
  const hex = m[2]!;
  if (hex.length !== HEX_LENGTH[algorithm]) return undefined;
  return { algorithm, hex };
}

export function isDigest(value: string): boolean {
  return parseDigest(value) !== undefined;
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** True when `bytes` hash to `digest` under the digest's own algorithm. */
export function matchesDigest(bytes: Uint8Array, digest: string): boolean {
  const parsed = parseDigest(digest);
  if (parsed === undefined) return false;
  return digestOf(bytes, parsed.algorithm) === digest;
}

/** The referrers tag schema: `sha256:abc` -> `sha256-abc`. */
export function digestToTag(digest: string): string {
  const parsed = parseDigest(digest);
  if (parsed === undefined) throw new TypeError(`not a digest: ${digest}`);
  return `${parsed.algorithm}-${parsed.hex}`;
}
