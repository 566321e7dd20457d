// The start-up Node version check, as a process: under Node < 24 modelgate exits 2 with a message that
// says what to run, before it loads anything that would fail later (undici under `serve --kubernetes`).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileP = promisify(execFile);

function run(
  bin: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A `node` on PATH older than 24 (machines often carry one beside the project's), if any. */
async function olderNode(): Promise<{ bin: string; version: string } | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const bin = join(dir, 'node');
    try {
      const { stdout } = await execFileP(bin, ['-p', 'process.versions.node'], { timeout: 10_000 });
      const version = stdout.trim();
      if (Number(version.split('.')[0]) < 24) return { bin, version };
    } catch {
      // not there, or not runnable
    }
  }
  return undefined;
}

const older = await olderNode();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('modelgate under an older Node', () => {
  it('exits 2 with the version found and what to run, before loading the program (version faked)', async () => {
    // Node 24 told it is Node 20: the check runs on process.versions.node, so this is its own code path.
    const fake = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"})';
    const r = await run(process.execPath, ['--import', fake, 'src/cli/main.ts', 'serve', '--kubernetes']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'modelgate: Node 24 or later is required (this is Node 20.20.2). From a checkout, `npm run modelgate -- ARGS` ' +
        'installs Node 24 into ~/.cache/modelgate and runs it (docs/cli.md); otherwise install Node 24 ' +
        '(https://nodejs.org) and run modelgate with it.\n',
    );
  });

  it.skipIf(older === undefined)(
    'exits 2 under a real older Node (the entry point as the build emits it)',
    async () => {
      // What `npm run build` emits for the entry point, made here by stripping the types (the older Node
      // cannot read TypeScript); program.ts is never reached, so it need not exist in the folder.
      const dir = await mkdtemp(join(tmpdir(), 'modelgate-node-version-'));
      dirs.push(dir);
      const js = async (name: string) =>
        stripTypeScriptTypes(await readFile(`src/cli/${name}.ts`, 'utf8')).replace(
          /'\.\/([\w-]+)\.ts'/g,
          "'./$1.js'",
        );
      await writeFile(join(dir, 'package.json'), '{"type": "module"}\n');
      await writeFile(join(dir, 'main.js'), await js('main'));
      await writeFile(join(dir, 'node-version.js'), await js('node-version'));
      const r = await run(older!.bin, [join(dir, 'main.js'), 'serve', '--kubernetes']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`Node 24 or later is required (this is Node ${older!.version})`);
    },
  );
});
