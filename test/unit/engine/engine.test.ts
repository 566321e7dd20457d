import { describe, expect, it } from 'vitest';
import { Engine, type ModelVerifier } from '../../../src/engine/engine.ts';
import { MODEL_FORMATS } from '../../../src/policy/schema.ts';
import { DIGEST, engine, passingVerifier, podReview, policy } from './builders.ts';

/** A policy that allows every format demands no format check (and so nothing from the registry). */
const open = { formats: { allow: [...MODEL_FORMATS] } };

describe('Engine.review', () => {
  it('allows a pod that names no model', async () => {
    const d = await engine({}).review(podReview([]));
    expect(d.allowed).toBe(true);
    expect(d.findings).toEqual([]);
  });

  it('denies an ungoverned model by default with MODEL_UNGOVERNED, naming the field path', async () => {
    const d = await engine({}).review(podReview(['r.example/m/x@' + DIGEST]));
    expect(d.allowed).toBe(false);
    expect(d.status).toBe(403);
    expect(d.findings.map((f) => f.code)).toEqual(['MODEL_UNGOVERNED']);
    expect(d.message).toContain("metadata.annotations['modelgate.dev/models']");
    expect(d.message).toContain('MODEL_UNGOVERNED');
    expect(d.message).toContain('Fix:');
  });

  it('warns or allows an ungoverned model when unmatched says so', async () => {
    const warn = await engine({}, { unmatched: 'warn' }).review(podReview(['r.example/m/x@' + DIGEST]));
    expect(warn.allowed).toBe(true);
    expect(warn.warnings).toHaveLength(1);
    expect(warn.warnings[0]).toContain('MODEL_UNGOVERNED');
    const allow = await engine({}, { unmatched: 'allow' }).review(podReview(['r.example/m/x@' + DIGEST]));
    expect(allow).toMatchObject({ allowed: true, warnings: [], findings: [] });
  });

  it('denies a tag-only reference with DIGEST_REQUIRED and contacts no registry', async () => {
    let calls = 0;
    const counting: ModelVerifier = {
      verify: async () => {
        calls += 1;
        return { failures: [] };
      },
    };
    const e = engine({ policies: [policy('prod', { models: ['r.example/m/**'] })] }, { verifier: counting });
    const d = await e.review(podReview(['r.example/m/x:v1']));
    expect(d.allowed).toBe(false);
    expect(d.findings).toMatchObject([
      { code: 'DIGEST_REQUIRED', policy: 'prod', reference: 'r.example/m/x:v1' },
    ]);
    expect(calls).toBe(0);
  });

  it('does not call the verifier for references that no policy governs', async () => {
    let calls = 0;
    const counting: ModelVerifier = {
      verify: async () => {
        calls += 1;
        return { failures: [] };
      },
    };
    const e = engine(
      { policies: [policy('prod', { models: ['r.example/m/**'] })] },
      { verifier: counting, unmatched: 'allow' },
    );
    await e.review(podReview(['evil.example/m/x@' + DIGEST, '169.254.169.254/latest/meta-data@' + DIGEST]));
    expect(calls).toBe(0);
  });

  it('refuses an unparseable reference with REFERENCE_INVALID', async () => {
    const d = await engine({}).review(podReview(['r.example/M/Upper@' + DIGEST]));
    expect(d.findings.map((f) => f.code)).toEqual(['REFERENCE_INVALID']);
    expect(d.allowed).toBe(false);
  });

  it('Warn mode admits with warnings; Audit mode admits silently but keeps the finding', async () => {
    const warn = engine({ policies: [policy('w', { mode: 'Warn', models: ['r.example/**'] })] });
    const dw = await warn.review(podReview(['r.example/m:v1']));
    expect(dw.allowed).toBe(true);
    expect(dw.warnings.join()).toContain('DIGEST_REQUIRED');
    const audit = engine({ policies: [policy('a', { mode: 'Audit', models: ['r.example/**'] })] });
    const da = await audit.review(podReview(['r.example/m:v1']));
    expect(da).toMatchObject({ allowed: true, warnings: [] });
    expect(da.findings).toMatchObject([{ code: 'DIGEST_REQUIRED', mode: 'Audit' }]);
  });

  it('an Enforce policy wins over a Warn policy on the same model', async () => {
    const e = engine({
      policies: [
        policy('w', { mode: 'Warn', models: ['r.example/**'] }),
        policy('e', { models: ['r.example/m/**'] }),
      ],
    });
    const d = await e.review(podReview(['r.example/m/x:v1']));
    expect(d.allowed).toBe(false);
    expect(d.warnings).toHaveLength(1);
    expect(d.findings.map((f) => `${f.policy}:${f.mode}`).sort()).toEqual(['e:Enforce', 'w:Warn']);
  });

  it('fails closed for every registry-bound check this build cannot make, each with its code', async () => {
    const p = policy('full', {
      models: ['r.example/**'],
      signatures: { authorities: [{ name: 'ci', keyless: { issuer: 'https://i.example', subject: 's' } }] },
      mlbom: { required: true },
      provenance: { required: true },
    });
    const d = await engine({ policies: [p] }).review(podReview(['r.example/m@' + DIGEST]));
    expect(d.allowed).toBe(false);
    expect(d.findings.map((f) => f.code).sort()).toEqual([
      'FORMAT_DENIED',
      'MLBOM_MISSING',
      'PROVENANCE_FAILED',
      'SIGNATURE_MISSING',
    ]);
  });

  it('admits a model whose policy demands nothing the registry must show', async () => {
    const d = await engine({ policies: [policy('open', { models: ['r.example/**'], ...open })] }).review(
      podReview(['r.example/m@' + DIGEST]),
    );
    expect(d.allowed).toBe(true);
  });

  it('refuses with DEADLINE_EXCEEDED when verification hangs, within the deadline', async () => {
    const hanging: ModelVerifier = { verify: () => new Promise(() => {}) };
    const e = engine(
      { policies: [policy('p', { models: ['r.example/**'] })] },
      { verifier: hanging, deadlineMs: 100 },
    );
    const t0 = performance.now();
    const d = await e.review(podReview(['r.example/m@' + DIGEST]));
    const ms = performance.now() - t0;
    expect(d.findings.map((f) => f.code)).toEqual(['DEADLINE_EXCEEDED']);
    expect(d.allowed).toBe(false);
    expect(ms).toBeLessThan(1_000);
  });

  it('aborts the verifier signal at the deadline', async () => {
    let aborted = false;
    const watching: ModelVerifier = {
      verify: (_r, _p, signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(signal.reason);
          }),
        ),
    };
    const e = engine(
      { policies: [policy('p', { models: ['r.example/**'] })] },
      { verifier: watching, deadlineMs: 50 },
    );
    const d = await e.review(podReview(['r.example/m@' + DIGEST]));
    expect(d.findings.map((f) => f.code)).toEqual(['DEADLINE_EXCEEDED']);
    expect(aborted).toBe(true);
  });

  it('turns a verifier exception into INTERNAL_ERROR, never an allow', async () => {
    const throwing: ModelVerifier = {
      verify: async () => {
        throw new Error('boom');
      },
    };
    const e = engine({ policies: [policy('p', { models: ['r.example/**'] })] }, { verifier: throwing });
    const d = await e.review(podReview(['r.example/m@' + DIGEST]));
    expect(d.allowed).toBe(false);
    expect(d.findings).toMatchObject([{ code: 'INTERNAL_ERROR' }]);
    expect(d.message).toContain('boom');
  });

  it('refuses what an invalid policy would govern with POLICY_INVALID', async () => {
    const e = engine(
      {
        invalid: [
          {
            name: 'broken',
            errors: [{ path: 'spec.mode', message: 'must be one of: Enforce, Warn, Audit' }],
            governs: (r) => r.startsWith('r.example/'),
          },
        ],
      },
      { unmatched: 'allow' },
    );
    const d = await e.review(podReview(['r.example/m@' + DIGEST]));
    expect(d.allowed).toBe(false);
    expect(d.findings).toMatchObject([{ code: 'POLICY_INVALID', policy: 'broken' }]);
  });

  it('does not add a contradictory MODEL_UNGOVERNED to POLICY_INVALID, even with --unmatched deny', async () => {
    const broken = {
      name: 'broken',
      errors: [{ path: 'spec.mode', message: 'must be one of: Enforce, Warn, Audit' }],
      governs: (r: string) => r.startsWith('r.example/'),
    };
    // A valid policy covers the model too, but not in this namespace: no valid policy governs it here.
    const elsewhere = policy('elsewhere', {
      ...open,
      models: ['r.example/**'],
      match: { namespaces: ['prod'] },
    });
    const e = engine({ invalid: [broken], policies: [elsewhere] }, { unmatched: 'deny' });
    const d = await e.review(podReview([`r.example/m@${DIGEST}`, `other.example/m@${DIGEST}`]));
    expect(d.allowed).toBe(false);
    // The model the invalid policy covers gets only POLICY_INVALID; a model nothing covers is still
    // MODEL_UNGOVERNED.
    expect(d.findings.map((f) => [f.reference, f.code])).toEqual([
      [`r.example/m@${DIGEST}`, 'POLICY_INVALID'],
      [`other.example/m@${DIGEST}`, 'MODEL_UNGOVERNED'],
    ]);
    const line = d.message?.split('\n').find((l) => l.startsWith('- r.example/m@'));
    expect(line).toContain('POLICY_INVALID');
    expect(line).not.toContain('MODEL_UNGOVERNED');
  });

  it('governs container images that a policy names (modelcar) and ignores other images', async () => {
    const e = engine(
      { policies: [policy('p', { models: ['r.example/models/**'] })] },
      { verifier: passingVerifier },
    );
    const d = await e.review(
      podReview([], {
        initContainers: [{ name: 'model', image: 'r.example/models/llama:v1' }],
        containers: [{ name: 'app', image: 'docker.io/library/python:3' }],
      }),
    );
    expect(d.findings).toMatchObject([
      { code: 'DIGEST_REQUIRED', fieldPath: 'spec.initContainers[0].image' },
    ]);
  });

  it('finds oci:// references in args and env and image volumes, each with its path', async () => {
    const e = engine({}, { unmatched: 'deny' });
    const d = await e.review(
      podReview([], {
        volumes: [{ name: 'm', image: { reference: 'r.example/v@' + DIGEST } }],
        containers: [
          {
            name: 'c',
            image: 'busybox',
            args: ['--model', 'oci://r.example/a@' + DIGEST],
            env: [{ name: 'STORAGE_URI', value: 'oci://r.example/b@' + DIGEST }],
          },
        ],
      }),
    );
    expect(d.findings.map((f) => f.fieldPath)).toEqual([
      'spec.volumes[0].image.reference',
      'spec.containers[0].args[1]',
      'spec.containers[0].env[0].value',
    ]);
  });

  it('applies namespaceSelector policies by namespace labels', async () => {
    const p = policy('prod', {
      models: ['r.example/**'],
      match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
    });
    const e = engine(
      { policies: [p] },
      { labels: { dev: { env: 'dev' }, prod: { env: 'prod' } }, unmatched: 'allow' },
    );
    expect((await e.review(podReview(['r.example/m:v1'], {}, 'dev'))).allowed).toBe(true);
    expect((await e.review(podReview(['r.example/m:v1'], {}, 'prod'))).allowed).toBe(false);
  });

  it('unwraps a CronJob and reports paths under its job template', async () => {
    const d = await engine({}).review({
      kind: { group: 'batch', version: 'v1', kind: 'CronJob' },
      namespace: 'ml',
      operation: 'CREATE',
      object: {
        spec: {
          jobTemplate: {
            spec: {
              template: {
                metadata: { annotations: { 'modelgate.dev/models': 'r.example/m@' + DIGEST } },
                spec: { containers: [] },
              },
            },
          },
        },
      },
    });
    expect(d.findings[0]?.fieldPath).toBe(
      "spec.jobTemplate.spec.template.metadata.annotations['modelgate.dev/models']",
    );
  });

  it('refuses an object that is not an object with REQUEST_INVALID (status 400)', async () => {
    const d = await engine({}).review({
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      object: 'x',
    });
    expect(d).toMatchObject({ allowed: false, status: 400 });
    expect(d.findings[0]?.code).toBe('REQUEST_INVALID');
  });

  it('refuses an object whose references exceed the bound, with a fix that says what to shorten', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `r.example/m${i}@${DIGEST}`);
    const d = await engine({}).review(podReview(many));
    expect(d.findings.map((f) => f.code)).toEqual(['REQUEST_INVALID']);
    expect(d.findings[0]!.fix).toMatch(/^name at most 256 model references in one object/);
    expect(d.findings[0]!.fix).not.toMatch(/AdmissionReview/);
  });

  it("reads a 200 KiB models annotation (within Kubernetes' 256 KiB), refuses a longer one by name", async () => {
    const long = (n: number) => `r.example/m@${DIGEST}${' '.repeat(n)}`;
    const ok = await engine({}).review(podReview([long(200 * 1024)]));
    expect(ok.findings.map((f) => f.code)).not.toContain('REQUEST_INVALID');
    const tooLong = await engine({}).review(podReview([long(300 * 1024)]));
    expect(tooLong.findings.map((f) => [f.code, f.fieldPath])).toEqual([
      ['REQUEST_INVALID', "metadata.annotations['modelgate.dev/models']"],
    ]);
    expect(tooLong.findings[0]!.fix).toMatch(/^shorten the modelgate\.dev\/models annotation/);
  });

  it('lets DELETE and kinds without pods through', async () => {
    expect((await engine({}).review({ ...podReview(['x']), operation: 'DELETE' })).allowed).toBe(true);
    const cm = await engine({}).review({
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      operation: 'CREATE',
      object: {},
    });
    expect(cm.allowed).toBe(true);
  });
});

