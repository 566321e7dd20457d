// Runs the README's and docs/signing.md's command blocks against a loopback registry, so that the docs
// cannot rot. Which blocks run, and how, is described in ./doc-blocks.ts.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGgcrRegistry, type TestRegistry } from '../../support/registries.ts';
import { startTlsFront, type TlsFront } from '../../support/tls-front.ts';
import { toolPath } from '../../support/tools.ts';
import { check, DOC_HOST, type DocBlock, outputMatches, runBlocks, runnableBlocks } from './doc-blocks.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('docs that run', () => {
  let registry: TestRegistry;
  let front: TlsFront;
  let env: NodeJS.ProcessEnv;
  const dirs: string[] = [];

  beforeAll(async () => {
    const tools = await Promise.all(['oras', 'cosign', 'model_signing'].map((t) => toolPath(t)));
    // No random Warning headers: oras prints them, and the output is compared.
    registry = await startGgcrRegistry({ warningProbability: 0 });
    front = await startTlsFront(registry.host);
    const inherited = Object.fromEntries(
      // An outer `npm test` passes its npm_* settings down; the reader's shell has none of them.
      Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'INIT_CWD'),
    );
    env = {
      ...inherited,
      PATH: [...tools.map((t) => dirname(t)), process.env.PATH ?? '/usr/bin:/bin'].join(':'),
      SSL_CERT_FILE: front.caFile,
      NODE_EXTRA_CA_CERTS: front.caFile,
    };
  });

  afterAll(async () => {
    await front?.stop();
    await registry?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function runDoc(source: string): Promise<DocBlock[]> {
    const blocks = runnableBlocks(await readFile(join(ROOT, source), 'utf8'), source);
    await mkdir(join(ROOT, 'scratch'), { recursive: true });
    const cwd = await mkdtemp(join(ROOT, 'scratch', 'docs-test-'));
    dirs.push(cwd);
    const runs = await runBlocks(blocks, cwd, front.host, { ...env, DOCKER_CONFIG: join(cwd, '.docker') });
    check(runs, source, front.host);
    return blocks;
  }

  it('README.md: sign and push a model, ALLOWED, then the unsigned one refused with SIGNATURE_MISSING', async () => {
    const blocks = await runDoc('README.md');
    // The test must not pass by finding nothing to run: the section's outcomes are in the docs, checked.
    const outputs = blocks.map((b) => b.output?.join('\n') ?? '');
    expect(outputs.some((o) => o.startsWith('ALLOWED registry.example.com/models/tiny@'))).toBe(true);
    expect(
      blocks.some(
        (b) => b.exit === 1 && b.output?.some((l) => l.includes('SIGNATURE_MISSING [policy tiny-models]')),
      ),
    ).toBe(true);
  });

  it('docs/signing.md: keys, cosign, model_signing, a bundle beside a file and an ML-BOM, each ALLOWED', async () => {
    const blocks = await runDoc('docs/signing.md');
    const allowed = blocks.filter((b) => b.output?.[0]?.startsWith('ALLOWED '));
    expect(allowed.length).toBeGreaterThanOrEqual(4);
    expect(blocks.some((b) => /\bmodel_signing sign key\b/.test(b.script))).toBe(true);
    expect(blocks.some((b) => b.script.includes('@cyclonedx/cyclonedx-library'))).toBe(true);
  });
});

describe('the runner itself', () => {
  it('takes `sh test` blocks and the `text output` after them, and nothing else', () => {
    const md = [
      '```sh',
      'echo not run',
      '```',
      '```sh test',
      'echo one',
      '```',
      'prose',
      '```text output',
      'one',
      '',
      '```',
      '```sh test exit=1',
      'false',
      '```',
      '```yaml',
      'a: b',
      '```',
    ].join('\n');
    expect(runnableBlocks(md, 'x.md')).toEqual([
      { line: 4, script: 'echo one', exit: 0, output: ['one'] },
      { line: 12, script: 'false', exit: 1 },
    ]);
    expect(() => runnableBlocks('```text output\nx\n```\n', 'x.md')).toThrow(/must follow/);
  });

  it('carries shell state from block to block and stops at a command that fails unexpectedly', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'modelgate-docs-runner-'));
    try {
      const blocks: DocBlock[] = [
        { line: 1, script: `X=kept; mkdir sub && cd sub; echo ${DOC_HOST}/m`, exit: 0 },
        { line: 2, script: 'echo "$X $(basename "$PWD")"; false', exit: 1 },
        { line: 3, script: 'false\necho not reached', exit: 0 },
        { line: 4, script: 'echo never', exit: 0 },
      ];
      const runs = await runBlocks(blocks, cwd, '127.0.0.1:1', process.env);
      expect(runs.map((r) => [r.rc, r.stdout, r.failed.length])).toEqual([
        [0, '127.0.0.1:1/m\n', 0],
        [1, 'kept sub\n', 1],
        [undefined, '', 1],
        [undefined, '', 0],
      ]);
      expect(runs[2]!.failed[0]).toBe('1\tfalse');
      expect(() => check(runs.slice(0, 2), 'x.md', '127.0.0.1:1')).not.toThrow();
      expect(() => check(runs, 'x.md', '127.0.0.1:1')).toThrow(/x\.md:3: a command failed/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('compares output with `...` within a line and as lines', () => {
    expect(outputMatches(['ALLOWED a@sha256:... (x)'], ['ALLOWED a@sha256:12 (x)'])).toBe(true);
    expect(outputMatches(['ALLOWED a@sha256:... (x)'], ['DENIED a@sha256:12 (x)'])).toBe(false);
    expect(outputMatches(['a', '...', 'z'], ['a', 'b', 'c', 'z'])).toBe(true);
    expect(outputMatches(['a', '...', 'z'], ['a', 'z'])).toBe(true);
    expect(outputMatches(['a', 'z'], ['a', 'b', 'z'])).toBe(false);
    expect(outputMatches(['a'], ['a', 'extra'])).toBe(false);
    // Regular-expression characters in the docs are literal.
    expect(outputMatches(['x (y) [z]'], ['x (y) [z]'])).toBe(true);
    expect(outputMatches(['a.c'], ['abc'])).toBe(false);
  });
});
