/**
 * Decodes admission request bodies without stalling the event loop. A body up to `inlineBytes` is
 * decoded in place (a few milliseconds at most); a larger one goes to one long-lived worker thread,
 * which returns the AdmissionRequest with its object already pruned to what modelgate reads, so what
 * crosses back is small whatever was sent. Every other request keeps being answered meanwhile; the
 * event-loop benchmark (bench/event-loop.ts) measures the difference.
 *
 * A worker that fails or exits fails its requests (the server answers 500, which the API server
 * treats as a webhook failure: fail closed) and is started again for the next one.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type DecodedBody, decodeReviewBody } from './decode.ts';

/** Bodies larger than this are decoded in the worker (JSON.parse is about 15 ms per MB). */
export const INLINE_DECODE_BYTES = 256 * 1024;

export class DecodeFailure extends Error {
  override readonly name = 'DecodeFailure';
}

interface Pending {
  resolve(d: DecodedBody): void;
  reject(e: Error): void;
}

/** A worker and the decodes it owes: when it is lost, only those fail. */
interface Running {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

export class ReviewDecoder {
  readonly #inlineBytes: number;
  readonly #maxHeapMb: number;
  readonly #workerUrl: URL | undefined;
  #running: Running | undefined;
  #next = 0;

  /**
   * `maxBodyBytes` sizes the worker's heap (a parsed body takes several times its bytes) unless
   * `maxHeapMb` is given.
   */
  constructor(opts: {
    readonly inlineBytes?: number;
    readonly maxBodyBytes: number;
    readonly maxHeapMb?: number;
    /** The worker's script (tests); default decode-worker beside this file. */
    readonly workerUrl?: URL;
  }) {
    this.#inlineBytes = opts.inlineBytes ?? INLINE_DECODE_BYTES;
    // JSON.parse of `[{},{},...]` takes about 40 bytes of heap per byte of text: the heap holds the
    // largest accepted body so parsed (a worker out of memory can take the process with it).
    this.#maxHeapMb = opts.maxHeapMb ?? Math.max(256, Math.ceil((opts.maxBodyBytes * 48) / (1024 * 1024)));
    this.#workerUrl = opts.workerUrl;
  }

  decode(body: Buffer): Promise<DecodedBody> {
    if (body.length <= this.#inlineBytes) return Promise.resolve(decodeReviewBody(body));
    const { worker, pending } = this.#ensure();
    const id = ++this.#next;
    // A copy the worker owns (a Buffer may share a pooled ArrayBuffer): transferred, not cloned.
    const bytes = new Uint8Array(body.length);
    bytes.set(body);
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, body: bytes }, [bytes.buffer]);
    });
  }

  /** Stops the worker; pending decodes fail. */
  async close(): Promise<void> {
    const r = this.#running;
    this.#running = undefined;
    if (r === undefined) return;
    failAll(r.pending, 'the decoder was closed');
    await r.worker.terminate();
  }

  #ensure(): Running {
    if (this.#running !== undefined) return this.#running;
    // The worker's source sits beside this file: `.ts` when run from src/, `.js` from dist/.
    const here = fileURLToPath(import.meta.url);
    const url = this.#workerUrl ?? new URL(`./decode-worker${extname(here)}`, import.meta.url);
    const w = new Worker(url, { resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb } });
    // Idle, it must not keep the process alive.
    w.unref();
    const running: Running = { worker: w, pending: new Map() };
    w.on('message', (m: { id: number; result?: DecodedBody; error?: string }) => {
      const p = running.pending.get(m.id);
      if (p === undefined) return;
      running.pending.delete(m.id);
      if (m.result !== undefined) p.resolve(m.result);
      else p.reject(new DecodeFailure(`decoding the request failed: ${m.error ?? 'no result'}`));
    });
    const lost = (why: string) => {
      if (this.#running === running) this.#running = undefined;
      failAll(running.pending, why);
    };
    w.on('error', (err) => lost(`the decode worker failed: ${err.message}`));
    w.on('exit', (code) => lost(`the decode worker exited (code ${code})`));
    this.#running = running;
    return running;
  }
}

function failAll(pending: Map<number, Pending>, why: string): void {
  const all = [...pending.values()];
  pending.clear();
  for (const p of all) p.reject(new DecodeFailure(why));
}
