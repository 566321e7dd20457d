// Typed builders for model files, written to each format's specification.
import { crc32 } from 'node:zlib';
import type { SparseBlob } from './support.ts';

const enc = new TextEncoder();
export const bytes = (s: string) => enc.encode(s);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u64(n: number | bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

// ---- safetensors -------------------------------------------------------------------------------

export interface Tensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** The header of a safetensors file, with tensors laid out in order. */
export function safetensorsHeader(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): {
  header: Uint8Array;
  dataSize: number;
} {
  const json: Record<string, unknown> = {};
  if (metadata) json.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    json[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  const text = bytes(JSON.stringify(json));
  // The format pads the header with spaces to an 8-byte boundary.
  const header = concat(text, bytes(' '.repeat((8 - (text.length % 8)) % 8)));
  return { header, dataSize: off };
}

export function safetensors(
  tensors: Record<string, Tensor> = { w: f32([1, 2, 3, 4]) },
  lengthOverride?: number,
): Uint8Array {
  const { header } = safetensorsHeader(tensors);
  return concat(u64(lengthOverride ?? header.length), header, ...Object.values(tensors).map((t) => t.data));
}

export function f32(values: number[]): Tensor {
  return { dtype: 'F32', shape: [values.length], data: new Uint8Array(new Float32Array(values).buffer) };
}

/** A safetensors file of `size` bytes (one big tensor), sparse. */
export function sparseSafetensors(size: number): SparseBlob {
  const probe = JSON.stringify({
    __metadata__: { format: 'pt' },
    w: { dtype: 'U8', shape: [0], data_offsets: [0, 0] },
  });
  // The data size depends on the header length; iterate once to settle the digits.
  let headerText = probe;
  for (let i = 0; i < 3; i++) {
    const dataSize = size - 8 - bytes(headerText).length;
    headerText = JSON.stringify({
      __metadata__: { format: 'pt' },
      w: { dtype: 'U8', shape: [dataSize], data_offsets: [0, dataSize] },
    });
  }
  const header = bytes(headerText);
  return { size, chunks: [{ offset: 0, bytes: concat(u64(header.length), header) }] };
}

// ---- GGUF ---------------------------------------------------------------------------------------

export function gguf(version = 3, tensors = 1, kvs = 2): Uint8Array {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(version);
  return concat(bytes('GGUF'), v, u64(tensors), u64(kvs), new Uint8Array(64));
}

// ---- pickle -------------------------------------------------------------------------------------

/** Protocol 2+ pickle of a tiny dict (what pickle.dumps({'a': 1}, protocol=N) writes). */
export function pickle(protocol = 4): Uint8Array {
  return concat(new Uint8Array([0x80, protocol]), bytes('}q\x00X\x01\x00\x00\x00aq\x01K\x01s.'));
}

/** A protocol-0 pickle that calls os.system (the classic payload). */
export function pickle0Exploit(): Uint8Array {
  return bytes("cos\nsystem\n(S'echo pwned'\ntR.");
}

// ---- zip ----------------------------------------------------------------------------------------

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

export interface ZipOptions {
  zip64?: boolean;
  comment?: string;
}

/** A stored (uncompressed) zip archive, optionally with zip64 end records. */
export function zip(entries: ZipEntry[], opts: ZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = bytes(e.name);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, e.data);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(e.data.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += 30 + name.length + e.data.length;
  }
  const cdBytes = concat(...central);
  return concat(...parts, cdBytes, endRecords(entries.length, cdBytes.length, offset, opts));
}

function endRecords(entries: number, cdSize: number, cdOffset: number, opts: ZipOptions): Uint8Array {
  const comment = bytes(opts.comment ?? '');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries), 24);
    rec.writeBigUInt64LE(BigInt(entries), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    loc.writeUInt32LE(1, 16);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
    eocd.writeUInt16LE(comment.length, 20);
    return concat(rec, loc, eocd, comment);
  }
  eocd.writeUInt16LE(entries, 8);
  eocd.writeUInt16LE(entries, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return concat(eocd, comment);
}

/** A PyTorch-style checkpoint: `<archive>/data.pkl` plus tensor storages. */
export function pytorchZip(archive = 'archive', dataPklPath = `${archive}/data.pkl`): Uint8Array {
  return zip([
    { name: dataPklPath, data: pickle(2) },
    { name: `${archive}/byteorder`, data: bytes('little') },
    { name: `${archive}/data/0`, data: new Uint8Array(16) },
    { name: `${archive}/version`, data: bytes('3\n') },
  ]);
}

/**
 * A sparse PyTorch-style zip of `size` bytes: one huge storage entry first, data.pkl last (so only the
 * central directory at the end reveals it), zip64 end records.
 */
