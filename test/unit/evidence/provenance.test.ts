import { describe, expect, it } from 'vitest';
import { PREDICATE_SLSA_PROVENANCE_V1 } from '../../../src/evidence/attestations.ts';
import {
  checkProvenance,
  normalizeRepository,
  sourceRepositoriesOf,
} from '../../../src/evidence/provenance.ts';
import { safetensors } from './builders.ts';
import { fixedAttestations, statement } from './mlbom-builders.ts';
import { artifact, policy, signal } from './support.ts';

const BUILDER = 'https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main';
const REPO = 'https://github.com/acme/models';

/** A SLSA v1 predicate as GitHub's actions/attest-build-provenance writes it. */
function githubProvenance(repo = REPO, builder = BUILDER) {
  return {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: {
        workflow: { ref: 'refs/heads/main', repository: repo, path: '.github/workflows/train.yml' },
      },
      internalParameters: { github: { event_name: 'push', runner_environment: 'github-hosted' } },
      resolvedDependencies: [{ uri: `git+${repo}@refs/heads/main`, digest: { gitCommit: 'a'.repeat(40) } }],
    },
    runDetails: { builder: { id: builder }, metadata: { invocationId: `${repo}/actions/runs/1/attempts/1` } },
  };
}

const AUTHORITIES = {
  threshold: 1,
  authorities: [
    {
      name: 'training-ci',
      keyless: { issuer: 'https://token.actions.githubusercontent.com', subject: BUILDER },
    },
    { name: 'other', keyless: { issuer: 'https://issuer.test', subject: 'x' } },
  ],
};

const rules = (p: Record<string, unknown> = {}) =>
  policy({
    signatures: AUTHORITIES,
    provenance: { required: true, builderIds: [BUILDER], sourceRepositories: [REPO], ...p },
  });

const model = () => artifact({ files: [{ name: 'model.safetensors', content: safetensors() }] });

describe('provenance', () => {
  it('accepts provenance from an allowed builder and source repository', async () => {
    const e = model();
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_SLSA_PROVENANCE_V1, e.digest, githubProvenance()),
      },
    ]);
    const r = await checkProvenance(att)(e, rules({ signedBy: ['training-ci'] }), signal());
    expect(r.failures).toEqual([]);
    expect(r.report.acceptedFrom).toBe('training-ci');
    expect(att.calls).toEqual([PREDICATE_SLSA_PROVENANCE_V1]);
  });

  it('refuses another builder, naming what was expected and found', async () => {
    const e = model();
    const other = 'https://github.com/evil/fork/.github/workflows/train.yml@refs/heads/main';
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_SLSA_PROVENANCE_V1, e.digest, githubProvenance(REPO, other)),
      },
    ]);
    const r = await checkProvenance(att)(e, rules(), signal());
    expect(r.failures).toEqual([
      {
        code: 'PROVENANCE_FAILED',
        message: `provenance signed by training-ci: builder id "${other}" is not one of "${BUILDER}"`,
      },
    ]);
  });

  it('refuses another source repository (workflow repository and resolved dependency)', async () => {
    const e = model();
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(
          PREDICATE_SLSA_PROVENANCE_V1,
          e.digest,
          githubProvenance('https://github.com/evil/fork'),
        ),
      },
    ]);
    const r = await checkProvenance(att)(e, rules({ builderIds: undefined }), signal());
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.message).toBe(
      `provenance signed by training-ci: source repository "https://github.com/evil/fork", "git+https://github.com/evil/fork@refs/heads/main" is not one of "${REPO}"`,
    );
  });

  it('refuses provenance that records no source when sources are required', async () => {
    const e = model();
    const att = fixedAttestations([
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_SLSA_PROVENANCE_V1, e.digest, {
          runDetails: { builder: { id: BUILDER } },
        }),
      },
    ]);
    const r = await checkProvenance(att)(e, rules(), signal());
    expect(r.failures[0]!.message).toMatch(/no source repository is recorded/);
  });

  it('refuses missing provenance when required, and fails closed without a verifier', async () => {
    const e = model();
    const none = await checkProvenance(fixedAttestations([]))(e, rules(), signal());
    expect(none.failures).toEqual([
      {
        code: 'PROVENANCE_FAILED',
        message: `no verified SLSA v1 provenance attestation found for ${e.digest}`,
      },
    ]);
    const noVerifier = await checkProvenance()(e, rules(), signal());
    expect(noVerifier.failures).toEqual([
      { code: 'PROVENANCE_FAILED', message: expect.stringMatching(/cannot verify attestations/) },
    ]);
    expect((await checkProvenance()(e, rules({ required: false }), signal())).failures).toEqual([]);
    expect((await checkProvenance()(e, policy(), signal())).failures).toEqual([]);
  });

  it('considers only the authorities signedBy lists, and only statements about this artifact', async () => {
    const e = model();
    const att = fixedAttestations([
      {
        authority: 'other',
        statement: statement(PREDICATE_SLSA_PROVENANCE_V1, e.digest, githubProvenance()),
      },
      {
        authority: 'training-ci',
        statement: statement(PREDICATE_SLSA_PROVENANCE_V1, `sha256:${'0'.repeat(64)}`, githubProvenance()),
      },
    ]);
    const r = await checkProvenance(att)(e, rules({ signedBy: ['training-ci'] }), signal());
    expect(r.failures).toEqual([
      {
        code: 'PROVENANCE_FAILED',
        message: `no verified SLSA v1 provenance attestation signed by training-ci found for ${e.digest}`,
      },
    ]);
    expect((r.report.attestations as { status: string }[]).map((a) => a.status)).toEqual([
      'ignored',
      'ignored',
    ]);
  });
});

describe('source repositories', () => {
  it('reads GitHub, SLSA generator and generic shapes', () => {
    expect(sourceRepositoriesOf(githubProvenance())).toEqual([REPO, `git+${REPO}@refs/heads/main`]);
    expect(
      sourceRepositoriesOf({
        buildDefinition: {
          externalParameters: { source: { uri: 'git+https://gitlab.test/a/b.git@main' } },
          resolvedDependencies: [
            { uri: 'pkg:pypi/torch@2.0' },
            { uri: 'git+https://gitlab.test/a/b.git@main' },
            { uri: 'git+https://x.test/dep' },
          ],
        },
      }),
    ).toEqual(['git+https://gitlab.test/a/b.git@main']);
    expect(sourceRepositoriesOf(null)).toEqual([]);
  });

  it('normalises repository URIs for comparison', () => {
    expect(normalizeRepository('git+https://GitHub.com/acme/models.git@refs/heads/main')).toBe(
      'https://github.com/acme/models',
    );
    expect(normalizeRepository('https://github.com/acme/models/')).toBe('https://github.com/acme/models');
    expect(normalizeRepository('git+ssh://git@github.com/acme/models@v1')).toBe(
      'ssh://git@github.com/acme/models',
    );
    expect(normalizeRepository('https://github.com/Acme/Models')).not.toBe('https://github.com/acme/models');
  });
});
