// The pickle walk, case by case: each class of stream that CPython's unpickler runs (or rejects)
// and that the old magic-and-prefix sniffing got wrong. The differential against CPython itself is
// test/integration/evidence/pickle-differential.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PickleVerdict, sniffPickle, walkPickle } from '../../../../src/evidence/formats/pickle.ts';
import { BlobWindow, MemorySource, ReadBudget } from '../../../../src/evidence/formats/source.ts';
import { gguf, npy, pickle, pickle0Exploit } from '../builders.ts';
import { MemoryReader, signal } from '../support.ts';

const latin = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0) & 0xff));

function le(n: number | bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let x = BigInt(n);
  for (let i = 0; i < width; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** Walks `bytes` from a source of known size, with only `headBytes` handed over up front. */
function walk(
  bytes: Uint8Array,
  opts: Parameters<typeof walkPickle>[2] = {},
  headBytes = 16,
): Promise<PickleVerdict> {
  return walkPickle(
    new MemorySource(bytes, new ReadBudget(1 << 30), true),
    bytes.subarray(0, headBytes),
    opts,
  );
}

/** The same bytes from a source that does not know its size (an inflated stream). */
function walkUnsized(bytes: Uint8Array): Promise<PickleVerdict> {
  const src = {
    size: undefined,
    read: async (start: number, length: number) =>
      bytes.subarray(start, Math.min(bytes.length, start + length)),
  };
  return walkPickle(src, new Uint8Array(0));
}

const OS_SYSTEM_STACK = '\x8c\x02os\x8c\x06system\x93';

describe('walkPickle: streams CPython runs', () => {
  it.each([
    ['protocol 0 (the classic os.system payload)', pickle0Exploit(), 'GLOBAL "os.system"'],
    ['a PROTO 0 header', latin('\x80\x00cos\nsystem\n.'), 'GLOBAL'],
    ['a PROTO 1 header', latin('\x80\x01N0cos\nsystem\n.'), 'GLOBAL'],
    ['protocol-4 opcodes without PROTO', latin(`${OS_SYSTEM_STACK}.`), 'STACK_GLOBAL "os.system"'],
    ['PROTO in the middle of the stream', latin(`N\x80\x04${OS_SYSTEM_STACK}.`), 'STACK_GLOBAL'],
    [
      'STACK_GLOBAL of strings fetched from the memo',
      latin('\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93.'),
      'STACK_GLOBAL "os.system"',
    ],
    [
      'an import after junk CPython accepts (ints, a list, appends)',
      latin(`]\x94(K\x01K\x02e${OS_SYSTEM_STACK}.`),
      'STACK_GLOBAL',
    ],
    ['an import under an open MARK', latin('(N(K\x01cos\nsystem\n.'), 'GLOBAL'],
    ['INST after a MARK', latin('(ios\nsystem\n.'), 'INST "os.system"'],
    // pickle._Unpickler (joblib, cloudpickle) imports before it looks for the mark.
    ['INST without a MARK', latin('ios\nsystem\n.'), 'INST "os.system"'],
    [
      'an import with no STOP after it (CPython imports before it reads on)',
      latin('cos\nsystem\n'),
      'GLOBAL',
    ],
  ])('%s', async (_, bytes, what) => {
    const v = await walk(bytes);
    expect(v).toMatchObject({ kind: 'pickle', code: true, reached: 'import' });
    expect(v.evidence).toContain(what);
  });

  // docs/adr/0007: a module name holding a NUL cannot be imported (only an existing parent could be, for
  // its side effects, and nothing is called): a KitOps/ModelPack tar whose first member is config.json.
  it('does not call a tar header named config.json an import (its module name holds NUL padding)', async () => {
    const header = cat(
      latin('config.json'),
      new Uint8Array(89),
      latin('0000644\0'),
      latin('{\n  "a": 1\n}\n'),
    );
    expect(await walk(header)).toMatchObject({ kind: 'not-pickle' });
  });

  it('counts a REDUCE of what persistent_load returned as a call, and says where persistent_load ran', async () => {
    const v = await walk(latin('K\x01PX\n)R.'));
    expect(v).toMatchObject({ kind: 'pickle', code: true, reached: 'call', persistentLoadAt: 2 });
    expect(await walk(latin('N\x94Q)\x81.'))).toMatchObject({
      kind: 'pickle',
      code: true,
      persistentLoadAt: 2,
    });
    expect(await walk(latin('K\x01PX\nNb.'))).toMatchObject({ kind: 'pickle', code: true, reached: 'call' });
  });

  it('reads EXT codes as imports only when the loader registered extension codes', async () => {
    const ext = latin('\x82\x01.');
    expect(await walk(ext)).toMatchObject({ kind: 'not-pickle' });
    expect((await walk(ext)).evidence).toMatch(/unregistered extension code 1/);
    expect(await walk(ext, { extensionRegistry: 'registered' })).toMatchObject({
      kind: 'pickle',
      code: true,
    });
    expect(await walk(latin('\x82\x00.'), { extensionRegistry: 'registered' })).toMatchObject({
      kind: 'not-pickle',
    });
    expect(
      await walk(cat(latin('\x84'), le(0xffffffff, 4), latin('.')), { extensionRegistry: 'registered' }),
    ).toMatchObject({
      kind: 'not-pickle',
    });
  });
});

describe('walkPickle: streams CPython loads without code', () => {
  it.each([
    ['a protocol 2 dict', pickle(2), 2],
    [
      'a protocol 4 dict in a FRAME',
      latin('\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.'),
      4,
    ],
    ['a protocol 0 list', latin('(lp0\nI1\naI2\na.'), 0],
    ['extra items below the top at STOP', latin('K\x01K\x02N.'), 1],
    ['an open MARK below the top at STOP', latin('(N.'), 0],
    ['a bare None', latin('N.'), 0],
    ['a PROTO 1 header', latin('\x80\x01N.'), 1],
    [
      'BINBYTES8 and BYTEARRAY8 payloads',
      cat(latin('\x8e'), le(3, 8), latin('abc\x96'), le(2, 8), latin('xy\x86.')),
      5,
    ],
    ['a persistent id that is left on the stack', latin('N\x94Q.'), 4],
  ])('%s', async (_, bytes, protocol) => {
    expect(await walk(bytes)).toMatchObject({ kind: 'pickle', code: false, protocol });
  });
});

describe('walkPickle: streams CPython rejects before any code', () => {
  it.each([
    ['STOP on an empty stack', '.', /stack underflow/],
    ['STOP with a MARK on top', '(.', /unexpected MARK/],
    ['NumPy magic (STACK_GLOBAL on an empty stack)', '\x93NUMPY\x01\x00', /underflow/],
    ['an unsupported protocol', '\x80\x06N.', /unsupported pickle protocol: 6/],
    ['a GET of a memo key never PUT', 'h\x05.', /Memo value not found/],
    ['a text GET of a missing key', 'g3\n.', /Memo value not found/],
    ['GLOBAL without a second line', 'cos\n', /truncated/],
    ['GLOBAL with a non-UTF-8 module name', 'cos\xff\nsystem\n.', /utf-8/],
    ['GLOBAL of a module whose first component holds a NUL', 'cos\0x\nsystem\n.', /ModuleNotFoundError/],
    ['a requirements line (GLOBAL of module "ertifi==2.0")', 'certifi==2.0\nnumpy\n', /ModuleNotFoundError/],
    ['Python source (INST of module "mport os")', 'import os\nos.system("id")\n', /ModuleNotFoundError/],
    ['a CRLF line (module "os\\r")', 'cos\r\nsystem\r\n.', /ModuleNotFoundError/],
    ['STACK_GLOBAL of non-strings', 'K\x01K\x02\x93.', /requires str/],
    ['REDUCE of a built-in value', 'N)R.', /not callable/],
    ['NEWOBJ of a built-in value', 'N)\x81.', /must be a type/],
    ['BUILD with a dict state on a list', ']}b.', /__dict__/],
    ['an unquoted STRING', 'Sabc\n.', /must be quoted/],
    ['an INT that is not a number', 'Iabc\n.', /convert string to int/],
    ['a FLOAT that overflows', 'F1e999\n.', /float/],
    ['an unhashable dict key', '(]K\x01d.', /unhashable/],
    ['a text file that is not a pickle', 'Hello world\n', /invalid load key, 'H'/],
    ['a truncated stream', '(lp0\nI1\naI2\na', /truncated/],
    ['a FRAME longer than the stream', '\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.', /truncated/],
  ])('%s', async (_, text, why) => {
    const v = await walk(latin(text));
    expect(v.kind).toBe('not-pickle');
    expect(v.evidence).toMatch(why);
  });

  it('says where persistent_load ran before CPython raised (a README whose first line starts with P)', async () => {
    const v = await walk(latin('Please read this first.\nThis model is a test.\n'));
    expect(v).toMatchObject({ kind: 'not-pickle', persistentLoadAt: 0 });
  });
});

describe('walkPickle: reading', () => {
  it('skips a huge BINBYTES8 payload with a ranged read instead of reading it', async () => {
    const size = 3 * 1024 * 1024 * 1024;
    const suffix = latin(`NN${OS_SYSTEM_STACK}.`);
    const prefix = cat(latin('\x80\x04\x8e'), le(size - suffix.length - 11, 8));
    const reader = new MemoryReader();
    const d = reader.add(
      {
        size,
        chunks: [
          { offset: 0, bytes: prefix },
          { offset: size - suffix.length, bytes: suffix },
        ],
      },
      'application/octet-stream',
    );
    const budget = new ReadBudget(1 << 20);
    const v = await walkPickle(BlobWindow.ofBlob(reader, d, budget, signal()), prefix);
    expect(v).toMatchObject({ kind: 'pickle', code: true, offset: size - 2 });
    expect(budget.bytesRead).toBeLessThan(100_000);
  });

  it('proves a payload is there with a one-byte probe when the size is unknown', async () => {
    const bytes = cat(latin('\x8e'), le(100_000, 8), new Uint8Array(100_000), latin(`${OS_SYSTEM_STACK}.`));
    expect(await walkUnsized(bytes)).toMatchObject({ kind: 'pickle', code: true });
    const short = cat(latin('\x8e'), le(100_000, 8), new Uint8Array(10));
    expect(await walkUnsized(short)).toMatchObject({ kind: 'not-pickle' });
  });

  it('is undecided when its opcode budget runs out', async () => {
    const long = latin(`${'N0'.repeat(5000)}N.`);
    const v = await walk(long, { maxOps: 1000 });
    expect(v.kind).toBe('undecided');
    expect(v.evidence).toMatch(/budget/);
  });

  it('is undecided when its byte budget runs out', async () => {
    const longLine = latin(`I${'1'.repeat(200_000)}\n.`);
    expect((await walk(longLine, { maxBytes: 64 * 1024 })).kind).toBe('undecided');
    expect(await walk(longLine)).toMatchObject({ kind: 'pickle', code: false });
  });

  it('is undecided when the artifact read budget runs out', async () => {
    const reader = new MemoryReader();
    const bytes = latin(`I${'1'.repeat(200_000)}\n.`);
    const d = reader.add(bytes, 'application/octet-stream');
    const v = await walkPickle(
      BlobWindow.ofBlob(reader, d, new ReadBudget(1000), signal()),
      bytes.subarray(0, 10),
    );
    expect(v.kind).toBe('undecided');
  });

  it('rejects a text argument by its start, without reading to its newline', async () => {
    // A zip's local header read as PERSID: the first non-ASCII byte settles it.
    const zip = cat(latin('PK\x03\x04\x14\x00\x00\x00\x08\x00\xa1'), new Uint8Array(1 << 20));
    const src = new MemorySource(zip, new ReadBudget(1 << 30), true);
    const v = await walkPickle(src, zip.subarray(0, 4096));
    expect(v).toMatchObject({ kind: 'not-pickle', offset: 0 });
    expect(v.evidence).toMatch(/ascii/);
    expect((await walk(cat(latin('I12('), new Uint8Array(1 << 20)))).evidence).toMatch(/number/);
    // After a NUL, a C string has ended: the line may still parse.
    expect(await walk(latin('I12\0junk(\n.'))).toMatchObject({ kind: 'pickle', code: false });
  });

  it('is undecided when a text argument runs on past its line budget', async () => {
    const v = await walk(cat(latin('PK'), new Uint8Array(1 << 20)), { maxLineBytes: 64 * 1024 });
    expect(v.kind).toBe('undecided');
    expect(v.evidence).toMatch(/runs on/);
  });

  it('is undecided when a read crosses the end of a FRAME (file and memory readers disagree)', async () => {
    const v = await walk(latin('\x95\x02\x00\x00\x00\x00\x00\x00\x00MozN.'));
    expect(v.kind).toBe('undecided');
    expect(v.evidence).toMatch(/FRAME/);
  });

  it('gives the same verdict whatever the head holds', async () => {
    for (const text of ['(lp0\nI1\naI2\na.', `N${OS_SYSTEM_STACK}.`, 'Hello\n']) {
      const b = latin(text);
      const verdicts = await Promise.all([
        walk(b, {}, 0),
        walk(b, {}, 3),
        walk(b, {}, b.length),
        walkUnsized(b),
      ]);
      expect(new Set(verdicts.map((v) => v.kind)).size).toBe(1);
    }
  });
});

describe('sniffPickle (head only)', () => {
  it('keeps the PROTO evidence callers show', () => {
    expect(sniffPickle(pickle(4))).toEqual({
      protocol: 4,
      evidence: 'pickle PROTO opcode 0x80 with protocol 4',
    });
    expect(sniffPickle(latin('\x80\x00N.'))?.protocol).toBe(0);
  });

  it('calls a head that ends inside a stream starting with PROTO a pickle', () => {
    expect(sniffPickle(cat(latin('\x80\x04\x8e'), le(1 << 30, 8), new Uint8Array(100)))).toMatchObject({
      protocol: 4,
    });
  });

  it('does not call a safetensors header whose length begins with 0x80 a pickle', () => {
    expect(sniffPickle(cat(le(0x0380, 8), latin('{"a":1}')))).toBeUndefined();
  });

  it('finds code in a protocol 0 stream', () => {
    expect(sniffPickle(pickle0Exploit())?.evidence).toMatch(/protocol 0 .*imports or calls/);
  });
});

describe('data files are not pickles', () => {
  const verdictOf = (b: Uint8Array) => walk(b, {}, 4096);

  it('GGUF, NumPy and ONNX-like heads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 100 }))
            .map(([t, k]) => gguf(3, t, k)),
          fc.constantFrom('<f4', '|u1', '<i8').map((d) => npy(d)),
          fc.uint8Array({ maxLength: 200 }).map((b) => cat(latin('\x08\x07\x12\x07pytorch'), b)),
        ),
        async (b) => {
          expect((await verdictOf(b)).kind).toBe('not-pickle');
        },
      ),
    );
  });

  it('safetensors files whatever their header length', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 40, max: 300_000 }),
        fc.float32Array({ minLength: 4, maxLength: 64 }),
        async (n, data) => {
          const header = latin('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
          const padded = cat(header, new Uint8Array(Math.max(0, n - header.length)).fill(0x20));
          const file = cat(le(padded.length, 8), padded, new Uint8Array(data.buffer));
          expect((await verdictOf(file)).kind).not.toBe('pickle');
        },
      ),
    );
  });

  it('JSON documents and Markdown', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json().map((j) => new TextEncoder().encode(j)),
          fc.string().map((s) => new TextEncoder().encode(`# ${s}\n\nSome text.\n`)),
        ),
        async (b) => {
          expect((await verdictOf(b)).kind).not.toBe('pickle');
        },
      ),
    );
  });
});
