// Debian's distribution registry on a fixed loopback port with its storage on disk, so that it can be
// stopped and started again (a registry restart, as in a rollout) and come back with the same content.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type RunningProcess, startProcess, waitForHttp } from './process.ts';
import { toolPath } from './tools.ts';

export interface RestartableRegistry {
  /** `127.0.0.1:PORT`, the same across restarts. */
  readonly host: string;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it for good and removes its storage. */
  destroy(): Promise<void>;
}

export async function startRestartableRegistry(): Promise<RestartableRegistry> {
  const bin = await toolPath('docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-restartable-'));
  const port = await freePort();
  const configPath = join(dir, 'config.yml');
  // YAML is a superset of JSON.
  await writeFile(
    configPath,
    JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}`, secret: 'modelgate-soak-secret' },
    }),
  );
  let proc: RunningProcess | undefined;
  const registry: RestartableRegistry = {
    host: `127.0.0.1:${port}`,
    get running() {
      return proc !== undefined;
    },
    async start() {
      if (proc !== undefined) return;
      const p = startProcess(bin, ['serve', configPath], { cwd: dir });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/v2/`, [200], 30_000);
      } catch (e) {
        await p.stop();
        throw new Error(`${(e as Error).message}\n${p.logs()}`);
      }
      proc = p;
    },
    async stop() {
      const p = proc;
      proc = undefined;
      await p?.stop();
    },
    async destroy() {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await registry.start();
  return registry;
}
