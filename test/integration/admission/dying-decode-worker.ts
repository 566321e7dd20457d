// A decode worker that exits on the first job of the process, then behaves (decoder tests).
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { decodeReviewBody } from '../../../src/admission/decode.ts';

const marker = join(tmpdir(), `mg-dying-worker-${process.pid}`);
parentPort?.on('message', (job: { id: number; body: Uint8Array }) => {
  if (!existsSync(marker)) {
    writeFileSync(marker, '');
    process.exit(3);
  }
  parentPort?.postMessage({ id: job.id, result: decodeReviewBody(job.body) });
});
