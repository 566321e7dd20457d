// Generated inputs for the pickle and NumPy differentials (pickle-differential.test.ts): object specs
// that Python pickles with every protocol, hand-built opcode streams of every opcode (valid arguments
// and broken ones), mutations of real pickles, data-file heads, and NumPy header dicts.
import fc from 'fast-check';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const latin = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0) & 0xff));

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function le(n: number | bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let x = BigInt.asUintN(width * 8, BigInt(n));
  for (let i = 0; i < width; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

// ---- objects for pickle.dumps ---------------------------------------------------------------------

/** A JSON spec that pickle_oracle.py's build() turns into a Python object. */
export type ObjectSpec = readonly unknown[];

const hex = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('hex'));
const leafSpec: fc.Arbitrary<ObjectSpec> = fc.oneof(
  fc.constant(['none']),
  fc.boolean().map((b) => ['bool', b]),
  fc.oneof(fc.integer({ min: -300, max: 300 }), fc.integer()).map((n) => ['int', n]),
  fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }).map((n) => ['big', n.toString()]),
  fc.oneof(fc.double(), fc.constantFrom(0.5, -0.0, 1e308)).map((d) => ['float', String(d)]),
  fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 10 })).map((s) => ['str', s]),
  hex.map((h) => ['bytes', h]),
  hex.map((h) => ['bytearray', h]),
  fc
    .constantFrom(
      'ordereddict',
      'datetime',
      'decimal',
      'fraction',
      'complex',
      'slots',
      'plain',
      'deque',
      'range',
    )
    .map((k) => ['class', k]),
);

export const objectSpec: fc.Arbitrary<ObjectSpec> = fc.letrec<{ node: ObjectSpec }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafSpec,
    fc.array(tie('node'), { maxLength: 6 }).map((a) => ['list', a]),
    fc.array(tie('node'), { maxLength: 5 }).map((a) => ['tuple', a]),
    fc.array(leafSpec, { maxLength: 5 }).map((a) => ['set', a]),
    fc.array(leafSpec, { maxLength: 5 }).map((a) => ['frozenset', a]),
    fc.array(fc.tuple(leafSpec, tie('node')), { maxLength: 5 }).map((a) => ['dict', a]),
    fc.tuple(fc.integer({ min: 0, max: 3 }), tie('node')).map(([id, n]) => ['shared', id, n]),
    tie('node').map((n) => ['recursive', n]),
  ),
})).node;

// ---- hand-built opcode streams --------------------------------------------------------------------

const smallIndex = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(255));
const lineText = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '00',
    '01',
    '42',
    '-7',
    '0x1f',
    '010',
    '0o17',
    '1_000',
    ' 12',
    '12 ',
    '+3',
    'abc',
    '',
  ),
  fc.constantFrom('1.5', '-0.0', 'inf', 'nan', '1e999', '.5', '1.', '1e', 'x', '12L', '99999999999999999999'),
  fc.string({ maxLength: 12 }).map((s) => s.replace(/\n/g, '')),
);
const moduleName = fc.oneof(
  fc.constantFrom('os', 'builtins', 'collections', 'torch._utils', 'nosuchmodule', '__builtin__', ''),
  fc.constantFrom('a\0b', 'x/y', 'onfig.json\0\0', '.rel', 'os.path'),
  fc.string({ maxLength: 8 }).map((s) => s.replace(/\n/g, '')),
);
const attrName = fc.constantFrom('system', 'getattr', 'OrderedDict', 'join', 'x', '', 'a.b');
const utf8Payload = fc.oneof(
  fc.string({ maxLength: 12 }).map(bytes),
  fc.constantFrom(
    new Uint8Array([0xff]),
    new Uint8Array([0xed, 0xa0, 0x80]),
    new Uint8Array([0xc0, 0x80]),
    new Uint8Array([0xe2, 0x82]),
  ),
);
const payload = fc.uint8Array({ maxLength: 24 });