describe('Engine.verifyReference', () => {
  it('reports the normalised reference and each policy consulted', async () => {
    const e = engine({ policies: [policy('p', { models: ['docker.io/library/**'] })] });
    const v = await e.verifyReference('oci://ubuntu:22.04', 'default');
    expect(v).toMatchObject({ normalized: 'docker.io/library/ubuntu:22.04', allowed: false });
    expect(v.policies).toEqual([{ name: 'p', mode: 'Enforce' }]);
    expect(v.findings[0]?.code).toBe('DIGEST_REQUIRED');
  });
});

describe('Engine.review before the policies are loaded (cluster mode)', () => {
  const offline: ModelVerifier = { verify: async () => ({ failures: [] }) };
  const make = (loaded: () => boolean, loading: Promise<void>) =>
    new Engine({
      unmatched: 'allow',
      deadlineMs: 200,
      policies: () => ({ policies: [], invalid: [] }),
      policiesLoaded: loaded,
      policiesLoading: loading,
      namespaceLabels: () => undefined,
      verifier: offline,
    });

  it('refuses every object with a pod spec with POLICY_NOT_LOADED once the deadline passes, never an allow', async () => {
    const started = performance.now();
    const d = await make(() => false, new Promise(() => {})).review(podReview([]));
    expect(d.allowed).toBe(false);
    expect(d.findings.map((f) => f.code)).toEqual(['POLICY_NOT_LOADED']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('decides as usual when the list comes in while the request waits', async () => {
    let loaded = false;
    const loading = new Promise<void>((r) =>
      setTimeout(() => {
        loaded = true;
        r();
      }, 20),
    );
    const d = await make(() => loaded, loading).review(podReview([]));
    expect(d.allowed).toBe(true);
  });
});
