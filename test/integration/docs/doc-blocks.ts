// Runs the command blocks of Markdown documents as written (readme-commands.test.ts runs README.md and
// docs/signing.md with it), so that the docs cannot rot.
//
// Which blocks run (the convention, for whoever edits the docs):
//  - A fenced block whose info string is `sh test` runs. `sh test exit=N` must end with exit status N
//    (a refusal: `modelgate verify` exits 1); otherwise every command in it must succeed.
//  - The fenced block right after it, if its info string is `text output`, is what the block prints on
//    stdout, line by line. `...` inside a line stands for any text; a line that is only `...` stands for
//    any number of lines. npm's own banner (`> modelgate@0.1.0 modelgate`, `> bash scripts/run.sh ...`)
//    and blank lines are not compared. A block without one is checked for its exit status only.
//  - Any other block (```sh, ```yaml, plain ```) is illustration and does not run.
//
// The blocks of one document run in order in ONE bash process (variables, `cd` and exports carry from
// block to block, as in the reader's terminal), in a fresh folder inside the checkout (scratch/, which
// git ignores: `npm run modelgate --` must find the checkout), with stdin from /dev/null. The only
// substitutions: `registry.example.com` becomes a loopback registry (go-containerregistry's, referrers
// API on) behind HTTPS with its own CA, and oras, cosign and model_signing from the tool cache come first
// on PATH. The CA is trusted through SSL_CERT_FILE (oras, cosign) and NODE_EXTRA_CA_CERTS (modelgate), so
// the commands need no plain-HTTP flags the docs would not show; DOCKER_CONFIG points into the folder so
// no credentials of the machine are used. In the output, the registry's address reads
// `registry.example.com` again before it is compared.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';

/** The registry the docs name; the test's loopback registry stands in for it. */
export const DOC_HOST = 'registry.example.com';

export interface DocBlock {
  /** 1-based line of the opening fence in the Markdown file. */
  readonly line: number;
  readonly script: string;
  readonly exit: number;
  /** Expected stdout lines, when a `text output` block follows. */
  readonly output?: readonly string[];
}

/** The runnable blocks of a Markdown document, with their expected output. */
export function runnableBlocks(markdown: string, source: string): DocBlock[] {
  const lines = markdown.split('\n');
  const fences: { line: number; info: string[]; body: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    for (; j < lines.length && !close.test(lines[j]!); j++) body.push(lines[j]!.slice(indent!.length));
    fences.push({ line: i + 1, info: info!.trim().split(/\s+/).filter(Boolean), body });
    i = j;
  }
  const blocks: DocBlock[] = [];
  let previous: (typeof fences)[number] | undefined;
  for (const f of fences) {
    const runnable = (f.info[0] === 'sh' || f.info[0] === 'bash') && f.info.includes('test');
    const output = f.info[0] === 'text' && f.info.includes('output');
    if (runnable) {
      const exit = f.info.find((t) => t.startsWith('exit='));
      blocks.push({ line: f.line, script: f.body.join('\n'), exit: exit ? Number(exit.slice(5)) : 0 });
    } else if (output) {
      const last = blocks.at(-1);
      if (previous === undefined || last === undefined || last.line !== previous.line || last.output) {
        throw new Error(`${source}:${f.line}: a \`text output\` block must follow a \`sh test\` block`);
      }
      blocks[blocks.length - 1] = { ...last, output: f.body.filter((l) => l.trim() !== '') };
    }
    previous = f;
  }
  return blocks;
}