/** One opcode with an argument, well-formed or not. */
export const opcodeToken: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(...'(.012NRabdelostu})]e'.split('').map((c) => bytes(c))),
  fc.constantFrom(
    ...[0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98].map(
      (b) => new Uint8Array([b]),
    ),
  ),
  fc.integer({ min: 0, max: 7 }).map((p) => new Uint8Array([0x80, p])),
  lineText.map((t) => latin(`I${t}\n`)),
  lineText.map((t) => latin(`L${t}\n`)),
  lineText.map((t) => latin(`F${t}\n`)),
  lineText.map((t) => latin(`g${t}\n`)),
  lineText.map((t) => latin(`p${t}\n`)),
  fc
    .constantFrom(
      "S'abc'\n",
      'S"x"\n',
      "S'a\\x4'\n",
      "S'a\\\\'\n",
      "S'a\\'\n",
      'Sabc\n',
      "S'\n",
      "S'\\n\\t'\n",
    )
    .map(latin),
  fc.constantFrom('Vabc\n', 'V\\u0041\n', 'V\\u00\n', 'V\\U00110000\n', 'V\\x\n', 'V\n').map(latin),
  fc.tuple(moduleName, attrName).map(([m, n]) => bytes(`c${m}\n${n}\n`)),
  fc.tuple(moduleName, attrName).map(([m, n]) => bytes(`i${m}\n${n}\n`)),
  fc
    .oneof(fc.constantFrom('0', 'x', ''), fc.string({ maxLength: 6 }))
    .map((t) => bytes(`P${t.replace(/\n/g, '')}\n`)),
  fc.constant(bytes('Q')),
  fc.integer({ min: -3, max: 300 }).map((n) => concat(bytes('J'), le(n, 4))),
  fc.integer({ min: 0, max: 255 }).map((n) => new Uint8Array([0x4b, n])),
  fc.integer({ min: 0, max: 65535 }).map((n) => concat(bytes('M'), le(n, 2))),
  fc.double().map((d) => {
    const b = Buffer.alloc(9);
    b[0] = 0x47;
    b.writeDoubleBE(d, 1);
    return new Uint8Array(b);
  }),
  payload.map((p) => concat(new Uint8Array([0x8a, p.length]), p)),
  fc
    .tuple(payload, fc.integer({ min: -1, max: 40 }))
    .map(([p, n]) => concat(new Uint8Array([0x8b]), le(n, 4), p)),
  payload.map((p) => concat(new Uint8Array([0x55, p.length]), p)),
  payload.map((p) => concat(bytes('T'), le(p.length, 4), p)),
  payload.map((p) => concat(bytes('C'), new Uint8Array([p.length]), p)),
  payload.map((p) => concat(bytes('B'), le(p.length, 4), p)),
  fc
    .tuple(payload, fc.constantFrom(0n, 1n, 1n << 40n, 1n << 63n))
    .map(([p, extra]) => concat(new Uint8Array([0x8e]), le(BigInt(p.length) + extra, 8), p)),
  payload.map((p) => concat(new Uint8Array([0x96]), le(p.length, 8), p)),
  utf8Payload.map((p) => concat(new Uint8Array([0x8c, p.length]), p)),
  utf8Payload.map((p) => concat(bytes('X'), le(p.length, 4), p)),
  utf8Payload.map((p) => concat(new Uint8Array([0x8d]), le(p.length, 8), p)),
  smallIndex.map((i) => new Uint8Array([0x68, i])),
  smallIndex.map((i) => new Uint8Array([0x71, i])),
  smallIndex.map((i) => concat(bytes('j'), le(i, 4))),
  smallIndex.map((i) => concat(bytes('r'), le(i, 4))),
  fc.integer({ min: 0, max: 3 }).map((c) => new Uint8Array([0x82, c])),
  fc.integer({ min: 0, max: 3 }).map((c) => concat(new Uint8Array([0x83]), le(c, 2))),
  fc.integer({ min: -1, max: 3 }).map((c) => concat(new Uint8Array([0x84]), le(c, 4))),
  fc.integer({ min: 0, max: 40 }).map((n) => concat(new Uint8Array([0x95]), le(n, 8))),
  fc.uint8Array({ minLength: 1, maxLength: 3 }),
);

/** A string pushed for STACK_GLOBAL, then the opcode. */
const stackGlobal = fc
  .tuple(moduleName, attrName, fc.boolean())
  .map(([m, n, memo]) =>
    concat(
      new Uint8Array([0x8c, bytes(m).length]),
      bytes(m),
      memo ? new Uint8Array([0x94]) : new Uint8Array(0),
      new Uint8Array([0x8c, bytes(n).length]),
      bytes(n),
      new Uint8Array([0x93]),
    ),
  );

