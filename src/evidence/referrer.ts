/**
 * Reads a referrer's manifest for a check. Anyone who can push to the repository can attach a
 * referrer, so one the registry serves but that cannot be read as a manifest (invalid, ambiguous, wrong
 * digest) is not the artifact's failure: it is returned as `unreadable`, with whether it was refused as
 * ambiguous. A failure that is not about the document (registry down, deadline, outbound refusal) is
 * thrown on: no verdict about the referrer was reached.
 */
import { unreadableManifest } from '../oci/errors.ts';
import type { Index, Manifest } from '../oci/types.ts';
import type { ArtifactEvidence } from './types.ts';

export type ReferrerManifest =
  | { readonly ok: true; readonly manifest: Manifest | Index }
  | { readonly ok: false; readonly message: string; readonly ambiguous: boolean };

export async function readReferrerManifest(
  e: ArtifactEvidence,
  digest: string,
  signal: AbortSignal,
): Promise<ReferrerManifest> {
  try {
    return { ok: true, manifest: (await e.reader.manifest(digest, signal)).manifest };
  } catch (err) {
    const why = unreadableManifest(err);
    if (why === undefined) throw err;
    return { ok: false, message: `manifest not readable: ${why.message}`, ambiguous: why.ambiguous };
  }
}
