// A Python with the model-file producers of scripts/tools/requirements-evidence.txt, installed once
// into a venv in the tool cache keyed by a hash of that file (as build-tools.sh does for its Python
// tools, under the same lock), so that a fresh clone on the same machine reuses it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REQUIREMENTS = fileURLToPath(
  new URL('../../../scripts/tools/requirements-evidence.txt', import.meta.url),
);

function cacheDir(): string {
  return (
    process.env.MODELGATE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'modelgate')
  );
}

let pending: Promise<string> | undefined;

/** The venv's python (installed on first use). */
export function evidencePython(): Promise<string> {
  pending ??= install();
  return pending;
}

async function install(): Promise<string> {
  const hash = createHash('sha256')
    .update(await readFile(REQUIREMENTS))
    .digest('hex')
    .slice(0, 8);
  const tools = join(cacheDir(), 'tools');
  const dir = join(tools, `evidence-py-${hash}`);
  const script = `
set -euo pipefail
mkdir -p "$TOOLS"
exec 9>"$TOOLS/.lock"
flock 9
if [ ! -x "$DIR/bin/python" ] || [ ! -f "$DIR/.complete" ]; then
  echo "installing evidence producers into $DIR" >&2
  rm -rf "$DIR"
  python3 -m venv "$DIR"
  PIP_CACHE_DIR="$CACHE/pip" "$DIR/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" || { rm -rf "$DIR"; exit 1; }
  touch "$DIR/.complete"
fi
`;
  await run('bash', ['-c', script], {
    env: { ...process.env, TOOLS: tools, DIR: dir, CACHE: cacheDir(), REQ: REQUIREMENTS },
    timeout: 15 * 60_000,
  }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`installing ${REQUIREMENTS} failed: ${e.message}\n${e.stderr ?? ''}`);
  });
  return join(dir, 'bin', 'python');
}

/** Runs a Python script with the producers' interpreter. */
export async function python(script: string, args: readonly string[]): Promise<string> {
  const py = await evidencePython();
  const { stdout } = await run(py, [script, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  return stdout;
}
