// The bundled CLI (dist/bundle/modelgate.js, what `npm run build` makes and pipelines run) behaves as
// the source does: it starts, reads policies, verifies a cosign-signed model against a real registry,
// and refuses an unsigned one with the same code and exit status. Run from a directory without
// node_modules, so that nothing it needs is left outside the bundle.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../support/registries.ts';
import {
  pushSignedModels,
  type SignedModels,
  signedPolicy,
  writePolicies,
} from '../../support/signed-models.ts';

const run = promisify(execFile);
let dir: string;
let registry: TestRegistry;
let models: SignedModels;
let policyFile: string;

async function bundled(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(dir, 'bundle', 'modelgate.js'), ...args], { cwd: dir });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-bundle-'));
  await run(process.execPath, ['scripts/bundle-cli.ts', join(dir, 'bundle')]);
  await cp('examples', join(dir, 'examples'), { recursive: true });
  registry = await startRegistry('ggcr', { warningProbability: 0 });
  models = await pushSignedModels({ host: registry.host }, { signed: 1, unsigned: 1 });
  policyFile = await writePolicies(dir, [signedPolicy(registry.host, models.publicKey)]);
});

afterAll(async () => {
  await models?.cosign.close();
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the bundled CLI', () => {
  it('prints its version, and lints the example policies', async () => {
    expect(await bundled(['--version'])).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const lint = await bundled(['policy', 'lint', 'examples/policies.yaml']);
    expect(lint.code, lint.stderr).toBe(0);
  });

  it('has the admission decode worker beside the chunk that starts it', async () => {
    const chunks = join(dir, 'bundle', 'chunks');
    const names = await readdir(chunks);
    const starters: string[] = [];
    for (const n of names.filter((f) => f.endsWith('.js'))) {
      if ((await readFile(join(chunks, n), 'utf8')).includes('./decode-worker${')) starters.push(n);
    }
    expect(starters.length).toBeGreaterThan(0);
    expect(names).toContain('decode-worker.js');
  });

  it('admits the signed model and refuses the unsigned one, with no warning on stderr', async () => {
    const common = ['--policy-file', policyFile, '--insecure-registry', registry.host];
    const ok = await bundled(['verify', models.signed[0]!, ...common]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ALLOWED /);
    // No DeprecationWarning (the builtin punycode) or other noise for pipelines to parse around.
    expect(ok.stderr).toBe('');
    const no = await bundled(['verify', models.unsigned[0]!, ...common, '--json']);
    expect(no.code).toBe(1);
    expect(JSON.parse(no.stdout)).toMatchObject({ allowed: false });
    expect(no.stdout).toContain('SIGNATURE_MISSING');
  });
});
