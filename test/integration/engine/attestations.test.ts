// Signed evidence made by the real cosign: an ML-BOM as a `cosign attest --type cyclonedx` attestation
// and SLSA v1 provenance as `--type slsaprovenance1`, checked through `modelgate verify` with
// `signedBy`, builder and source-repository rules.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { safetensors } from '../../unit/evidence/builders.ts';
import { libraryBom } from '../evidence/boms.ts';
import { Cosign } from '../verify/signers.ts';

const BUILDER =
  'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0';
const SOURCE = 'https://github.com/acme/models';

function provenance(builder: string, repository: string) {
  return {
    buildDefinition: {
      buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
      externalParameters: {
        workflow: { ref: 'refs/heads/main', repository, path: '.github/workflows/train.yml' },
      },
      resolvedDependencies: [
        { uri: `git+${repository}@refs/heads/main`, digest: { gitCommit: 'a'.repeat(40) } },
      ],
    },
    runDetails: { builder: { id: builder }, metadata: { invocationId: 'run-1' } },
  };
}

describe('attested ML-BOM and provenance (real cosign attest)', () => {
  let registry: TestRegistry;
  let cosign: Cosign;
  let releasePem: string;
  let good: Pushed;
  let strangerBom: Pushed;
  let wrongBuilder: Pushed;
  let dir: string;

  const policy = (name: string, extra: string) => {
    const f = join(dir, `${name}.yaml`);
    const pem = releasePem
      .trim()
      .split('\n')
      .map((l) => `            ${l}`)
      .join('\n');
    writeFileSync(
      f,
      `apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: ${name}}\nspec:\n  models: ["${registry.host}/models/**"]\n  signatures:\n    authorities:\n      - name: release\n        key:\n          pem: |\n${pem}\n${extra}`,
    );
    return f;
  };
  const verify = async (p: Pushed, repo: string, policyFile: string) => {
    const r = await runCli([
      'verify',
      `${registry.host}/models/${repo}@${p.digest}`,
      '--policy-file',
      policyFile,
      '--insecure-registry',
      registry.host,
      '--json',
    ]);
    return {
      code: r.code,
      codes: (JSON.parse(r.stdout).reasons as { code: string }[]).map((x) => x.code),
      out: r.stdout,
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mg-attest-'));
    registry = await startRegistry('ggcr');
    cosign = await Cosign.create();
    const release = await cosign.generateKeyPair('release');
    const stranger = await cosign.generateKeyPair('stranger');
    releasePem = release.pem;
    const oras = new Oras({ host: registry.host });
    const push = (repo: string, fill: number) =>
      oras.push(`models/${repo}:v1`, [
        // A real (tiny) safetensors file: the default formats rule admits only identified data.
        {
          name: 'model.safetensors',
          content: safetensors({ w: { dtype: 'U8', shape: [256], data: new Uint8Array(256).fill(fill) } }),
        },
      ]);
    good = await push('good', 1);
    strangerBom = await push('stranger', 2);
    wrongBuilder = await push('builder', 3);
    await oras.close();
    const ref = (p: Pushed, repo: string) => `${registry.host}/models/${repo}@${p.digest}`;
    const bomFile = (p: Pushed) => JSON.parse(libraryBom({ modelDigests: [p.digest] }));
    for (const [p, repo] of [
      [good, 'good'],
      [strangerBom, 'stranger'],
      [wrongBuilder, 'builder'],
    ] as const) {
      await cosign.sign(ref(p, repo), release.key);
    }
    await cosign.attest(ref(good, 'good'), release.key, 'cyclonedx', bomFile(good));
    await cosign.attest(ref(good, 'good'), release.key, 'slsaprovenance1', provenance(BUILDER, SOURCE));
    // An ML-BOM attested by a key no authority holds.
    await cosign.attest(ref(strangerBom, 'stranger'), stranger.key, 'cyclonedx', bomFile(strangerBom));
    await cosign.attest(
      ref(wrongBuilder, 'builder'),
      release.key,
      'slsaprovenance1',
      provenance('https://evil.example/builder', SOURCE),
    );
  }, 600_000);

  afterAll(async () => {
    await cosign?.close();
    await registry?.stop();
  });

  it('admits a model whose ML-BOM is attested by the policy authority (mlbom.signedBy)', async () => {
    const r = await verify(
      good,
      'good',
      policy('bom-signed', '  mlbom: {required: true, signedBy: [release]}\n'),
    );
    expect(r.codes).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('refuses an ML-BOM attested by a key no authority holds (MLBOM_MISSING)', async () => {
    const r = await verify(
      strangerBom,
      'stranger',
      policy('bom-stranger', '  mlbom: {required: true, signedBy: [release]}\n'),
    );
    expect(r.code).toBe(1);
    expect(r.codes).toEqual(['MLBOM_MISSING']);
  });

  it('admits SLSA provenance from the allowed builder and source, refuses another builder (PROVENANCE_FAILED)', async () => {
    const rules = `  provenance:\n    required: true\n    builderIds: ["${BUILDER}"]\n    sourceRepositories: ["${SOURCE}"]\n    signedBy: [release]\n`;
    const ok = await verify(good, 'good', policy('prov', rules));
    expect(ok.codes).toEqual([]);
    expect(ok.code).toBe(0);
    const bad = await verify(wrongBuilder, 'builder', policy('prov-bad', rules));
    expect(bad.code).toBe(1);
    expect(bad.codes).toEqual(['PROVENANCE_FAILED']);
    expect(bad.out).toContain('evil.example');
  });

  it('refuses a model with no provenance when it is required', async () => {
    const r = await verify(
      strangerBom,
      'stranger',
      policy('prov-missing', `  provenance: {required: true, builderIds: ["${BUILDER}"]}\n`),
    );
    expect(r.code).toBe(1);
    expect(r.codes).toEqual(['PROVENANCE_FAILED']);
  });
});