/** Whether `actual` lines fit `expected` (`...` within a line: any text; a `...` line: any lines). */
export function outputMatches(expected: readonly string[], actual: readonly string[]): boolean {
  const patterns = expected.map((l) =>
    l.trim() === '...' ? undefined : new RegExp(`^${l.split('...').map(escapeRegExp).join('.*')}$`),
  );
  // fits[i][j]: expected[i..] fits actual[j..]
  const memo = new Map<string, boolean>();
  const fits = (i: number, j: number): boolean => {
    const key = `${i} ${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === patterns.length) r = j === actual.length;
    else if (patterns[i] === undefined) r = fits(i + 1, j) || (j < actual.length && fits(i, j + 1));
    else r = j < actual.length && patterns[i]!.test(actual[j]!) && fits(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return fits(0, 0);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** stdout as the reader sees what modelgate printed: without npm's banner and blank lines. */
function shownLines(stdout: string, host: string): string[] {
  return stdout
    .split(host)
    .join(DOC_HOST)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^> modelgate@\S+ \S+$/.test(l) && !l.startsWith('> bash scripts/run.sh '));
}

export interface BlockRun {
  readonly block: DocBlock;
  /** Undefined: the block did not run (an earlier one failed). */
  readonly rc?: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Commands that failed, `status<TAB>command`. */
  readonly failed: readonly string[];
}

/** Runs the blocks in order in one bash, in `cwd`; stops at the first unexpected failure. */
export async function runBlocks(
  blocks: readonly DocBlock[],
  cwd: string,
  host: string,
  env: NodeJS.ProcessEnv,
): Promise<BlockRun[]> {
  const out = join(cwd, '.docs-test');
  await mkdir(out, { recursive: true });
  // The ERR trap records every failing command; in a block that must succeed the first one ends the run.
  const parts = [
    '__mg_err() { printf "%s\\t%s\\n" "$1" "$2" >>"$__MG_OUT/$__mg_block.failed"; [ "$__mg_expect" -ne 0 ] || exit 90; }',
    'trap \'__mg_err $? "$BASH_COMMAND"\' ERR',
  ];
  blocks.forEach((b, i) => {
    parts.push(
      `__mg_block=${i}; __mg_expect=${b.exit}`,
      '{',
      b.script.split(DOC_HOST).join(host),
      // Taken inside the group, so that the group itself ends with 0 and does not trip the trap again.
      '__mg_rc=$?',
      `} >"$__MG_OUT/${i}.out" 2>"$__MG_OUT/${i}.err" </dev/null`,
      `echo "$__mg_rc" >"$__MG_OUT/${i}.rc"`,
    );
  });
  const driver = join(out, 'driver.sh');
  await writeFile(driver, `${parts.join('\n')}\n`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [driver], { cwd, env: { ...env, __MG_OUT: out }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const read = (f: string) => readFile(join(out, f), 'utf8').catch(() => undefined);
  const runs: BlockRun[] = [];
  for (const [i, block] of blocks.entries()) {
    const rc = await read(`${i}.rc`);
    runs.push({
      block,
      ...(rc === undefined ? {} : { rc: Number(rc.trim()) }),
      stdout: (await read(`${i}.out`)) ?? '',
      stderr: (await read(`${i}.err`)) ?? '',
      failed: ((await read(`${i}.failed`)) ?? '').split('\n').filter(Boolean),
    });
  }
  return runs;
}

/** Checks each block's exit status and output; the first problem fails the test with what it printed. */
export function check(runs: readonly BlockRun[], source: string, host: string): void {
  for (const r of runs) {
    const where = `${source}:${r.block.line}`;
    const printed = `--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
    const failedAt = r.failed.map((f) => `  ${f}`).join('\n');
    if (r.rc === undefined && r.failed.length > 0) {
      expect.fail(`${where}: a command failed:\n${failedAt}\n${printed}`);
    }
    if (r.rc === undefined) expect.fail(`${where}: did not run (bash stopped before it)`);
    if (r.rc !== r.block.exit || r.failed.length > (r.block.exit === 0 ? 0 : 1)) {
      expect.fail(
        `${where}: exit status ${r.rc}, expected ${r.block.exit}; failed commands:\n${failedAt}\n${printed}`,
      );
    }
    if (r.block.output !== undefined) {
      const shown = shownLines(r.stdout, host);
      if (!outputMatches(r.block.output, shown)) {
        expect.fail(
          `${where}: output differs from the docs.\n--- the docs show\n${r.block.output.join('\n')}\n` +
            `--- the commands printed\n${shown.join('\n')}\n--- stderr\n${r.stderr}`,
        );
      }
    }
  }
}
