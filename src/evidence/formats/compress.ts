// Compressed streams: recognised by their magic, and (where Node's zlib can) inflated lazily by
// ranged reads of the compressed bytes. A decompressed source is sequential: reading at offset N
// inflates from the start through N. Both the compressed bytes read and the bytes inflated are charged
// to the artifact's budget, and the inflated output is capped, so a small bomb cannot make us inflate
// gigabytes. What Node cannot inflate (bzip2, xz, lzma, 7z, lz4) gets no source: callers fail closed.
import * as zlib from 'node:zlib';
import { hasBytes } from '../bytes.ts';
import { type ByteSource, InflationLimitExceeded, type ReadBudget } from './source.ts';

export type Compression = 'gzip' | 'zlib' | 'zstd' | 'xz' | 'bzip2' | 'lzma' | '7z' | 'lz4';

/** Inflated output is refused beyond this many bytes per compressed byte (deflate tops out near 1032). */
export const DEFAULT_MAX_RATIO = 1100;
/** The ratio is judged only once this much has been inflated: small streams of zeros are fine. */
const RATIO_GRACE = 1024 * 1024;
/** Inflated bytes kept in memory from the start of the stream (heads are re-read often). */
const PREFIX_CACHE = 256 * 1024;
/** Compressed bytes read per ranged request: small first (a head), larger when streaming through. */
const FIRST_CHUNK = 4 * 1024;
const MAX_CHUNK = 1024 * 1024;
/** Compressed bytes re-read at most to recover the good part of a corrupt stream. */
const MAX_SALVAGE_INPUT = 16 * 1024 * 1024;

