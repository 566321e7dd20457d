// Which referrers signature discovery reads: those typed as signatures, and those whose descriptor says
// nothing, each kind within its own bound; never those of another type. Referrers anyone who can push may
// attach must not crowd out the signature, nor fail the discovery when they cannot be read.
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/oci/errors.ts';
import type { Descriptor } from '../../../src/oci/types.ts';
import { discoverSignatures } from '../../../src/verify/discover.ts';
import { attach, BUNDLE_V03, cosignFixture, EMPTY, evidence, LAYER_TAR, MemoryRepo } from './builders.ts';

const signal = new AbortController().signal;

function junk(
  repo: MemoryRepo,
  subject: ReturnType<typeof cosignFixture>['artifact'],
  n: number,
  listedAs: string,
) {
  return Array.from({ length: n }, (_, i) =>
    attach(repo, subject, [repo.blob(Buffer.from(`junk ${i}`), LAYER_TAR)], {
      artifactType: 'application/vnd.example.junk',
      listedAs,
    }),
  );
}

describe('discoverSignatures: referrer selection', () => {
  it('reads the signature typed referrer although 40 inconclusive ones are listed first', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const typed: Descriptor = { ...f.referrer, artifactType: BUNDLE_V03 };
    const e = evidence(repo, f.artifact, [...junk(repo, f.artifact, 40, EMPTY), typed]);
    const d = await discoverSignatures(e, {}, signal);
    expect(d.candidates.filter((c) => c.bundle !== undefined).map((c) => c.source)).toEqual([
      expect.objectContaining({ kind: 'referrer', referrer: f.referrer.digest }),
    ]);
  });

  it('reads no manifest of a referrer typed as something else', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const others = junk(repo, f.artifact, 70, 'application/vnd.example.junk');
    const e = evidence(repo, f.artifact, [...others, { ...f.referrer, artifactType: BUNDLE_V03 }]);
    const d = await discoverSignatures(e, {}, signal);
    expect(d.candidates.some((c) => c.bundle !== undefined)).toBe(true);
    for (const o of others) expect(repo.reads).not.toContain(o.digest);
  });

  it('bounds the inconclusive referrers read', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const inconclusive = junk(repo, f.artifact, 50, EMPTY);
    await discoverSignatures(evidence(repo, f.artifact, inconclusive), { maxReferrers: 8 }, signal);
    expect(inconclusive.filter((o) => repo.reads.includes(o.digest))).toHaveLength(8);
  });

  it('turns a referrer manifest the registry served but that cannot be read into a candidate error', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const broken: Descriptor = { ...junk(repo, f.artifact, 1, BUNDLE_V03)[0]! };
    const e = evidence(repo, f.artifact, [broken, { ...f.referrer, artifactType: BUNDLE_V03 }]);
    const real = e.reader;
    const reader = {
      ...real,
      manifest: (digest: string, s: AbortSignal) =>
        digest === broken.digest
          ? Promise.reject(
              new RegistryError('ARTIFACT_AMBIGUOUS' as RegistryError['code'], 'duplicate key', {
                status: 200,
              }),
            )
          : real.manifest(digest, s),
    };
    const d = await discoverSignatures({ ...e, reader }, {}, signal);
    expect(d.candidates.find((c) => c.where.includes(broken.digest))?.error).toContain('not readable');
    expect(d.candidates.some((c) => c.bundle !== undefined)).toBe(true);
  });

  it('lets a registry failure on a referrer surface: it is not a missing signature', async () => {
    const repo = new MemoryRepo();
    const f = cosignFixture(repo);
    const e = evidence(repo, f.artifact, [{ ...f.referrer, artifactType: BUNDLE_V03 }]);
    const reader = {
      ...e.reader,
      manifest: () => Promise.reject(new RegistryError('REGISTRY_ERROR', 'HTTP 503', { status: 503 })),
    };
    await expect(discoverSignatures({ ...e, reader }, {}, signal)).rejects.toMatchObject({
      code: 'REGISTRY_ERROR',
      status: 503,
    });
  });
});
