// Artifacts whose structure modelgate does not read (an index of more than 16 manifests, an index of
// indexes) pushed with the real oras to a real registry: refused with ARTIFACT_UNSUPPORTED and a fix
// about how to push, never with REGISTRY_ERROR's "check that the registry is reachable".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import { weights, writePolicies } from '../../support/signed-models.ts';

let reg: TestRegistry;
let oras: Oras;
let dir: string;
let policy: string;
let wide: Pushed;
let nested: Pushed;

beforeAll(async () => {
  reg = await startRegistry('ggcr', { warningProbability: 0 });
  oras = new Oras({ host: reg.host });
  dir = await mkdtemp(join(tmpdir(), 'mg-unsupported-'));
  // Sources of an index are tags of the same repository.
  const parts: string[] = [];
  for (let i = 0; i < 17; i++) {
    await oras.push(`models/part:p${i}`, [{ name: 'model.safetensors', content: weights(i) }]);
    parts.push(`p${i}`);
  }
  wide = await oras.indexCreate('models/part:wide', parts);
  await oras.indexCreate('models/part:small', parts.slice(0, 2));
  nested = await oras.indexCreate('models/part:nested', ['small']);
  policy = await writePolicies(dir, [
    {
      apiVersion: 'modelgate.dev/v1alpha1',
      kind: 'ModelPolicy',
      metadata: { name: 'open' },
      spec: { models: [`${reg.host}/**`], signatures: { required: false } },
    },
  ]);
});

afterAll(async () => {
  await oras?.close();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function verify(ref: string) {
  const r = await runCli(['verify', ref, '--policy-file', policy, '--insecure-registry', reg.host, '--json']);
  return { exit: r.code, ...(JSON.parse(r.stdout) as { reasons: { code: string; fix: string }[] }) };
}

describe('artifacts beyond what modelgate reads', () => {
  it('an index of 17 manifests: ARTIFACT_UNSUPPORTED, with a fix about how to push', async () => {
    const r = await verify(wide.reference);
    expect(r.exit).toBe(1);
    expect(r.reasons.map((x) => x.code)).toEqual(['ARTIFACT_UNSUPPORTED']);
    expect(r.reasons[0]!.fix).toMatch(/at most 16 platform manifests/);
  });

  it('an index of an index: ARTIFACT_UNSUPPORTED', async () => {
    const r = await verify(nested.reference);
    expect(r.reasons.map((x) => x.code)).toEqual(['ARTIFACT_UNSUPPORTED']);
  });
});
