// Helm, as users run it (helm.sh/helm/v3, built by scripts/tools/build-tools.sh): lint, template, install and
// uninstall the chart against a TestCluster's kubeconfig. Helm's own state (config, cache, repositories)
// lives in a folder under the temporary directory, never in the user's home.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toolPath } from '../../test/support/tools.ts';
import { writePrivateFile } from './certs.ts';

const run = promisify(execFile);

export interface HelmResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Helm exited non-zero; `stderr` holds its message (what a user would read). */
export class HelmError extends Error {
  readonly stderr: string;
  readonly stdout: string;
  readonly exitCode: number | undefined;
  constructor(args: readonly string[], stdout: string, stderr: string, exitCode: number | undefined) {
    super(`helm ${args.join(' ')} failed (exit ${exitCode ?? '?'}): ${stderr.trim() || stdout.trim()}`);
    this.name = 'HelmError';
    this.stdout = stdout;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

export interface ChartValues {
  /** Values as an object (written to a values file). */
  readonly values?: Readonly<Record<string, unknown>>;
  /** `--set` pairs. */
  readonly set?: Readonly<Record<string, string>>;
}

// One folder for every run: helm keeps nothing there that a test depends on, and nothing piles up.
const HELM_HOME = join(tmpdir(), 'modelgate-e2e-helm');

/** Runs `helm args...`; throws HelmError on a non-zero exit. */
export async function helm(
  args: readonly string[],
  opts: { kubeconfig?: string; timeoutMs?: number } = {},
): Promise<HelmResult> {
  const bin = await toolPath('helm');
  const dir = HELM_HOME;
  const fullArgs = opts.kubeconfig === undefined ? [...args] : [...args, '--kubeconfig', opts.kubeconfig];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    HELM_CACHE_HOME: join(dir, 'cache'),
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_DATA_HOME: join(dir, 'data'),
  };
  try {
    const { stdout, stderr } = await run(bin, fullArgs, {
      env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 120_000,
    });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number | string; message: string };
    if (err.stdout === undefined && err.stderr === undefined) throw e;
    throw new HelmError(
      fullArgs,
      err.stdout ?? '',
      err.stderr ?? err.message,
      typeof err.code === 'number' ? err.code : undefined,
    );
  }
}

// Runs `use` with the `--values`/`--set` arguments for `v`; a values file lives only as long as the call.
async function withValueArgs<T>(v: ChartValues, use: (args: string[]) => Promise<T>): Promise<T> {
  const args: string[] = [];
  for (const [k, val] of Object.entries(v.set ?? {})) args.push('--set', `${k}=${val}`);
  if (v.values === undefined) return use(args);
  await mkdir(HELM_HOME, { recursive: true });
  const dir = await mkdtemp(join(HELM_HOME, 'values-'));
  try {
    // JSON is YAML.
    const file = await writePrivateFile(dir, 'values.yaml', JSON.stringify(v.values));
    return await use(['--values', file, ...args]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm lint` (with `--strict` unless told otherwise); returns its output, throws on lint errors. */
export async function helmLint(
  chart: string,
  opts: ChartValues & { strict?: boolean } = {},
): Promise<HelmResult> {
  return withValueArgs(opts, (values) =>
    helm(['lint', chart, ...(opts.strict === false ? [] : ['--strict']), ...values]),
  );
}

/** `helm template`: the rendered manifests (CRDs included unless `includeCrds: false`). */
export async function helmTemplate(
  chart: string,
  opts: ChartValues & {
    release?: string;
    namespace?: string;
    includeCrds?: boolean;
    /** `--kube-version`, e.g. the TestCluster's version, for charts that check it. */
    kubeVersion?: string;
    /** `--api-versions`, e.g. `monitoring.coreos.com/v1` to render a ServiceMonitor. */
    apiVersions?: readonly string[];
  } = {},
): Promise<string> {
  const args = [
    'template',
    opts.release ?? 'modelgate',
    chart,
    '--namespace',
    opts.namespace ?? 'modelgate-system',
  ];
  if (opts.includeCrds !== false) args.push('--include-crds');
  if (opts.kubeVersion !== undefined) args.push('--kube-version', opts.kubeVersion);
  for (const api of opts.apiVersions ?? []) args.push('--api-versions', api);
  return withValueArgs(opts, async (values) => (await helm([...args, ...values])).stdout);
}

/**
 * `helm install` (or `upgrade --install`) into the cluster of `kubeconfig`. Never `--wait` by default: on the
 * loopback control plane no pod ever runs, so a Deployment never becomes ready.
 */
export async function helmInstall(
  chart: string,
  opts: ChartValues & {
    kubeconfig: string;
    release?: string;
    namespace?: string;
    createNamespace?: boolean;
    wait?: boolean;
    upgrade?: boolean;
    timeoutMs?: number;
  },
): Promise<HelmResult> {
  const release = opts.release ?? 'modelgate';
  const args = opts.upgrade === true ? ['upgrade', '--install', release, chart] : ['install', release, chart];
  args.push('--namespace', opts.namespace ?? 'modelgate-system');
  if (opts.createNamespace !== false) args.push('--create-namespace');
  if (opts.wait === true) args.push('--wait');
  return withValueArgs(opts, (values) =>
    helm([...args, ...values], { kubeconfig: opts.kubeconfig, timeoutMs: opts.timeoutMs }),
  );
}

export async function helmUninstall(
  release: string,
  opts: { kubeconfig: string; namespace?: string },
): Promise<HelmResult> {
  return helm(['uninstall', release, '--namespace', opts.namespace ?? 'modelgate-system'], {
    kubeconfig: opts.kubeconfig,
  });
}
