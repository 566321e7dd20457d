// Signed models on a loopback registry, made as users make them: weights pushed with the real `oras`,
// signed with the real `cosign` (key, v3 bundle as a referrer), an ML-BOM made by the CycloneDX library
// attached with `oras attach`. Shared by the fault, soak and secret tests and by the benchmarks.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { libraryBom } from '../integration/evidence/boms.ts';
import { Cosign } from '../integration/verify/signers.ts';
import { f32, safetensors } from '../unit/evidence/builders.ts';
import { Oras, type OrasTarget } from './oras.ts';

export interface SignedModels {
  /** `host/repo@sha256:...` of each signed model. */
  readonly signed: readonly string[];
  /** `host/repo@sha256:...` of each model pushed but never signed. */
  readonly unsigned: readonly string[];
  /** The cosign public key (PEM) that signed them. */
  readonly publicKey: string;
  /** The cosign wrapper, its key pair made (to sign more). */
  readonly cosign: Cosign;
  readonly keyFile: string;
}

export interface SignedModelOptions {
  /** Signed models to push (`models/signed-N`). */
  readonly signed: number;
  /** Unsigned models to push (`models/unsigned-N`). */
  readonly unsigned?: number;
  /** Attach a CycloneDX ML-BOM naming the manifest digest to each signed model. */
  readonly mlbom?: boolean;
  /** Repository prefix (default `models`). */
  readonly prefix?: string;
}

/** A small, real safetensors file that differs per model. */
export function weights(seed: number): Uint8Array {
  return safetensors({ w: f32([seed, seed + 1, seed + 2, seed + 3]) });
}

/** Pushes, signs and (optionally) documents models; each cosign signature takes a process start. */
export async function pushSignedModels(target: OrasTarget, opts: SignedModelOptions): Promise<SignedModels> {
  const prefix = opts.prefix ?? 'models';
  const oras = new Oras(target);
  const cosign = await Cosign.create();
  const { key, pem } = await cosign.generateKeyPair('release');
  if (target.credentials !== undefined) {
    // cosign reads registry credentials from the docker config its wrapper points it at.
    const { username, password } = target.credentials;
    await mkdir(join(cosign.dir, 'docker'), { recursive: true });
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    await writeFile(
      join(cosign.dir, 'docker', 'config.json'),
      JSON.stringify({ auths: { [target.host]: { auth } } }),
    );
  }
  const push = (repo: string, seed: number) =>
    oras.push(`${prefix}/${repo}:v1`, [
      { name: 'model.safetensors', content: weights(seed) },
      { name: 'config.json', content: `{"seed":${seed}}`, mediaType: 'application/json' },
    ]);
  const signed: string[] = [];
  const unsigned: string[] = [];
  try {
    for (let i = 0; i < opts.signed; i++) {
      const pushed = await push(`signed-${i}`, i);
      const ref = `${target.host}/${prefix}/signed-${i}@${pushed.digest}`;
      await cosign.sign(ref, key);
      if (opts.mlbom) {
        const bom = libraryBom({ modelDigests: [pushed.digest] });
        await oras.attach(
          `${prefix}/signed-${i}@${pushed.digest}`,
          [{ name: 'mlbom.json', content: bom, mediaType: 'application/vnd.cyclonedx+json' }],
          { artifactType: 'application/vnd.cyclonedx+json' },
        );
      }
      signed.push(ref);
    }
    for (let i = 0; i < (opts.unsigned ?? 0); i++) {
      const pushed = await push(`unsigned-${i}`, 1000 + i);
      unsigned.push(`${target.host}/${prefix}/unsigned-${i}@${pushed.digest}`);
    }
  } finally {
    await oras.close();
  }
  return { signed, unsigned, publicKey: pem, cosign, keyFile: key };
}

export interface PolicyOptions {
  readonly name?: string;
  /** Model globs; default every repository of `host`. */
  readonly models?: readonly string[];
  readonly mlbom?: boolean;
  readonly mode?: 'Enforce' | 'Warn' | 'Audit';
  /** Extra spec fields. */
  readonly spec?: Record<string, unknown>;
}

/** A ModelPolicy requiring a cosign signature by `publicKey` (and an ML-BOM when asked), as YAML (JSON). */
export function signedPolicy(
  host: string,
  publicKey: string,
  opts: PolicyOptions = {},
): Record<string, unknown> {
  return {
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: opts.name ?? 'signed-models' },
    spec: {
      mode: opts.mode ?? 'Enforce',
      models: opts.models ?? [`${host}/**`],
      signatures: { threshold: 1, authorities: [{ name: 'release', key: { pem: publicKey } }] },
      ...(opts.mlbom ? { mlbom: { required: true, requireHashMatch: true } } : {}),
      ...opts.spec,
    },
  };
}

/** Writes policies as a multi-document YAML file (JSON documents: YAML is a superset). */
export async function writePolicies(
  dir: string,
  policies: readonly unknown[],
  name = 'policies.yaml',
): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, policies.map((p) => JSON.stringify(p)).join('\n---\n'));
  return file;
}
