// The real signers, as users run them: cosign v3 (built from the Go module proxy) and OpenSSF
// `model_signing` (PyPI), both installed by scripts/tools/build-tools.sh into the tool cache.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { toolPath } from '../../support/tools.ts';

const run = promisify(execFile);

async function exec(
  bin: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  try {
    return await run(bin, args, {
      cwd: opts.cwd,
      env: opts.env,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `${bin} ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`,
    );
  }
}

/** cosign v3, offline: keys only, no Fulcio, no Rekor, no TUF, plain-HTTP loopback registries. */
export class Cosign {
  readonly #dir: string;
  #bin: string | undefined;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  static async create(): Promise<Cosign> {
    return new Cosign(await mkdtemp(join(tmpdir(), 'modelgate-cosign-')));
  }

  get dir(): string {
    return this.#dir;
  }

  /** `cosign generate-key-pair` (empty password) into `<dir>/<name>.key|.pub`; returns the PEM public key. */
  async generateKeyPair(name: string): Promise<{ key: string; pub: string; pem: string }> {
    const work = await mkdtemp(join(this.#dir, `${name}-`));
    await this.#cosign(['generate-key-pair'], work);
    const key = join(this.#dir, `${name}.key`);
    const pub = join(this.#dir, `${name}.pub`);
    await writeFile(key, await readFile(join(work, 'cosign.key')));
    await writeFile(pub, await readFile(join(work, 'cosign.pub')));
    return { key, pub, pem: await readFile(pub, 'utf8') };
  }

  /** `cosign sign --key K REF@DIGEST`: a v3 bundle as a referrer, or with `legacy` a `.sig` tag. */
  async sign(reference: string, key: string, opts: { legacy?: boolean } = {}): Promise<void> {
    await this.#cosign([
      'sign',
      '--key',
      key,
      ...OFFLINE,
      '--allow-http-registry',
      '--yes',
      ...(opts.legacy ? ['--new-bundle-format=false'] : []),
      reference,
    ]);
  }

  /** `cosign attest --key K --type T --predicate P REF@DIGEST` (a v3 bundle referrer). */
  async attest(reference: string, key: string, predicateType: string, predicate: unknown): Promise<void> {
    const file = join(this.#dir, `predicate-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
    await writeFile(file, JSON.stringify(predicate));
    await this.#cosign([
      'attest',
      '--key',
      key,
      ...OFFLINE,
      '--allow-http-registry',
      '--yes',
      '--type',
      predicateType,
      '--predicate',
      file,
      reference,
    ]);
  }

  /** `cosign sign-blob --key K --bundle OUT FILE`: a message-signature bundle over one file. */
  async signBlob(file: string, key: string): Promise<Buffer> {
    const out = `${file}.bundle-${Date.now()}`;
    await this.#cosign(['sign-blob', '--key', key, ...OFFLINE, '--yes', '--bundle', out, file]);
    const bytes = await readFile(out);
    await rm(out, { force: true });
    return bytes;
  }

  /** `cosign attest-blob --key K --type T --predicate P --bundle OUT FILE`: a DSSE statement over one file. */
  async attestBlob(file: string, key: string, predicateType: string, predicate: unknown): Promise<Buffer> {
    const pred = `${file}.predicate.json`;
    await writeFile(pred, JSON.stringify(predicate));
    const out = `${file}.bundle-${Date.now()}`;
    await this.#cosign([
      'attest-blob',
      '--key',
      key,
      ...OFFLINE,
      '--yes',
      '--type',
      predicateType,
      '--predicate',
      pred,
      '--bundle',
      out,
      file,
    ]);
    const bytes = await readFile(out);
    await rm(out, { force: true });
    return bytes;
  }

  async close(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #cosign(args: readonly string[], cwd?: string): Promise<string> {
    this.#bin ??= await toolPath('cosign');
    const { stdout } = await exec(this.#bin, args, {
      cwd: cwd ?? this.#dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        // Keep cosign's own caches (TUF, docker config) inside the test's folder.
        HOME: this.#dir,
        DOCKER_CONFIG: join(this.#dir, 'docker'),
        TUF_ROOT: join(this.#dir, 'tuf'),
        COSIGN_PASSWORD: '',
      },
    });
    return stdout;
  }
}

/** Flags that keep cosign v3 offline: no signing config from TUF, no transparency-log upload. */
const OFFLINE = ['--use-signing-config=false', '--tlog-upload=false'] as const;

/** OpenSSF model signing (`model_signing` CLI and library from PyPI). */
export class ModelSigning {
  readonly #bin: string;

  private constructor(bin: string) {
    this.#bin = bin;
  }

  static async create(): Promise<ModelSigning> {
    return new ModelSigning(await toolPath('model_signing'));
  }

  /** `model_signing sign key --private_key K --signature SIG MODEL_DIR` */
  async signKey(modelDir: string, privateKey: string, signature: string): Promise<void> {
    await exec(this.#bin, ['sign', 'key', '--private_key', privateKey, '--signature', signature, modelDir]);
  }

  /** `model_signing verify key --public_key P --signature SIG MODEL_DIR`; resolves to whether it verified. */
  async verifyKey(modelDir: string, publicKey: string, signature: string): Promise<boolean> {
    try {
      await exec(this.#bin, ['verify', 'key', '--public_key', publicKey, '--signature', signature, modelDir]);
      return true;
    } catch {
      return false;
    }
  }

  /** The library's shard serialization (the CLI has no flag for it). */
  async signKeyShards(
    modelDir: string,
    privateKey: string,
    signature: string,
    shardSize: number,
  ): Promise<void> {
    const python = join(dirname(this.#bin), 'python');
    const script = [
      'import sys, model_signing',
      'model_signing.signing.Config().use_elliptic_key_signer(private_key=sys.argv[1]).set_hashing_config(',
      '  model_signing.hashing.Config().use_shard_serialization(shard_size=int(sys.argv[4]))',
      // As the CLI does for its own output: a model.sig inside the directory is not part of the model.
      "  .set_ignored_paths(paths=['model.sig'])",
      ').sign(sys.argv[2], sys.argv[3])',
    ].join('\n');
    await exec(python, ['-c', script, privateKey, modelDir, signature, String(shardSize)]);
  }
}

/** Writes an EC key pair as PEM files (PKCS#8 private key, SPKI public key), as model_signing reads them. */
export async function writeEcKey(
  dir: string,
  name: string,
  namedCurve: 'P-256' | 'P-384' | 'P-521' = 'P-256',
): Promise<{ key: string; pub: string; pem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(pub, pem);
  return { key, pub, pem };
}