/** A FRAME header over the bytes that follow (correct length, or off by a little). */
function framed(body: Uint8Array, off: number): Uint8Array {
  return concat(new Uint8Array([0x95]), le(Math.max(0, body.length + off), 8), body);
}

export const craftedStream: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(
      '',
      '\x80\x00',
      '\x80\x01',
      '\x80\x02',
      '\x80\x04',
      '\x80\x05',
      '\x80\x06',
      '(',
      '\x80\x04(',
    ),
    fc.array(fc.oneof({ weight: 6, arbitrary: opcodeToken }, { weight: 1, arbitrary: stackGlobal }), {
      maxLength: 24,
    }),
    fc.constantFrom('.', '', 'N.', '.junk', ')', '0.'),
    fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
  )
  .map(([head, tokens, tail, frameOff]) => {
    const body = concat(...tokens, latin(tail));
    return concat(latin(head), frameOff === undefined ? body : framed(body, frameOff));
  });

/** Known-shape streams: imports reached after junk that CPython accepts, and ones it does not. */
export const classicStream: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(
      "cos\nsystem\n(S'echo x'\ntR.",
      '\x80\x00cos\nsystem\n.',
      '\x80\x01N0cos\nsystem\n.',
      'K\x01K\x02cbuiltins\neval\n.',
      '\x8c\x02os\x94\x8c\x06system\x94\x93.',
      '\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93.',
      'N\x80\x04\x8c\x02os\x8c\x06system\x93.',
      '(cos\nsystem\n.',
      '(ios\nsystem\n.',
      '(N(K\x01cos\nsystem\n.',
      ']\x94(K\x01K\x02e\x8c\x02os\x8c\x06system\x93.',
      'Q.',
      'N\x94Q.',
      'K\x01P1\n\x8c\x01x\x85R.',
      'K\x01PX\n)\x81.',
      'K\x01PX\nNb.',
      '\x82\x01.',
      'N\x97.',
      '\x97)R.',
      'I1\nI2\nI3\n.',
      '(lp0\nI1\naI2\na.',
    ),
    fc.uint8Array({ maxLength: 6 }),
  )
  .map(([s, junk]) => concat(latin(s), junk));

/** A real pickle, truncated, extended with junk, or with one byte changed. */
export function mutations(real: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.integer({ min: 0, max: real.length }).map((n) => real.subarray(0, n)),
    fc
      .uint8Array({ maxLength: 64 })
      .map((junk) => concat(real.subarray(0, Math.max(0, real.length - 1)), junk)),
    fc
      .tuple(fc.integer({ min: 0, max: Math.max(0, real.length - 1) }), fc.integer({ min: 0, max: 255 }))
      .map(([at, b]) => {
        const out = Uint8Array.from(real);
        if (out.length > 0) out[at] = b;
        return out;
      }),
    fc.uint8Array({ maxLength: 64 }).map((junk) => concat(real, junk)),
  );
}

// ---- data files that must not be called pickle ----------------------------------------------------

