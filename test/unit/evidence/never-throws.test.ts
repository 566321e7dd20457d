// Every parser meets arbitrary bytes: it may say "not this format", never throw or hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyArtifact } from '../../../src/evidence/formats/classify.ts';
import { sniffGguf } from '../../../src/evidence/formats/gguf.ts';
import { sniffNumpy } from '../../../src/evidence/formats/numpy.ts';
import { sniffOnnx } from '../../../src/evidence/formats/onnx.ts';
import { sniffPickle } from '../../../src/evidence/formats/pickle.ts';
import { parseSafetensorsHeader, safetensorsPrefix } from '../../../src/evidence/formats/safetensors.ts';
import { sniffHead } from '../../../src/evidence/formats/sniff.ts';
import { MemorySource, ReadBudget } from '../../../src/evidence/formats/source.ts';
import { listTar, parsePaxRecords, parseTarHeader } from '../../../src/evidence/formats/tar.ts';
import { listZip, parseZip64Record } from '../../../src/evidence/formats/zip.ts';
import { loadBom } from '../../../src/evidence/mlbom/find.ts';
import { evaluateBom } from '../../../src/evidence/mlbom/rules.ts';
import { bytes, concat, pytorchZip, safetensors, tar, zip } from './builders.ts';
import { artifact, signal } from './support.ts';

const RUNS = { numRuns: 10_000 };
const enc = new TextEncoder();

/** Arbitrary bytes, often starting with one of the given prefixes so that parsers get past their magic. */
function bytesAfter(prefixes: readonly Uint8Array[], maxLength = 1024): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.tuple(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength })).map(([p, rest]) => concat(p, rest)),
  );
}

/** A real file with some bytes overwritten at random places. */
function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(base.length), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(base.length),
    )
    .map(([edits, cut]) => {
      const b = base.slice(0, Math.max(1, cut + 64));
      for (const [at, v] of edits) if (at < b.length) b[at] = v;
      return b;
    });
}

