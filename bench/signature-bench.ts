// Time to decide one model_signing-signed model of 2 GiB, side by side in one run:
//   - modelgate: resolve the model in a loopback registry, gather its evidence, verify the signature
//     (cold: new registry client, new verifier, trust compiled on first use; warm: both reused);
//   - `model_signing verify key` on the same files on local disk (it must hash all 2 GiB).
//
//   node bench/signature-bench.ts [--size-mib 2048] [--runs 3] [--registry distribution|ggcr]
//
// The model (two weight files, a config and a tokenizer) is written under the temp folder, signed with
// the real `model_signing sign key`, pushed file by file with the real oras CLI to a real registry
// (blobs on disk), and deleted at the end. Prints each timing and the ratio.
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gatherEvidence } from '../src/evidence/gather.ts';
import { RegistryClient } from '../src/oci/client.ts';
import { compilePolicy } from '../src/policy/compile.ts';
import { validateModelPolicy } from '../src/policy/validate.ts';
import { parseReference } from '../src/reference/reference.ts';
import { SignatureVerifier } from '../src/verify/signatures.ts';
import { ModelSigning } from '../test/integration/verify/signers.ts';
import { Oras } from '../test/support/oras.ts';
import { startRegistry } from '../test/support/registries.ts';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '2048' },
    runs: { type: 'string', default: '3' },
    registry: { type: 'string', default: 'distribution' },
  },
});
const sizeMiB = Number(values['size-mib']);
const runs = Math.max(1, Number(values.runs));
const kind = values.registry === 'ggcr' ? 'ggcr' : 'distribution';
const MiB = 1024 * 1024;

/** Writes `bytes` of non-repeating-looking data (a 1 MiB block, varied per MiB) without holding it in memory. */
async function writeWeights(path: string, bytes: number, seed: number): Promise<void> {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + seed) & 0xff;
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += MiB) {
    block.writeUInt32LE(written / MiB, 0);
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

const ms = (t: bigint) => Number(t) / 1e6;
const fmt = (x: number) => `${x.toFixed(1)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), 'modelgate-sigbench-'));
const model = join(dir, 'model');
const reg = await startRegistry(kind, { blobsOnDisk: true });
const oras = new Oras({ host: reg.host });
try {
  console.log(`signature bench: ${sizeMiB} MiB model, registry ${kind} at ${reg.host}, ${runs} runs`);
  await mkdir(model, { recursive: true });
  const half = Math.floor(sizeMiB / 2) * MiB;
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  let t = process.hrtime.bigint();
  await writeWeights(join(model, names[0]!), half, 1);
  await writeWeights(join(model, names[1]!), sizeMiB * MiB - half, 2);
  await writeFile(join(model, 'config.json'), '{"architectures":["BenchModel"]}');
  await writeFile(join(model, 'tokenizer.json'), '{"version":"1.0"}');
  console.log(`  wrote the model: ${fmt(ms(process.hrtime.bigint() - t))}`);

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, 'key.pem');
  const pubFile = join(dir, 'pub.pem');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(pubFile, pem);
  const signer = await ModelSigning.create();
  t = process.hrtime.bigint();
  await signer.signKey(model, keyFile, join(model, 'model.sig'));
  console.log(`  model_signing sign key: ${fmt(ms(process.hrtime.bigint() - t))}`);

  // Push file by file (titles = paths), the weights streamed from disk by oras.
  t = process.hrtime.bigint();
  const pushed = await oras.run(
    [
      'push',
      `${reg.host}/bench/model:v1`,
      ...names,
      'config.json',
      'tokenizer.json',
      'model.sig',
      '--format',
      'json',
    ],
    model,
  );
  const digest = (JSON.parse(pushed) as { digest: string }).digest;
  console.log(`  oras push: ${fmt(ms(process.hrtime.bigint() - t))} (${digest})`);

  const v = validateModelPolicy({
    apiVersion: 'modelgate.dev/v1alpha1',
    kind: 'ModelPolicy',
    metadata: { name: 'bench', uid: 'bench' },
    spec: { models: [`${reg.host}/**`], signatures: { authorities: [{ name: 'team', key: { pem } }] } },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  const policy = compilePolicy(v.policy);
  const parsed = parseReference(`${reg.host}/bench/model@${digest}`);
  if (!parsed.ok) throw new Error(parsed.error);
  const ref = parsed.ref;

  const decide = async (client: RegistryClient, verifier: SignatureVerifier) => {
    const signal = AbortSignal.timeout(60_000);
    const e = await gatherEvidence(client, ref, signal);
    const r = await verifier.check(e, policy, signal);
    if (r.failures.length > 0) throw new Error(`bench model refused: ${JSON.stringify(r.failures)}`);
  };

  const cold: number[] = [];
  const warm: number[] = [];
  const reference: number[] = [];
  for (let i = 0; i < runs; i++) {
    const client = new RegistryClient({ insecureRegistries: [reg.host] });
    const verifier = new SignatureVerifier();
    t = process.hrtime.bigint();
    await decide(client, verifier);
    cold.push(ms(process.hrtime.bigint() - t));
    for (let j = 0; j < 5; j++) {
      t = process.hrtime.bigint();
      await decide(client, verifier);
      warm.push(ms(process.hrtime.bigint() - t));
    }
    await client.close();

    t = process.hrtime.bigint();
    const ok = await signer.verifyKey(model, pubFile, join(model, 'model.sig'));
    reference.push(ms(process.hrtime.bigint() - t));
    if (!ok) throw new Error('model_signing verify key refused the bench model');
  }
  const sig = await readFile(join(model, 'model.sig'));
  const c = median(cold);
  const w = median(warm);
  const r = median(reference);
  console.log('');
  console.log(`  ${'what'.padEnd(58)} median`);
  console.log(
    `  ${'modelgate, from the registry, first decision of the process'.padEnd(58)} ${fmt(cold[0]!)}`,
  );
  console.log(`  ${'modelgate, from the registry, cold (new client + verifier)'.padEnd(58)} ${fmt(c)}`);
  console.log(`  ${'modelgate, from the registry, warm (client + trust reused)'.padEnd(58)} ${fmt(w)}`);
  console.log(`  ${'model_signing verify key, local disk'.padEnd(58)} ${fmt(r)}`);
  console.log('');
  console.log(
    `  ratio model_signing / modelgate: first ${(r / cold[0]!).toFixed(1)}x, cold ${(r / c).toFixed(1)}x, warm ${(r / w).toFixed(1)}x`,
  );
  console.log(
    `  (bytes modelgate read: manifest, referrers and the ${sig.length}-byte model.sig; never the weights)`,
  );
  console.log(
    `  all runs (ms): cold ${cold.map((x) => x.toFixed(1)).join(', ')}; warm ${warm.map((x) => x.toFixed(1)).join(', ')}; model_signing ${reference.map((x) => x.toFixed(0)).join(', ')}`,
  );
} finally {
  await oras.close();
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