export function safetensorsLike(headerLength: number, tail: Uint8Array): Uint8Array {
  const header = bytes(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`);
  const padded = concat(header, new Uint8Array(Math.max(0, headerLength - header.length)).fill(0x20));
  return concat(le(padded.length, 8), padded, tail);
}

export const dataFile: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 60, max: 70_000 }), fc.uint8Array({ maxLength: 64 }))
    .map(([n, t]) => safetensorsLike(n, t)),
  fc
    .tuple(
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 0, max: 40 }),
      fc.uint8Array({ maxLength: 64 }),
    )
    .map(([t, k, tail]) => concat(bytes('GGUF'), le(3, 4), le(t, 8), le(k, 8), tail)),
  fc.uint8Array({ maxLength: 64 }).map((tail) => concat(new Uint8Array([0x08, 0x07, 0x12, 0x04]), tail)),
  fc.json().map((j) => bytes(j)),
  fc.string({ maxLength: 200 }).map((s) => bytes(s)),
  fc.uint8Array({ maxLength: 200 }),
);

// ---- NumPy headers ---------------------------------------------------------------------------------

const q = fc.constantFrom("'", '"');
const descrText = fc.oneof(
  fc.constantFrom(
    '<f4',
    '<f8',
    '|b1',
    '|u1',
    '<i8',
    '>i2',
    '<U10',
    '|S5',
    '|V16',
    '<M8[ns]',
    '<c16',
    'f4',
    'i8',
  ),
  fc.constantFrom(
    '|O',
    'O',
    '<O',
    'O8',
    'object',
    'i4,O',
    'f4,f8',
    '(2,)O',
    'U',
    'float32',
    'int64',
    'b',
    'V',
    'S',
  ),
);
const quoted = (s: string, quote: string) =>
  `${quote}${s.replace(/\\/g, '\\\\').replace(new RegExp(quote, 'g'), `\\${quote}`)}${quote}`;
const descrLiteral: fc.Arbitrary<string> = fc.letrec<{ d: string }>((tie) => ({
  d: fc.oneof(
    { depthSize: 'small' },
    fc.tuple(descrText, q).map(([d, qq]) => quoted(d, qq)),
    fc.tuple(descrText, q).map(([d, qq]) => `${qq}${d.slice(0, 1)}${qq} ${qq}${d.slice(1)}${qq}`),
    fc.tuple(descrText, q).map(([d, qq]) => `u${quoted(d, qq)}`),
    fc.constantFrom("b'<f4'", "dtype('float32')", "'\\x3cf4'", "'\\x4f'", "('<f4')", "'<f4' # c", '"|O"'),
    fc
      .array(
        fc.tuple(
          fc.constantFrom("'a'", "'b'", "''", "('t', 'c')", "'a'"),
          tie('d'),
          fc.option(fc.constantFrom('(2,)', '3')),
        ),
        {
          minLength: 1,
          maxLength: 3,
        },
      )
      .map((fs) => `[${fs.map(([n, d, sh]) => (sh ? `(${n}, ${d}, ${sh})` : `(${n}, ${d})`)).join(', ')}]`),
    fc.tuple(tie('d'), fc.constantFrom('(2,)', '(2, 3)', '3', "'x'")).map(([d, sh]) => `(${d}, ${sh})`),
  ),
})).d;

export const npyHeader: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    descrLiteral,
    fc.constantFrom('False', 'True', '0', 'None'),
    fc.constantFrom('()', '(3,)', '(2, 3)', '(True,)', '[3]', '(3.0,)', '(-1,)'),
    fc.constantFrom("'", '"'),
    fc.boolean(),
    fc.constantFrom('', ", 'extra': 1", ", 'descr': '|O'", ", 'descr': '<f4'"),
    fc.constantFrom(1, 2, 3),
    fc.boolean(),
  )
  .map(([descr, fortran, shape, kq, trailingComma, extra, major, reorder]) => {
    const k = (name: string) => `${kq}${name}${kq}`;
    const entries = [
      `${k('descr')}: ${descr}`,
      `${k('fortran_order')}: ${fortran}`,
      `${k('shape')}: ${shape}`,
    ];
    if (reorder) entries.reverse();
    let header = `{${entries.join(', ')}${extra}${trailingComma ? ', ' : ''}}`;
    header += `${' '.repeat(63 - ((12 + header.length) % 64))}\n`;
    const h = major === 3 ? bytes(header) : latin(header);
    const len = major === 1 ? le(h.length, 2) : le(h.length, 4);
    return concat(
      new Uint8Array([0x93]),
      bytes('NUMPY'),
      new Uint8Array([major, 0]),
      len,
      h,
      new Uint8Array(16),
    );
  });

// ---- a ByteSource over memory ----------------------------------------------------------------------

export class MemorySource {
  readonly data: Uint8Array;
  readonly size: number | undefined;
  reads = 0;
  bytesRead = 0;

  constructor(data: Uint8Array, knownSize = true) {
    this.data = data;
    this.size = knownSize ? data.length : undefined;
  }

  async read(start: number, length: number): Promise<Uint8Array> {
    this.reads++;
    const out = this.data.subarray(
      Math.min(start, this.data.length),
      Math.min(this.data.length, start + length),
    );
    this.bytesRead += out.length;
    return out;
  }
}