/** The compression a stream's first bytes announce, if any. */
export function compressionOf(head: Uint8Array): Compression | undefined {
  if (hasBytes(head, 0, [0x1f, 0x8b, 0x08])) return 'gzip';
  if (hasBytes(head, 0, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  // A zstd skippable frame (0x184D2A50..5F) may precede the first frame; decoders skip it.
  if (head.length >= 4 && (head[0]! & 0xf0) === 0x50 && hasBytes(head, 1, [0x2a, 0x4d, 0x18])) return 'zstd';
  if (hasBytes(head, 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (hasBytes(head, 0, [0x42, 0x5a, 0x68]) && head.length > 3 && head[3]! >= 0x31 && head[3]! <= 0x39) {
    return 'bzip2';
  }
  if (hasBytes(head, 0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return '7z';
  if (hasBytes(head, 0, [0x04, 0x22, 0x4d, 0x18])) return 'lz4';
  // LZMA "alone" (.lzma, joblib's 'lzma'): default properties byte and a dictionary size whose low
  // bytes are zero (every size xz-utils and Python's lzma write).
  if (hasBytes(head, 0, [0x5d, 0x00, 0x00])) return 'lzma';
  if (isZlibHeader(head)) return 'zlib';
  return undefined;
}

/**
 * RFC 1950 header as `zlib.compress` writes it (joblib's 'zlib'): deflate with a window of at most
 * 32 KiB, no preset dictionary, and a valid check value.
 */
function isZlibHeader(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const cmf = head[0]!;
  const flg = head[1]!;
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7) return false;
  if (flg & 0x20) return false;
  return ((cmf << 8) | flg) % 31 === 0;
}

export interface DecompressLimits {
  /** Inflated bytes served at most: reading further throws InflationLimitExceeded. */
  readonly maxOutputBytes: number;
  /** Inflated bytes per compressed byte at most (after the first MiB). */
  readonly maxRatio?: number;
  /** Bytes served at most, as a container declares them (a zip member's uncompressed size). */
  readonly declaredSize?: number;
}

/** A source over the decompressed bytes, or undefined when this process cannot decompress `c`. */
export function decompressed(
  src: ByteSource,
  c: Compression,
  limits: DecompressLimits,
): ByteSource | undefined {
  const codec = CODECS[c];
  if (codec === undefined) return undefined;
  return new InflatingSource(src, codec, limits);
}

/**
 * How to inflate one format: a stream for the normal pass, and a one-shot inflation of a prefix of
 * the input that yields everything decodable before the stream goes bad (Z_SYNC_FLUSH), for salvage.
 */
interface Codec {
  readonly stream: () => Decompressor;
  readonly prefix: (input: Uint8Array, maxOutputLength: number) => Uint8Array;
}

// Small output chunks keep what a single compressed chunk can produce between two checks bounded.
const STREAM = { chunkSize: 64 * 1024 };
const sync = (maxOutputLength: number) => ({ finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength });

const CODECS: Partial<Record<Compression | 'deflate-raw', Codec>> = {
  // Node's gunzip reads concatenated members as one stream, as Python's gzip module does.
  gzip: { stream: () => zlib.createGunzip(STREAM), prefix: (b, max) => zlib.gunzipSync(b, sync(max)) },
  zlib: { stream: () => zlib.createInflate(STREAM), prefix: (b, max) => zlib.inflateSync(b, sync(max)) },
  'deflate-raw': {
    stream: () => zlib.createInflateRaw(STREAM),
    prefix: (b, max) => zlib.inflateRawSync(b, sync(max)),
  },
};
const zstd = zlib as {
  createZstdDecompress?: (o: object) => Decompressor;
  zstdDecompressSync?: (b: Uint8Array, o: object) => Buffer;
};
if (zstd.createZstdDecompress !== undefined && zstd.zstdDecompressSync !== undefined) {
  const create = zstd.createZstdDecompress;
  const once = zstd.zstdDecompressSync;
  CODECS.zstd = {
    stream: () => create(STREAM),
    // ZSTD_e_flush: output what the given input decodes to, without requiring the frame's end.
    prefix: (b, max) => once(b, { finishFlush: zlib.constants.ZSTD_e_flush ?? 1, maxOutputLength: max }),
  };
}

/** A raw deflate stream (a zip member, method 8) as the bytes it inflates to. */
export function inflatedRaw(src: ByteSource, limits: DecompressLimits): ByteSource {
  return new InflatingSource(src, CODECS['deflate-raw']!, limits);
}

type Decompressor = zlib.Zlib & NodeJS.ReadWriteStream;

/** One pass of a decompressor over the compressed source, pulled chunk by chunk. */
class Pass {
  readonly #src: ByteSource;
  readonly #z: Decompressor;
  #inPos = 0;
  /** Input the decompressor took without error. */
  #goodIn = 0;
  #chunk = FIRST_CHUNK;
  #writing = false;
  #inputDone = false;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(src: ByteSource, codec: Codec) {
    this.#src = src;
    this.#z = codec.stream();
    this.#z.on('readable', () => this.#notify());
    this.#z.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    this.#z.on('error', (err: Error) => {
      this.#error = err;
      this.#notify();
    });
  }

  get compressedRead(): number {
    return this.#inPos;
  }

  /** Where the input went bad: the error lies in compressed bytes goodIn..fedIn. */
  get failure(): { goodIn: number; fedIn: number } | undefined {
    return this.#error === undefined ? undefined : { goodIn: this.#goodIn, fedIn: this.#inPos };
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** The next inflated chunk; undefined at the end of the stream (or where it stops being valid). */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const out = this.#z.read() as Buffer | null;
      if (out !== null) return out;
      // Corrupt input ends the stream where it stops inflating: a loader fails there too.
      if (this.#ended || this.#error !== undefined) return undefined;
      const woken = new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      if (!this.#writing && !this.#inputDone) await this.#feed();
      else await woken;
    }
  }

  async #feed(): Promise<void> {
    this.#writing = true;
    let bytes: Uint8Array;
    try {
      bytes = await this.#src.read(this.#inPos, this.#chunk);
    } catch (err) {
      this.#writing = false;
      this.destroy();
      throw err;
    }
    this.#chunk = Math.min(MAX_CHUNK, this.#chunk * 2);
    if (bytes.length === 0) {
      this.#inputDone = true;
      this.#writing = false;
      this.#z.end();
      return;
    }
    this.#inPos += bytes.length;
    const upTo = this.#inPos;
    this.#z.write(bytes, (err) => {
      if (!err) this.#goodIn = upTo;
      this.#writing = false;
      this.#notify();
    });
  }

  destroy(): void {
    this.#z.removeAllListeners('readable');
    this.#z.on('error', () => {});
    (this.#z as unknown as { destroy(): void }).destroy();
  }
}

/**
 * The inflated bytes of a compressed source. The first PREFIX_CACHE bytes are kept; beyond them only
 * the bytes of the current read are, and a read behind the stream's position starts a new pass
 * (charged again).
 */
export class InflatingSource implements ByteSource {
  readonly #src: ByteSource;
  readonly #codec: Codec;
  readonly #maxOutput: number;
  readonly #maxRatio: number;
  readonly #declared: number | undefined;
  #pass: Pass | undefined;
  /** Inflated bytes produced by the current pass. */
  #outPos = 0;
  #prefix: Uint8Array[] = [];
  #prefixLen = 0;
  /** Chunks beyond the prefix still held, in order: `at` is the offset of `bytes` in the stream. */
  #window: { at: number; bytes: Uint8Array }[] = [];
  #end: number | undefined;
  /** Set when the stream went bad where its last good bytes could not be recovered: reads past them fail. */
  #unrecovered: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(src: ByteSource, codec: Codec, limits: DecompressLimits) {
    this.#src = src;
    this.#codec = codec;
    this.#maxOutput = limits.maxOutputBytes;
    this.#maxRatio = limits.maxRatio ?? DEFAULT_MAX_RATIO;
    this.#declared = limits.declaredSize;
  }

  get size(): number | undefined {
    if (this.#end === undefined) return this.#declared;
    return this.#declared === undefined ? this.#end : Math.min(this.#end, this.#declared);
  }

  get budget(): ReadBudget {
    return this.#src.budget;
  }

  get verified(): boolean {
    return this.#src.verified;
  }

  /** Serialised: a pass is one stream, and concurrent readers would interleave it. */
  read(start: number, length: number): Promise<Uint8Array> {
    const p = this.#queue.then(() => this.#read(start, length));
    this.#queue = p.catch(() => undefined);
    return p;
  }

  async #read(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || length <= 0) return new Uint8Array(0);
    let end = start + length;
    if (this.#declared !== undefined) end = Math.min(end, this.#declared);
    if (this.#end !== undefined && this.#unrecovered !== undefined && end > this.#end) {
      throw new InflationLimitExceeded(this.#unrecovered, end - this.#end, this.budget.remaining);
    }
    if (this.#end !== undefined) end = Math.min(end, this.#end);
    if (start >= end) return new Uint8Array(0);
    if (end <= this.#prefixLen) return gather(this.#prefix, 0, start, end);
    // Restart when the bytes asked for were dropped, or are still to come from a pass that is gone.
    const lowest = this.#window[0]?.at ?? this.#outPos;
    const dropped = start >= this.#prefixLen && start < lowest;
    if (dropped || (end > this.#outPos && this.#pass === undefined)) this.#restart();
    while (this.#outPos < end) {
      const pass = this.#pass!;
      const chunk = await pass.next();
      if (chunk === undefined) {
        // A loader reads a corrupt stream up to where it goes bad (and runs a pickle that far):
        // recover those bytes, which the stream's last failing write did not hand out.
        const failure = pass.failure;
        if (failure !== undefined) {
          const rest = await this.#salvage(failure);
          if (rest.length > 0) this.#take(rest);
        }
        this.#end = this.#outPos;
        this.#pass = undefined;
        if (this.#unrecovered !== undefined && end > this.#end) {
          throw new InflationLimitExceeded(this.#unrecovered, end - this.#end, this.budget.remaining);
        }
        break;
      }
      this.#take(chunk);
      // Chunks wholly before this read and past the prefix are no longer needed.
      while (this.#window.length > 0 && this.#window[0]!.at + this.#window[0]!.bytes.length <= start) {
        this.#window.shift();
      }
    }
    const stop = Math.min(end, this.#outPos);
    if (start >= stop) return new Uint8Array(0);
    const out = new Uint8Array(stop - start);
    let filled = 0;
    if (start < this.#prefixLen) {
      const p = gather(this.#prefix, 0, start, Math.min(stop, this.#prefixLen));
      out.set(p, 0);
      filled = p.length;
    }
    for (const w of this.#window) {
      const from = Math.max(start + filled, w.at);
      const to = Math.min(stop, w.at + w.bytes.length);
      if (from >= to) continue;
      out.set(w.bytes.subarray(from - w.at, to - w.at), from - start);
      filled = to - start;
    }
    return out;
  }

  /**
   * The inflated bytes past the current position that the longest good prefix of the input yields,
   * found by bisecting the compressed bytes between the last good write and the failing one. Each
   * attempt inflates from the start and is charged.
   */
  async #salvage(f: { goodIn: number; fedIn: number }): Promise<Uint8Array> {
    if (f.fedIn > MAX_SALVAGE_INPUT) {
      this.#unrecovered = `corrupt compressed stream (${f.fedIn} compressed bytes in): not recovered here`;
      return new Uint8Array(0);
    }
    const parts: Uint8Array[] = [];
    for (let at = 0; at < f.fedIn; ) {
      const got = await this.#src.read(at, Math.min(MAX_CHUNK, f.fedIn - at));
      if (got.length === 0) break;
      parts.push(got);
      at += got.length;
    }
    const input = gather(
      parts,
      0,
      0,
      parts.reduce((n, p) => n + p.length, 0),
    );
    const attempt = (k: number): Uint8Array | undefined => {
      let out: Uint8Array;
      try {
        out = this.#codec.prefix(input.subarray(0, k), this.#maxOutput);
      } catch (err) {
        if (err instanceof RangeError) {
          throw new InflationLimitExceeded(
            `the compressed stream inflates past the ${this.#maxOutput}-byte output limit`,
            this.#maxOutput,
            this.budget.remaining,
          );
        }
        return undefined;
      }
      this.budget.charge(out.length);
      return out;
    };
    let lo = Math.min(f.goodIn, input.length);
    let hi = input.length;
    let best = attempt(lo) ?? new Uint8Array(0);
    const whole = hi > lo ? attempt(hi) : undefined;
    if (whole !== undefined) best = whole;
    else {
      while (lo + 1 < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const got = attempt(mid);
        if (got === undefined) hi = mid;
        else {
          lo = mid;
          best = got;
        }
      }
    }
    return best.length > this.#outPos ? best.subarray(this.#outPos) : new Uint8Array(0);
  }

  #restart(): void {
    this.#pass?.destroy();
    this.#pass = new Pass(this.#src, this.#codec);
    this.#outPos = 0;
    this.#window = [];
    this.#prefix = [];
    this.#prefixLen = 0;
  }

  #take(chunk: Uint8Array): void {
    const produced = this.#outPos + chunk.length;
    if (produced > this.#maxOutput) {
      this.#pass?.destroy();
      this.#pass = undefined;
      throw new InflationLimitExceeded(
        `the compressed stream inflates past the ${this.#maxOutput}-byte output limit`,
        chunk.length,
        this.budget.remaining,
      );
    }
    const compressed = Math.max(1, this.#pass?.compressedRead ?? 1);
    if (produced > RATIO_GRACE && produced / compressed > this.#maxRatio) {
      this.#pass?.destroy();
      this.#pass = undefined;
      throw new InflationLimitExceeded(
        `the compressed stream inflates more than ${this.#maxRatio} times (${produced} bytes from ${compressed})`,
        chunk.length,
        this.budget.remaining,
      );
    }
    this.budget.charge(chunk.length);
    const at = this.#outPos;
    this.#outPos = produced;
    if (this.#prefixLen < PREFIX_CACHE) {
      const keep = Math.min(chunk.length, PREFIX_CACHE - this.#prefixLen);
      this.#prefix.push(chunk.subarray(0, keep));
      this.#prefixLen += keep;
      if (keep < chunk.length) this.#window.push({ at: at + keep, bytes: chunk.subarray(keep) });
    } else {
      this.#window.push({ at, bytes: chunk });
    }
  }
}

/** Bytes `start..end` of the concatenation of `parts` (which begins at offset `base`). */
function gather(parts: readonly Uint8Array[], base: number, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  let at = base;
  for (const p of parts) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + p.length);
    if (from < to) out.set(p.subarray(from - at, to - at), from - start);
    at += p.length;
    if (at >= end) break;
  }
  return out;
}