export function sparsePytorchZip(size: number): SparseBlob {
  const bigName = bytes('archive/data/0');
  const pklName = bytes('archive/data.pkl');
  const pkl = pickle(2);
  const local = (name: Uint8Array, len: number) => {
    const b = Buffer.alloc(30);
    b.writeUInt32LE(0x04034b50, 0);
    b.writeUInt16LE(45, 4);
    b.writeUInt32LE(Math.min(len, 0xffffffff), 18);
    b.writeUInt32LE(Math.min(len, 0xffffffff), 22);
    b.writeUInt16LE(name.length, 26);
    return concat(b, name);
  };
  const cdEntry = (name: Uint8Array, len: number, off: number) => {
    const b = Buffer.alloc(46);
    b.writeUInt32LE(0x02014b50, 0);
    b.writeUInt16LE(45, 4);
    b.writeUInt16LE(45, 6);
    b.writeUInt32LE(Math.min(len, 0xffffffff), 20);
    b.writeUInt32LE(Math.min(len, 0xffffffff), 24);
    b.writeUInt16LE(name.length, 28);
    b.writeUInt32LE(Math.min(off, 0xffffffff), 42);
    return concat(b, name);
  };
  // Layout: [local big][big data ...][local pkl][pkl][central directory][zip64 rec][locator][eocd]
  const localBig = local(bigName, 0);
  const localPkl = local(pklName, pkl.length);
  const cdProbe = concat(cdEntry(bigName, 0, 0), cdEntry(pklName, 0, 0));
  const tailLen = localPkl.length + pkl.length + cdProbe.length + 56 + 20 + 22;
  const bigLen = size - localBig.length - tailLen;
  const pklOffset = localBig.length + bigLen;
  const cd = concat(cdEntry(bigName, bigLen, 0), cdEntry(pklName, pkl.length, pklOffset));
  const cdOffset = pklOffset + localPkl.length + pkl.length;
  const tail = concat(localPkl, pkl, cd, endRecords(2, cd.length, cdOffset, { zip64: true }));
  return {
    size,
    chunks: [
      { offset: 0, bytes: local(bigName, bigLen) },
      { offset: pklOffset, bytes: tail },
    ],
  };
}

// ---- tar ----------------------------------------------------------------------------------------

export interface TarEntry {
  name: string;
  data?: Uint8Array;
  type?: '0' | '1' | '2' | '5';
  link?: string;
}

function tarHeader(name: string, size: number, type: string, link = '', ustar = true): Uint8Array {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write(link, 157, 100, 'utf8');
  if (ustar) {
    h.write('ustar\0', 257);
    h.write('00', 263);
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad512 = (n: number) => new Uint8Array((512 - (n % 512)) % 512);

/** A ustar archive; names over 100 bytes get a PAX `path` record. */
export function tar(entries: TarEntry[], opts: { ustar?: boolean; end?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    let name = e.name;
    let link = e.link ?? '';
    const records: Uint8Array[] = [];
    if (bytes(name).length > 100) {
      records.push(paxRecord('path', name));
      name = name.slice(-90);
    }
    if (bytes(link).length > 100) {
      records.push(paxRecord('linkpath', link));
      link = link.slice(-90);
    }
    if (records.length > 0) {
      const rec = concat(...records);
      parts.push(tarHeader('PaxHeaders/x', rec.length, 'x'), rec, pad512(rec.length));
    }
    const type = e.type ?? '0';
    const size = type === '0' ? data.length : 0;
    parts.push(tarHeader(name, size, type, link, opts.ustar ?? true));
    if (size > 0) parts.push(data, pad512(size));
  }
  if (opts.end ?? true) parts.push(new Uint8Array(1024));
  return concat(...parts);
}

function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  let len = bytes(body).length + 1;
  while (String(len).length + bytes(body).length !== len) len = String(len).length + bytes(body).length;
  return bytes(`${len}${body}`);
}

// ---- others -------------------------------------------------------------------------------------

export function npy(descr = '<f4', shape = '(4,)'): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const len = Buffer.alloc(2);
  len.writeUInt16LE(header.length);
  return concat(
    new Uint8Array([0x93]),
    bytes('NUMPY'),
    new Uint8Array([1, 0]),
    len,
    bytes(header),
    new Uint8Array(16),
  );
}

export function hdf5(userBlock = 0): Uint8Array {
  return concat(
    new Uint8Array(userBlock),
    new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]),
    new Uint8Array(64),
  );
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function field(num: number, payload: Uint8Array | number): Uint8Array {
  if (typeof payload === 'number') return new Uint8Array([...varint(num * 8), ...varint(payload)]);
  return concat(new Uint8Array([...varint(num * 8 + 2), ...varint(payload.length)]), payload);
}

/** A minimal ONNX ModelProto: ir_version, producer, graph (one Identity node), opset import. */
export function onnx(irVersion = 9): Uint8Array {
  const node = concat(field(1, bytes('x')), field(2, bytes('y')), field(4, bytes('Identity')));
  const graph = concat(field(1, node), field(2, bytes('g')));
  const opset = concat(field(1, bytes('')), field(2, 17));
  return concat(
    field(1, irVersion),
    field(2, bytes('modelgate-test')),
    field(3, bytes('1.0')),
    field(7, graph),
    field(8, opset),
  );
}

export function gzipMagic(): Uint8Array {
  return concat(new Uint8Array([0x1f, 0x8b, 0x08, 0x00]), new Uint8Array(60));
}
