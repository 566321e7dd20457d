// Pushes artifacts with the real `oras` CLI, the way users make them.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { toolPath } from './tools.ts';

const run = promisify(execFile);

export interface OrasTarget {
  /** `127.0.0.1:PORT` */
  host: string;
  credentials?: { username: string; password: string } | undefined;
}

/** One file of an artifact: its path inside the artifact (becomes the layer title) and its bytes. */
export interface ArtifactFile {
  name: string;
  content: Uint8Array | string;
  /** Layer media type; oras's default is `application/vnd.oci.image.layer.v1.tar`. */
  mediaType?: string;
}

export interface PushOptions {
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Pushed {
  /** `host/repo@sha256:...` */
  reference: string;
  digest: string;
  mediaType: string;
}

export class Oras {
  readonly #target: OrasTarget;
  #bin: string | undefined;
  #configDir: string | undefined;

  constructor(target: OrasTarget) {
    this.#target = target;
  }

  /** `oras push --plain-http host/repo:tag file...` */
  async push(repoAndTag: string, files: readonly ArtifactFile[], opts: PushOptions = {}): Promise<Pushed> {
    return this.#withFiles(files, async (cwd, specs) => {
      const args = ['push', this.#ref(repoAndTag), ...specs, ...flags(opts), '--format', 'json'];
      return parsePushed(await this.#run(args, cwd));
    });
  }

  /** `oras attach --artifact-type T host/repo@digest file...`: a referrer whose subject is `subject`. */
  async attach(
    repoAndReference: string,
    files: readonly ArtifactFile[],
    opts: PushOptions & { artifactType: string },
  ): Promise<Pushed> {
    return this.#withFiles(files, async (cwd, specs) => {
      const args = ['attach', this.#ref(repoAndReference), ...specs, ...flags(opts), '--format', 'json'];
      return parsePushed(await this.#run(args, cwd));
    });
  }

  /** `oras manifest index create host/repo:tag source...` (sources are tags or digests in the same repo). */
  async indexCreate(repoAndTag: string, sources: readonly string[], opts: PushOptions = {}): Promise<Pushed> {
    await this.#run(['manifest', 'index', 'create', this.#ref(repoAndTag), ...sources, ...flags(opts)]);
    const digest = (await this.#run(['resolve', this.#ref(repoAndTag)])).trim();
    const repo = repoAndTag.split(':')[0]!;
    return {
      reference: `${this.#target.host}/${repo}@${digest}`,
      digest,
      mediaType: 'application/vnd.oci.image.index.v1+json',
    };
  }

  /** `oras tag host/repo@digest tag` */
  async tag(repoAndReference: string, tag: string): Promise<void> {
    await this.#run(['tag', this.#ref(repoAndReference), tag]);
  }

  /** Raw `oras` invocation with the target's plain-HTTP and credential flags appended. */
  async run(args: readonly string[], cwd?: string): Promise<string> {
    return this.#run(args, cwd);
  }

  async close(): Promise<void> {
    if (this.#configDir !== undefined) await rm(this.#configDir, { recursive: true, force: true });
  }

  #ref(repoAndReference: string): string {
    return `${this.#target.host}/${repoAndReference}`;
  }

  async #run(args: readonly string[], cwd?: string): Promise<string> {
    this.#bin ??= await toolPath('oras');
    // An empty registry config keeps the developer's own docker credentials out of the tests.
    if (this.#configDir === undefined) {
      this.#configDir = await mkdtemp(join(tmpdir(), 'modelgate-oras-'));
      await writeFile(join(this.#configDir, 'config.json'), '{"auths":{}}');
    }
    const full = [...args, '--plain-http', '--registry-config', join(this.#configDir, 'config.json')];
    const creds = this.#target.credentials;
    if (creds !== undefined) full.push('--username', creds.username, '--password', creds.password);
    try {
      const { stdout } = await run(this.#bin, full, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(
        `oras ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`,
      );
    }
  }

  async #withFiles<T>(
    files: readonly ArtifactFile[],
    fn: (cwd: string, specs: string[]) => Promise<T>,
  ): Promise<T> {
    const cwd = await mkdtemp(join(tmpdir(), 'modelgate-artifact-'));
    try {
      const specs: string[] = [];
      for (const f of files) {
        const path = join(cwd, f.name);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, f.content);
        specs.push(f.mediaType === undefined ? f.name : `${f.name}:${f.mediaType}`);
      }
      return await fn(cwd, specs);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  }
}

function flags(opts: PushOptions): string[] {
  const out: string[] = [];
  if (opts.artifactType !== undefined) out.push('--artifact-type', opts.artifactType);
  for (const [k, v] of Object.entries(opts.annotations ?? {})) out.push('--annotation', `${k}=${v}`);
  return out;
}

function parsePushed(stdout: string): Pushed {
  const json = JSON.parse(stdout) as { reference?: string; digest?: string; mediaType?: string };
  if (typeof json.digest !== 'string' || typeof json.reference !== 'string') {
    throw new Error(`unexpected oras output: ${stdout}`);
  }
  return { reference: json.reference, digest: json.digest, mediaType: json.mediaType ?? '' };
}
