// Bytes read to classify a 2 GiB safetensors file and a 2 GiB PyTorch-style zip (data.pkl stored
// after the 2 GiB tensor storage, so that only the central directory at the end reveals it).
//
//   node bench/format-bytes.ts            # both: over a real loopback registry, and in memory
//   node bench/format-bytes.ts --local    # in memory only (no registry, no 4 GiB push)
//
// Registry mode starts Debian's distribution registry (blobs on disk), writes the two files as
// sparse files, pushes them with the real oras CLI, resolves them with the real registry client and
// classifies them through a counting EvidenceReader. Target: under 1 MiB read per file.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyArtifact } from '../src/evidence/formats/index.ts';
import { gatherEvidence } from '../src/evidence/gather.ts';
import type { ArtifactEvidence, EvidenceReader } from '../src/evidence/types.ts';
import { RegistryClient } from '../src/oci/index.ts';
import { Oras } from '../test/support/oras.ts';
import { startRegistry } from '../test/support/registries.ts';
import { sparsePytorchZip, sparseSafetensors } from '../test/unit/evidence/builders.ts';
import { artifact, type SparseBlob } from '../test/unit/evidence/support.ts';

const SIZE = 2 * 1024 ** 3;
const MiB = 1024 * 1024;
const local = process.argv.includes('--local');

interface Counted {
  reader: EvidenceReader;
  bytes: () => number;
  requests: () => number;
}

/** An EvidenceReader that counts every byte and request that passes through it. */
function counting(inner: EvidenceReader): Counted {
  let bytes = 0;
  let requests = 0;
  return {
    bytes: () => bytes,
    requests: () => requests,
    reader: {
      async blob(d, max, signal) {
        const b = await inner.blob(d, max, signal);
        bytes += b.length;
        requests++;
        return b;
      },
      async range(d, start, end, signal) {
        const b = await inner.range(d, start, end, signal);
        bytes += b.length;
        requests++;
        return b;
      },
      manifest: (digest, signal) => inner.manifest(digest, signal),
    },
  };
}

async function measure(
  label: string,
  e: ArtifactEvidence,
): Promise<{ label: string; format: string; bytes: number; requests: number; ms: number }> {
  const c = counting(e.reader);
  const start = performance.now();
  const r = await classifyArtifact({ ...e, reader: c.reader }, { sniff: true }, AbortSignal.timeout(60_000));
  const f = r.files[0]!;
  return {
    label,
    format: `${f.format} (${f.evidence})`,
    bytes: c.bytes(),
    requests: c.requests(),
    ms: performance.now() - start,
  };
}

async function writeSparse(path: string, blob: SparseBlob): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(blob.size);
    for (const c of blob.chunks) await fh.write(c.bytes, 0, c.bytes.length, c.offset);
  } finally {
    await fh.close();
  }
}

function print(where: string, rows: Awaited<ReturnType<typeof measure>>[]): void {
  console.log(`\n${where}`);
  for (const r of rows) {
    const ok = r.bytes < MiB ? 'under 1 MiB' : 'OVER 1 MiB';
    console.log(
      `  ${r.label.padEnd(34)} ${String(r.bytes).padStart(8)} bytes in ${r.requests} range requests, ${r.ms.toFixed(0).padStart(5)} ms  [${ok}]  -> ${r.format}`,
    );
  }
}

const files = [
  { label: '2 GiB safetensors', name: 'model.safetensors', blob: sparseSafetensors(SIZE) },
  { label: '2 GiB PyTorch zip (data.pkl last)', name: 'model.pt', blob: sparsePytorchZip(SIZE) },
];

// In memory: the same bytes served from sparse descriptions.
const memoryRows = [];
for (const f of files)
  memoryRows.push(await measure(f.label, artifact({ files: [{ name: f.name, content: f.blob }] })));
print('in memory (sparse blobs)', memoryRows);

if (!local) {
  const dir = await mkdtemp(join(tmpdir(), 'mg-format-bench-'));
  const reg = await startRegistry('distribution');
  const oras = new Oras({ host: reg.host });
  const client = new RegistryClient({ insecureRegistries: [reg.host] });
  try {
    const rows = [];
    for (const f of files) {
      const path = join(dir, f.name);
      await writeSparse(path, f.blob);
      const t = performance.now();
      await oras.run(['push', `${reg.host}/bench/${f.name.replace('.', '-')}:v1`, f.name], dir);
      const pushMs = performance.now() - t;
      await rm(path);
      const digest = (await oras.run(['resolve', `${reg.host}/bench/${f.name.replace('.', '-')}:v1`])).trim();
      const e = await gatherEvidence(
        client,
        { registry: reg.host, repository: `bench/${f.name.replace('.', '-')}`, digest },
        AbortSignal.timeout(60_000),
      );
      const layer = e.layers[0]!;
      rows.push({ ...(await measure(f.label, e)), label: `${f.label}` });
      console.error(`pushed ${f.name} (${layer.size} bytes) with oras in ${(pushMs / 1000).toFixed(1)} s`);
    }
    print(`real loopback registry (distribution ${reg.host}, pushed with oras)`, rows);
  } finally {
    await client.close();
    await oras.close();
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
