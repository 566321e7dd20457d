/**
 * The decode worker: runs decodeReviewBody for large bodies off the server's event loop (see
 * decoder.ts). One message in, one out; the body's buffer is transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { decodeReviewBody } from './decode.ts';

export interface DecodeJob {
  readonly id: number;
  readonly body: Uint8Array;
}

parentPort?.on('message', (job: DecodeJob) => {
  let reply: unknown;
  try {
    reply = { id: job.id, result: decodeReviewBody(job.body) };
  } catch (err) {
    // decodeReviewBody does not throw; if it ever does, the request fails closed in the server.
    reply = { id: job.id, error: String((err as Error)?.message ?? err) };
  }
  parentPort?.postMessage(reply);
});
