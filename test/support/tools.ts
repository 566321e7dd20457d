// Real test peers, built once into the tool cache by scripts/tools/build-tools.sh.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/tools/build-tools.sh', import.meta.url));

/** Tool name (a row of build-tools.sh) -> absolute path of its binary. */
export type ToolPaths = Readonly<Record<string, string>>;

const pending = new Map<string, Promise<ToolPaths>>();

/**
 * Builds (first time on a machine) or finds the named tools. The script is idempotent and quick once
 * built; within one test process each set of names is asked for once.
 */
export function ensureTools(...names: string[]): Promise<ToolPaths> {
  const key = names.join(' ');
  let p = pending.get(key);
  if (p === undefined) {
    p = build(names);
    pending.set(key, p);
  }
  return p;
}

/** The path of one tool, building it if needed. */
export async function toolPath(name: string): Promise<string> {
  const tools = await ensureTools(name);
  const path = tools[name];
  if (path === undefined) throw new Error(`build-tools.sh knows no tool named ${name}`);
  return path;
}

async function build(names: string[]): Promise<ToolPaths> {
  const { stdout } = await run('bash', [SCRIPT, ...names], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30 * 60_000,
  }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`build-tools.sh failed: ${e.message}\n${e.stderr ?? ''}`);
  });
  const tools: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) tools[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return tools;
}