describe('parsers never throw on arbitrary bytes', () => {
  it('safetensors header', () => {
    fc.assert(
      fc.property(
        bytesAfter([new Uint8Array([20, 0, 0, 0, 0, 0, 0, 0, 0x7b])]),
        fc.nat(1 << 30),
        (b, size) => {
          safetensorsPrefix(b, size);
          parseSafetensorsHeader(b, size);
          const text = b.length > 8 ? b.subarray(8) : b;
          parseSafetensorsHeader(text, b.length);
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), fc.nat(1000), (json, size) => {
        const r = parseSafetensorsHeader(enc.encode(json), size);
        expect(typeof r.ok).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('GGUF header', () => {
    fc.assert(
      fc.property(bytesAfter([bytes('GGUF')], 64), (b) => void sniffGguf(b)),
      RUNS,
    );
  });

  it('pickle opcode sniffing', () => {
    const opcodes = [..."(.012NQRabd}el]ost)uFILPSVgpciKhqMJjrUTXG\n'xyz 0123"].map((c) => c.charCodeAt(0));
    fc.assert(
      fc.property(
        fc.oneof(
          bytesAfter([new Uint8Array([0x80, 2]), new Uint8Array([0x80, 4]), bytes('cos\nsystem\n')]),
          fc.array(fc.constantFrom(...opcodes), { maxLength: 2048 }).map((a) => new Uint8Array(a)),
        ),
        (b) => void sniffPickle(b),
      ),
      RUNS,
    );
  });

  it('zip central directory and end records', async () => {
    const eocd = new Uint8Array([0x50, 0x4b, 0x05, 0x06]);
    const cdh = new Uint8Array([0x50, 0x4b, 0x01, 0x02]);
    const z64 = new Uint8Array([0x50, 0x4b, 0x06, 0x06]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          bytesAfter([eocd, cdh, z64, new Uint8Array([0x50, 0x4b, 0x03, 0x04])]),
          mutated(pytorchZip()),
        ),
        async (b) => {
          parseZip64Record(b);
          // Every member's head too: a deflated member is inflated on read.
          const listing = await listZip(
            new MemorySource(b, new ReadBudget(1 << 30), false),
            b.subarray(0, 4096),
          );
          for (const m of listing.members) await m.source.read(0, 64);
        },
      ),
      RUNS,
    );
  });

  it('tar archives', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 2048 }), mutated(tar([{ name: 'a', data: bytes('x') }]))),
        async (b) => {
          const listing = await listTar(
            new MemorySource(b, new ReadBudget(1 << 30), false),
            b.subarray(0, 4096),
          );
          for (const m of listing.members) await m.source.read(0, 64);
        },
      ),
      RUNS,
    );
  });

  it('tar headers', () => {
    // Random blocks with a correct checksum get past the first test.
    const checksummed = fc.uint8Array({ minLength: 512, maxLength: 512 }).map((b) => {
      const h = Buffer.from(b);
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const c of h) sum += c;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
      return new Uint8Array(h);
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), checksummed), (b) => {
        parseTarHeader(b);
        parsePaxRecords(b);
      }),
      RUNS,
    );
  });

  it('head sniffing (every format at once), ONNX and NumPy', () => {
    const magics = [
      bytes('GGUF'),
      new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]),
      new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]),
      new Uint8Array([0x08, 0x07, 0x3a]),
      new Uint8Array([0x1f, 0x8b]),
    ];
    fc.assert(
      fc.property(bytesAfter(magics, 4096), fc.nat(1 << 30), (b, size) => {
        sniffHead(b, size);
        sniffOnnx(b, size);
        sniffNumpy(b);
      }),
      RUNS,
    );
  });

  it('ML-BOM evaluation of arbitrary JSON', () => {
    const bomish = fc.record({
      bomFormat: fc.constantFrom('CycloneDX', 'SPDX', 1),
      specVersion: fc.constantFrom('1.6', '1.5', 7),
      components: fc.array(
        fc.record({
          type: fc.constantFrom('machine-learning-model', 'data', 'library', 'nope'),
          name: fc.string(),
          'bom-ref': fc.string({ maxLength: 4 }),
          hashes: fc.array(
            fc.record({
              alg: fc.constantFrom('SHA-256', 'MD5', 'X'),
              content: fc.string({ unit: fc.constantFrom(...'0123456789abcdefAB'), maxLength: 64 }),
            }),
          ),
          modelCard: fc.anything({ maxDepth: 3 }),
        }),
        { maxLength: 3 },
      ),
    });
    const rules = {
      manifestDigest: `sha256:${'a'.repeat(64)}`,
      weightFiles: [{ file: 'w', digest: `sha256:${'b'.repeat(64)}` }],
      requireHashMatch: true,
      requiredFields: ['modelCard.modelParameters.datasets', 'name', 'modelCard.0.x'],
    };
    fc.assert(
      fc.property(fc.oneof(fc.anything({ maxDepth: 4 }), bomish), (doc) => {
        const r = evaluateBom(doc, rules, 'test');
        expect(Array.isArray(r.failures)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('readers never throw on arbitrary blobs', () => {
  it('classifies arbitrary and damaged files without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }),
          mutated(pytorchZip()),
          mutated(safetensors()),
          mutated(
            tar([
              { name: 'a.bin', data: bytes('abc') },
              { name: 'b.pt', data: zip([{ name: 'x/data.pkl', data: bytes('x') }]) },
            ]),
          ),
        ),
        async (content) => {
          const e = artifact({ files: [{ name: 'w.bin', content }] });
          const r = await classifyArtifact(e, { sniff: true }, signal());
          expect(r.files.length).toBeGreaterThan(0);
        },
      ),
      RUNS,
    );
  });

  it('loads arbitrary bytes named as an ML-BOM without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.json().map((j) => enc.encode(j)),
        ),
        async (content) => {
          const e = artifact({ files: [{ name: 'bom.json', content }] });
          const layer = e.layers[0]!;
          const r = await loadBom(
            e,
            { origin: 'layer', source: 's', by: 'name', descriptor: layer },
            signal(),
          );
          if (r.ok)
            evaluateBom(
              r.document,
              { manifestDigest: e.digest, weightFiles: [], requireHashMatch: true, requiredFields: [] },
              's',
            );
        },
      ),
      RUNS,
    );
  });
});
