import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';

const POLICIES = 'examples/policies.yaml';
const fixture = (name: string) => readFileSync(`test/fixtures/reviews/${name}`, 'utf8');

describe('modelgate review (as a process)', () => {
  it('prints a denial AdmissionReview for an ungoverned model, exit 0, uid echoed', async () => {
    const r = await runCli(['review', '--policy-file', POLICIES], fixture('pod-ungoverned.json'));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: false, status: { code: 403 } },
    });
    expect(out.response.status.message).toContain('MODEL_UNGOVERNED');
    expect(out.response.status.message).toContain("metadata.annotations['modelgate.dev/models']");
  });

  it('allows with --unmatched allow', async () => {
    const r = await runCli(
      ['review', '--policy-file', POLICIES, '--unmatched', 'allow'],
      fixture('pod-ungoverned.json'),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).response.allowed).toBe(true);
  });

  it('refuses a Deployment whose image volume is a tag (DIGEST_REQUIRED), policy chosen by namespace labels', async () => {
    const r = await runCli(
      ['review', '--policy-file', POLICIES, '--namespace-labels', 'prod=env=prod'],
      fixture('deployment-tag.json'),
    );
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout).response;
    expect(res.allowed).toBe(false);
    expect(res.status.message).toContain('DIGEST_REQUIRED');
    expect(res.status.message).toContain('production-models');
    expect(res.status.message).toContain('spec.template.spec.volumes[0].image.reference');
  });

  it('exits 2 on malformed JSON and on a non-AdmissionReview', async () => {
    const bad = await runCli(['review', '--policy-file', POLICIES], '{not json');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a JSON AdmissionReview');
    const other = await runCli(['review', '--policy-file', POLICIES], '{"kind":"Pod"}');
    expect(other.code).toBe(2);
    expect(other.stdout).toBe('');
  });

  it('answers REQUEST_INVALID (exit 0) when the review is unreadable but has a uid', async () => {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-9' },
    });
    const r = await runCli(['review', '--policy-file', POLICIES], body);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout).response;
    expect(res).toMatchObject({ uid: 'u-9', allowed: false });
    // The same answer as `serve` gives, fix included, and its cause on the wire.
    expect(res.status.message).toMatch(
      /^REQUEST_INVALID: the AdmissionReview is not valid: .*\. Fix: send a well-formed admission\.k8s\.io\/v1 AdmissionReview/,
    );
    expect(res.status.details.causes).toEqual([
      expect.objectContaining({ reason: 'REQUEST_INVALID', field: 'request' }),
    ]);
  });

  it("reads stdin with the server's decoder: over-deep JSON is REQUEST_INVALID with its uid, not parsed", async () => {
    const body = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-10","object":${'['.repeat(500)}${']'.repeat(500)}}}`;
    const r = await runCli(['review', '--policy-file', POLICIES], body);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout).response;
    expect(res).toMatchObject({ uid: 'u-10', allowed: false });
    expect(res.status.message).toMatch(/^REQUEST_INVALID: .*nested deeper than 128 levels/);
  });

  it('exits 2 for usage errors', async () => {
    expect((await runCli(['review'])).code).toBe(2);
    expect((await runCli(['review', '--policy-file', POLICIES, '--unmatched', 'maybe'])).code).toBe(2);
    expect((await runCli(['frobnicate'])).code).toBe(2);
  });
});

describe('modelgate verify', () => {
  it('exits 1 with DIGEST_REQUIRED for a tag, --json with the contract keys', async () => {
    const r = await runCli([
      'verify',
      'registry.example.com/models/llama:v3',
      '--policy-file',
      POLICIES,
      '--namespace',
      'prod',
      '--namespace-labels',
      'prod=env=prod',
      '--json',
    ]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      reference: 'registry.example.com/models/llama:v3',
      normalized: 'registry.example.com/models/llama:v3',
      allowed: false,
      reasons: [{ code: 'DIGEST_REQUIRED', policy: 'production-models', mode: 'Enforce' }],
    });
  });

  it('fails closed (exit 1, REGISTRY_ERROR) when the registry cannot be reached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mg-'));
    const f = join(dir, 'p.yaml');
    // Port 9 on loopback: nothing listens there, so the connection is refused at once.
    writeFileSync(
      f,
      'apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: local}\nspec: {models: ["127.0.0.1:9/models/**"], signatures: {required: false}}\n',
    );
    const ref = `127.0.0.1:9/models/llama@sha256:${'b'.repeat(64)}`;
    const r = await runCli(['verify', ref, '--policy-file', f, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.reasons.map((x: { code: string }) => x.code)).toEqual(['REGISTRY_ERROR']);
    expect(out).toMatchObject({ digest: null, layers: [], referrers: [] });
  });

  it('exits 0 for a reference an allow setting admits, and 1 with REFERENCE_INVALID for junk', async () => {
    const ok = await runCli([
      'verify',
      `other.example/m@sha256:${'c'.repeat(64)}`,
      '--policy-file',
      POLICIES,
      '--unmatched',
      'allow',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ALLOWED/);
    const junk = await runCli(['verify', 'HTTP://x', '--policy-file', POLICIES, '--json']);
    expect(junk.code).toBe(1);
    expect(JSON.parse(junk.stdout).reasons[0].code).toBe('REFERENCE_INVALID');
  });

  it('exits 2 when a policy file is invalid', async () => {
    const r = await runCli([
      'verify',
      'r.example/m:v1',
      '--policy-file',
      'test/fixtures/policy/invalid.yaml',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('spec.signatures.threshold');
  });
});

describe('modelgate policy lint', () => {
  it('exits 0 for valid files', async () => {
    const r = await runCli(['policy', 'lint', POLICIES]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('2 policies valid');
  });

  it('exits 1 and lists every error with its path', async () => {
    const r = await runCli(['policy', 'lint', 'test/fixtures/policy/invalid.yaml', '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.valid).toBe(false);
    const paths = out.errors
      .filter((e: { policy?: string }) => e.policy === 'many-errors')
      .map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['spec.mode', 'spec.models', 'spec.signatures.threshold']));
  });

  it('refuses a policy that does not say what signatures it requires, showing both ways to say it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mg-'));
    const f = join(dir, 'p.yaml');
    writeFileSync(
      f,
      'apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: silent}\nspec: {models: ["r.example/**"]}\n',
    );
    const r = await runCli(['policy', 'lint', f]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('spec.signatures');
    expect(r.stdout).toContain('signatures: {required: false}');
    expect(r.stdout).toContain('signatures: {authorities: [');
  });

  it('reports an unreadable file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mg-'));
    const f = join(dir, 'p.yaml');
    writeFileSync(
      f,
      'apiVersion: modelgate.dev/v1alpha1\nkind: ModelPolicy\nmetadata: {name: ok}\nspec: {models: ["r.example/**"], signatures: {required: false}}\n',
    );
    expect((await runCli(['policy', 'lint', f])).code).toBe(0);
    const missing = await runCli(['policy', 'lint', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('cannot read');
  });
});
