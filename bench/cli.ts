/**
 * The CLI as a deploy pipeline runs it, whole process against whole process: `modelgate verify` (the
 * bundle, `node dist/bundle/modelgate.js`, as the README installs it; and from source, `node
 * src/cli/main.ts`, for comparison) against `cosign verify` of the same cosign-signed model (v3
 * bundle referrer) in a loopback go-containerregistry, interleaved, medians of `--runs` (default 7).
 * Then the same with 40 ms added to every registry request by a proxy (a registry in another region).
 * Also `modelgate --version`. Wall time and CPU (user + system of the child) per run.
 *
 * Usage: npm run bench -- cli [--runs 7] [--latency-ms 40]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import { startRegistry } from '../test/support/registries.ts';
import { pushSignedModels, signedPolicy, writePolicies } from '../test/support/signed-models.ts';
import { toolPath } from '../test/support/tools.ts';
import { intFlag, machineLine, printTable } from './support.ts';

const runs = intFlag('runs', 7);
const latencyMs = intFlag('latency-ms', 40);
const ROOT = new URL('..', import.meta.url).pathname;

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly code: number | null;
  readonly out: string;
}

/** Runs a process to its end under GNU time for its CPU; the wall time is measured here. */
function timed(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '__cpu %U %S', cmd, ...args], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      const m = /__cpu ([\d.]+) ([\d.]+)/.exec(err);
      const cpuMs = m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN;
      resolve({ wallMs, cpuMs, code, out: out + err.replace(/__cpu .*\n?/, '') });
    });
  });
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Tool {
  readonly name: string;
  readonly run: (host: string) => Promise<Sample>;
  /** What a successful run prints, checked on every run so that a failing tool is not timed. */
  readonly ok: (s: Sample) => boolean;
}

async function main(): Promise<void> {
  console.log(machineLine());
  const node = process.execPath;
  const cosignBin = await toolPath('cosign');
  const bundleDir = await mkdtemp(join(tmpdir(), 'mg-cli-bundle-'));
  const work = await mkdtemp(join(tmpdir(), 'mg-cli-bench-'));
  // The bundle, built as `npm run build` builds it.
  const b = await timed(node, [join(ROOT, 'scripts/bundle-cli.ts'), bundleDir]);
  if (b.code !== 0) throw new Error(`bundling failed: ${b.out}`);
  const registry = await startRegistry('ggcr', { warningProbability: 0 });
  const proxy = await startFaultProxy(registry.host);
  try {
    const models = await pushSignedModels({ host: registry.host }, { signed: 1 });
    const digestRef = models.signed[0]!;
    const path = digestRef.slice(registry.host.length);
    const pub = join(work, 'release.pub');
    await writeFile(pub, models.publicKey);
    const policyFor = async (host: string) =>
      writePolicies(work, [signedPolicy(host, models.publicKey)], `policy-${host.replace(/\W/g, '_')}.yaml`);
    const policies = new Map<string, string>();
    for (const h of [registry.host, proxy.host]) policies.set(h, await policyFor(h));
    // cosign keeps a cache of TUF and registry state in HOME: one fresh HOME for all its runs.
    const cosignEnv = { ...process.env, HOME: work, DOCKER_CONFIG: join(work, 'docker') };
    const mg =
      (entry: string): Tool['run'] =>
      (host) =>
        timed(node, [
          entry,
          'verify',
          `${host}${path}`,
          '--policy-file',
          policies.get(host)!,
          '--insecure-registry',
          host,
        ]);
    const tools: Tool[] = [
      {
        name: 'cosign verify (v3 bundle)',
        run: (host) =>
          timed(
            cosignBin,
            [
              'verify',
              '--key',
              pub,
              '--insecure-ignore-tlog=true',
              '--allow-http-registry',
              `${host}${path}`,
            ],
            cosignEnv,
          ),
        ok: (s) => s.code === 0,
      },
      {
        name: 'modelgate verify (bundle)',
        run: mg(join(bundleDir, 'modelgate.js')),
        ok: (s) => s.code === 0 && /ALLOWED/.test(s.out),
      },
      {
        name: 'modelgate verify (source, Node strips types)',
        run: mg(join(ROOT, 'src/cli/main.ts')),
        ok: (s) => s.code === 0 && /ALLOWED/.test(s.out),
      },
    ];
    const version: Tool = {
      name: 'modelgate --version (bundle)',
      run: () => timed(node, [join(bundleDir, 'modelgate.js'), '--version']),
      ok: (s) => s.code === 0,
    };

    const rows: string[][] = [['registry', 'tool', 'median wall ms', 'median CPU ms', 'wall / cosign']];
    const measure = async (label: string, host: string, set: readonly Tool[]) => {
      const samples = set.map(() => [] as Sample[]);
      // One warm-up round (compile cache, page cache, cosign's first start), then interleaved runs.
      for (let round = -1; round < runs; round++) {
        for (const [i, t] of set.entries()) {
          const s = await t.run(host);
          if (!t.ok(s)) throw new Error(`${t.name} failed (exit ${s.code}):\n${s.out.slice(0, 2000)}`);
          if (round >= 0) samples[i]!.push(s);
        }
      }
      const base = median(samples[0]!.map((s) => s.wallMs));
      set.forEach((t, i) => {
        const wall = median(samples[i]!.map((s) => s.wallMs));
        rows.push([
          label,
          t.name,
          wall.toFixed(0),
          median(samples[i]!.map((s) => s.cpuMs)).toFixed(0),
          `${(wall / base).toFixed(2)}x`,
        ]);
      });
    };
    await measure('loopback', registry.host, [...tools, version]);
    proxy.set({ kind: 'latency', ms: latencyMs });
    await measure(`+${latencyMs} ms per request`, proxy.host, tools);
    console.log(`\nwhole-process verify of one cosign-signed model; medians of ${runs} interleaved runs\n`);
    printTable(rows);
  } finally {
    await proxy.close();
    await registry.stop();
    for (const d of [work, bundleDir]) await rm(d, { recursive: true, force: true });
  }
}

await main();
