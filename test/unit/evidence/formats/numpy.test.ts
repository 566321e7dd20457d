// NumPy .npy headers read as numpy reads them (a Python literal), case by case; the differential
// against numpy itself is test/integration/evidence/pickle-differential.test.ts.
import { describe, expect, it } from 'vitest';
import { inspectNumpy, parseLiteral, sniffNumpy } from '../../../../src/evidence/formats/numpy.ts';
import { MemorySource, ReadBudget } from '../../../../src/evidence/formats/source.ts';

/** An .npy file with the given header text (padded as numpy pads it). */
function npyWith(header: string, major = 1): Uint8Array {
  const body = `${header}${' '.repeat(63 - ((12 + header.length) % 64))}\n`;
  const h = Buffer.from(body, major === 3 ? 'utf8' : 'latin1');
  const len = Buffer.alloc(major === 1 ? 2 : 4);
  if (major === 1) len.writeUInt16LE(h.length);
  else len.writeUInt32LE(h.length);
  return new Uint8Array(
    Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([major, 0]), len, h]),
  );
}

const dict = (descr: string, q = "'") =>
  `{${q}descr${q}: ${descr}, ${q}fortran_order${q}: False, ${q}shape${q}: (3,), }`;

describe('sniffNumpy', () => {
  it.each([
    ['single quotes', dict("'<f4'")],
    ['double quotes', dict('"<f4"', '"')],
    ['a big-endian int', dict("'>i8'")],
    ['an escaped dtype string', dict("'\\x3cf4'")],
    ['implicit string concatenation', dict("'<f' '4'")],
    ['a structured dtype of numbers', dict("[('a', '<f4'), ('b', '<i8', (2,))]")],
    ['a subarray', dict("('<f4', (2, 3))")],
    ['a comment and a trailing newline', `${dict("'<f4'")} # numpy`],
    ['a datetime', dict("'<M8[ns]'")],
  ])('admits %s as an array without objects', (_, header) => {
    expect(sniffNumpy(npyWith(header))).toMatchObject({ objectArray: false, parsed: true });
  });

  it.each([
    ['|O', dict("'|O'")],
    ['O in double quotes', dict('"O"', '"')],
    ["'object'", dict("'object'")],
    ['an object field in a structured dtype', dict("[('a', '<f4'), ('b', '|O')]")],
    ['an object field nested two levels down', dict("[('a', [('x', '<i4'), ('y', 'O')])]")],
    ['an object subarray', dict("('O', (2,))")],
    ['a titled object field', dict("[(('title', 'a'), '|O')]")],
  ])('calls %s an object array (a pickle)', (_, header) => {
    expect(sniffNumpy(npyWith(header))).toMatchObject({ objectArray: true, parsed: true });
  });

  it.each([
    ['a dtype repr, which is not a literal', dict("dtype('float32')")],
    ['a comma dtype string (may hold O)', dict("'i4,O'")],
    ['an unknown dtype string', dict("'<q16'")],
    ['a bytes descr', dict("b'<f4'")],
    ['a missing key', "{'descr': '<f4', 'shape': (3,)}"],
    ['an extra key', "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}"],
    ['a shape that is a list', "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}"],
    ['a fortran_order that is an int', "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}"],
    ['text that is not a literal', "{'descr': '<f4' + ''}"],
    ['an unterminated string', "{'descr': '<f4}"],
  ])('fails closed on %s', (_, header) => {
    const v = sniffNumpy(npyWith(header));
    expect(v).toMatchObject({ objectArray: true, parsed: false });
    expect(v?.evidence).toMatch(/treated as an object array/);
  });

  it('takes the last of duplicate keys, as a dict literal does', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'descr': '|O'}";
    expect(sniffNumpy(npyWith(header))).toMatchObject({ objectArray: true, parsed: true });
  });

  it('reads a version 3 header as UTF-8 and fails closed on bytes that are not', () => {
    expect(sniffNumpy(npyWith(dict("'<U3'"), 3))).toMatchObject({ objectArray: false });
    const bad = npyWith(dict("'<f4'"), 3);
    bad[20] = 0xff;
    expect(sniffNumpy(bad)).toMatchObject({ objectArray: true, parsed: false });
  });

  it('fails closed when the header runs past the bytes read, and inspectNumpy reads the rest', async () => {
    const file = npyWith(
      dict(`[${Array.from({ length: 300 }, (_, i) => `('f${i}', '<f4')`).join(', ')}, ('z', 'O')]`),
    );
    const head = file.subarray(0, 4096);
    expect(sniffNumpy(head)).toMatchObject({ objectArray: true, parsed: false });
    const src = new MemorySource(file, new ReadBudget(1 << 20), true);
    expect(await inspectNumpy(src, head)).toMatchObject({ objectArray: true, parsed: true });
  });

  it('is not an .npy without the magic or with an unknown major version', () => {
    expect(sniffNumpy(new Uint8Array(64))).toBeUndefined();
    const v9 = npyWith(dict("'<f4'"));
    v9[6] = 9;
    expect(sniffNumpy(v9)).toBeUndefined();
  });
});

describe('parseLiteral', () => {
  it('reads what literal_eval reads', () => {
    expect(parseLiteral("  {'a': (1,), \"b\": [1.5, -2, 1+2j], 'c': {1, 2}, 'd': None}")).toMatchObject({
      t: 'dict',
    });
    expect(parseLiteral("('x')")).toEqual({ t: 'str', v: 'x' });
    expect(parseLiteral("r'\\x'")).toEqual({ t: 'str', v: '\\x' });
    expect(parseLiteral('"\\u0041\\N{LATIN SMALL LETTER A}"')).toMatchObject({ t: 'str' });
  });

  it.each(['012', "'a' + 'b'", 'f"x"', 'x', "b'a' 'b'", '(1,', "'\\x4'", '[1 2]'])('rejects %s', (text) => {
    expect(() => parseLiteral(text)).toThrow();
  });
});
