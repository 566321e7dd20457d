/**
 * The registry client on one model reference, for a 1 MiB and a 2 GiB model: sequential round trips on the
 * critical path, requests, bytes read and wall time of a cold verification (fresh client: no cache, no
 * pooled connection). The model is a safetensors file plus a config, pushed by oras, signed by cosign, with
 * an ML-BOM attached; the policy requires the signature, the ML-BOM and the default formats rule, so the
 * weights are classified from their first bytes (HTTP Range). Both loopback registries, blobs on disk:
 * go-containerregistry (referrers API) and distribution 2.8 (tag fallback). Bytes read must not grow with
 * the model: each registry's 2 GiB row is compared with its 1 MiB row (the baseline, same run).
 *
 * Usage: npm run bench -- registry-client [--rounds 10] [--gib 2]
 */
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifierFrom } from '../src/cli/setup.ts';
import { parseReference } from '../src/reference/reference.ts';
import { libraryBom } from '../test/integration/evidence/boms.ts';
import { Cosign } from '../test/integration/verify/signers.ts';
import { Oras } from '../test/support/oras.ts';
import { type RegistryKind, startRegistry } from '../test/support/registries.ts';
import { signedPolicy } from '../test/support/signed-models.ts';
import { sparseSafetensors } from '../test/unit/evidence/builders.ts';
import type { SparseBlob } from '../test/unit/evidence/support.ts';
import {
  compile,
  criticalPath,
  intFlag,
  machineLine,
  median,
  printTable,
  requestRecorder,
} from './support.ts';

const rounds = intFlag('rounds', 10);
const gib = intFlag('gib', 2);

async function writeSparse(path: string, blob: SparseBlob): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(blob.size);
    for (const c of blob.chunks) await fh.write(c.bytes, 0, c.bytes.length, c.offset);
  } finally {
    await fh.close();
  }
}

async function main(): Promise<void> {
  console.log(machineLine());
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-client-bench-'));
  const cosign = await Cosign.create();
  try {
    const signer = await cosign.generateKeyPair('release');
    await writeFile(join(dir, 'config.json'), '{"architecture":"bench"}');
    const rows: string[][] = [
      [
        'registry, model',
        'requests',
        'sequential round trips',
        'bytes read',
        'wall ms (median)',
        'slowest request ms',
        'push s',
      ],
    ];
    for (const kind of ['ggcr', 'distribution'] as const) {
      rows.push(...(await measureRegistry(kind, dir, cosign, signer)));
    }
    console.log(
      `\none model reference, cold verification (signature + ML-BOM + formats), ${rounds} rounds each\n`,
    );
    printTable(rows);
    console.log(
      '\naim: bytes read do not grow with the model size. go-containerregistry with blobs on disk reads the whole ' +
        'blob to answer a Range request (its answer takes longer with the blob; the bytes it sends do not): that ' +
        'request is the slowest one of its 2 GiB row.',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(cosign.dir, { recursive: true, force: true });
  }
}

async function measureRegistry(
  kind: RegistryKind,
  dir: string,
  cosign: Cosign,
  signer: { key: string; pem: string },
): Promise<string[][]> {
  const registry = await startRegistry(kind, { blobsOnDisk: true, warningProbability: 0 });
  const oras = new Oras({ host: registry.host });
  const rows: string[][] = [];
  try {
    const policy = compile(signedPolicy(registry.host, signer.pem, { mlbom: true }));
    const read: number[] = [];
    for (const size of [2 ** 20, gib * 2 ** 30]) {
      const label = `${kind}, ${size < 2 ** 30 ? '1 MiB' : `${gib} GiB`} model`;
      const repo = `bench/model-${size}`;
      const path = join(dir, 'model.safetensors');
      await writeSparse(path, sparseSafetensors(size));
      const pushStart = performance.now();
      const files = ['model.safetensors', 'config.json:application/json'];
      await oras.run(['push', `${registry.host}/${repo}:v1`, ...files], dir);
      const pushS = (performance.now() - pushStart) / 1000;
      await rm(path);
      const digest = (await oras.run(['resolve', `${registry.host}/${repo}:v1`])).trim();
      const reference = `${registry.host}/${repo}@${digest}`;
      await cosign.sign(reference, signer.key);
      const bom = libraryBom({ modelDigests: [digest] });
      await oras.attach(
        `${repo}@${digest}`,
        [{ name: 'mlbom.json', content: bom, mediaType: 'application/vnd.cyclonedx+json' }],
        { artifactType: 'application/vnd.cyclonedx+json' },
      );
      const parsed = parseReference(reference);
      if (!parsed.ok) throw new Error(parsed.error);

      const walls: number[] = [];
      const slowest: number[] = [];
      let requests = 0;
      let depth = 0;
      let bytes = 0;
      for (let i = 0; i < rounds; i++) {
        const rec = requestRecorder();
        const { verifier, close } = verifierFrom(
          { insecureRegistry: [registry.host] },
          { onRequest: rec.onRequest },
        );
        const t = performance.now();
        const outcome = await verifier.verify(parsed.ref, policy, AbortSignal.timeout(60_000));
        walls.push(performance.now() - t);
        await close();
        if (outcome.failures.length > 0) throw new Error(`not verified: ${JSON.stringify(outcome.failures)}`);
        requests = rec.requests.length;
        depth = criticalPath(rec.requests).depth;
        bytes = rec.requests.reduce((n, r) => n + r.bytes, 0);
        slowest.push(Math.max(...rec.requests.map((r) => r.ms)));
      }
      read.push(bytes);
      rows.push([
        label,
        String(requests),
        String(depth),
        String(bytes),
        median(walls).toFixed(1),
        median(slowest).toFixed(1),
        pushS.toFixed(1),
      ]);
    }
    rows.push([`${kind}, ${gib} GiB / 1 MiB`, '', '', `${(read[1]! / read[0]!).toFixed(2)}x`, '', '', '']);
    return rows;
  } finally {
    await oras.close();
    await registry.stop();
  }
}

await main();
