// Differential test of modelgate's manifest parser against the consumer that pulls what it admits:
// Go's encoding/json into image-spec's types, as oras and containerd decode manifests
// (scripts/tools/oci-decode). Generated manifests carry duplicate keys, case variants (`Layers`,
// `layerſ`), escaped keys, invalid UTF-8, float-syntax numbers, mistyped and extra fields. Whenever
// modelgate accepts a document, Go must decode it, without error, to the same media type, config,
// layers, subject and manifests. Where modelgate refuses, any Go answer is fine.
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/oci/manifest.ts';
import type { Descriptor } from '../../../src/oci/types.ts';
import { toolPath } from '../../support/tools.ts';

const CASES = 10_000;

// A document as a tree whose object entries are ordered and may repeat keys, and whose leaves are raw
// JSON text or raw bytes: what a hostile pusher can write, not what JSON.stringify can.
type Doc =
  | { readonly t: 'obj'; readonly entries: readonly (readonly [key: string, value: Doc])[] }
  | { readonly t: 'arr'; readonly items: readonly Doc[] }
  | { readonly t: 'raw'; readonly text: string }
  | { readonly t: 'bytes'; readonly bytes: Uint8Array };

const obj = (entries: readonly (readonly [string, Doc])[]): Doc => ({ t: 'obj', entries });
const raw = (text: string): Doc => ({ t: 'raw', text });
const str = (s: string): Doc => raw(JSON.stringify(s));

function serialize(d: Doc, out: Uint8Array[]): void {
  const text = (s: string) => out.push(new TextEncoder().encode(s));
  switch (d.t) {
    case 'raw':
      text(d.text);
      return;
    case 'bytes':
      out.push(d.bytes);
      return;
    case 'arr':
      text('[');
      d.items.forEach((item, i) => {
        if (i > 0) text(',');
        serialize(item, out);
      });
      text(']');
      return;
    case 'obj':
      text('{');
      d.entries.forEach(([k, v], i) => {
        // Keys are written as given: already JSON string contents, escapes included.
        text(`${i > 0 ? ',' : ''}"${k}":`);
        serialize(v, out);
      });
      text('}');
  }
}

function bytesOf(d: Doc): Uint8Array {
  const parts: Uint8Array[] = [];
  serialize(d, parts);
  return Buffer.concat(parts);
}

/** Weighted choice that drops branches of weight 0 (a clean generator has no hostile branches). */
function oneof<T>(...branches: { weight: number; arbitrary: fc.Arbitrary<T> }[]): fc.Arbitrary<T> {
  const live = branches.filter((b) => b.weight > 0);
  return live.length === 1 ? live[0]!.arbitrary : fc.oneof(...live);
}

/**
 * Manifest generators at a hostility `h`: every place a document can go wrong (a key spelled otherwise,
 * a field twice, a mistyped or float-syntax value, invalid UTF-8) does so with weight `h` against a
 * sound value's 20 to 60 (600 when `h = 1`: mostly well-formed documents, with an oddity or two).
 */
function generators(h: number) {
  // Mildly hostile documents: sound values weigh ten times more, so most documents have no oddity or one.
  const G = h > 1 ? 1 : 10;
  /** Sound values, and (with weight `h` each, against `G` each) values that break a type. */
  const choose = (good: string[], bad: string[]) =>
    oneof(
      { weight: good.length * 10 * G, arbitrary: fc.constantFrom(...good) },
      { weight: bad.length * h, arbitrary: fc.constantFrom(...bad) },
    );
  // Spellings of a field name that Go's encoding/json reads as the field (and a few it does not).
  function spellings(field: string): fc.Arbitrary<string> {
    if (h === 0) return fc.constant(field);
    const variants = new Set<string>([
      field.toUpperCase(),
      field.charAt(0).toUpperCase() + field.slice(1),
      field.replace(/s/g, '\u017f'),
      field.replace(/k/g, '\u212a'),
      field.replace(/i/g, '\u0131'),
      // \u-escaped first letter: the same key once unescaped.
      `\\u00${field.charCodeAt(0).toString(16)}${field.slice(1)}`,
      `\\u00${field.charCodeAt(0).toString(16).toUpperCase()}${field.slice(1).toUpperCase()}`,
      field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      `${field} `,
    ]);
    variants.delete(field);
    return oneof(
      { weight: 60 * G, arbitrary: fc.constant(field) },
      { weight: 2 * h, arbitrary: fc.constantFrom(...variants) },
      {
        weight: h,
        arbitrary: fc
          .array(fc.boolean(), { minLength: field.length, maxLength: field.length })
          .map((up) => [...field].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('')),
      },
    );
  }

  const HEX = '0123456789abcdef';
  const digest = oneof(
    { weight: 40 * G, arbitrary: fc.integer({ min: 0, max: 15 }).map((n) => `sha256:${HEX[n]!.repeat(64)}`) },
    { weight: h, arbitrary: fc.constantFrom('sha256:' + 'A'.repeat(64), 'sha256:abc', 'md5:00', '') },
  );
  const mediaTypes = [
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.empty.v1+json',
    'application/octet-stream',
    'application/vnd.example.pickle',
  ];

  // A JSON value written by hand: the variants JSON.parse and Go read differently live here.
  const size: fc.Arbitrary<Doc> = oneof(
    { weight: 40 * G, arbitrary: fc.nat({ max: 1_000_000 }).map((n) => raw(String(n))) },
    {
      weight: 2 * h,
      arbitrary: fc
        .constantFrom(
          '1.0e3',
          '1e3',
          '100.0',
          '-1',
          '0',
          '-0',
          '9007199254740993',
          '18446744073709551616',
          '"10"',
          'null',
          '1E2',
          '2.5',
        )
        .map(raw),
    },
  );
  const stringValue = (values: fc.Arbitrary<string>): fc.Arbitrary<Doc> =>
    oneof(
      { weight: 60 * G, arbitrary: values.map(str) },
      { weight: h, arbitrary: fc.constantFrom('null', '1', 'true', '[]', '{}').map(raw) },
      // A string carrying invalid UTF-8 (Go reads U+FFFD) or a lone surrogate escape.
      {
        weight: h,
        arbitrary: values.chain((v) =>
          fc.constantFrom<Doc>(
            {
              t: 'bytes',
              bytes: Buffer.concat([Buffer.from(`"${v}`), Buffer.from([0xff]), Buffer.from('"')]),
            },
            {
              t: 'bytes',
              bytes: Buffer.concat([Buffer.from('"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`${v}"`)]),
            },
            raw(`"${v}\\ud800"`),
          ),
        ),
      },
    );

  /** An object: some fields, each maybe under another spelling, maybe twice, in any order, plus extras. */
  function objectOf(
    fields: readonly (readonly [name: string, value: fc.Arbitrary<Doc>, required: boolean])[],
  ) {
    const entry = ([name, value, required]: readonly [string, fc.Arbitrary<Doc>, boolean]) =>
      fc.tuple(
        required ? fc.constant(true) : fc.boolean(),
        spellings(name),
        value,
        // A second occurrence: another spelling (or the same) with another value.
        oneof(
          { weight: 25 * G, arbitrary: fc.constant(null) },
          { weight: h, arbitrary: fc.tuple(spellings(name), value) },
        ),
      );
    return fc
      .tuple(
        fc.tuple(...fields.map(entry)),
        fc.uniqueArray(
          fc.tuple(fc.constantFrom('extra', 'x-layers', 'Extra', 'layersX', 'mediatype2'), extraValue),
          {
            maxLength: 2,
            // Mildly hostile documents keep their extra keys apart; hostile ones may collide.
            selector: ([k]) => (h > 1 ? k : k.toLowerCase()),
          },
        ),
        fc.nat(),
      )
      .map(([chosen, extras, shuffle]) => {
        const entries: [string, Doc][] = [];
        for (const [present, key, value, twice] of chosen) {
          if (!present) continue;
          entries.push([key, value]);
          if (twice !== null) entries.push([twice[0], twice[1]]);
        }
        entries.push(...extras);
        // Rotate, so duplicates are not always adjacent and fields come in any order.
        const k = entries.length === 0 ? 0 : shuffle % entries.length;
        return obj([...entries.slice(k), ...entries.slice(0, k)]);
      });
  }

  // Values of fields no type declares: Go skips them unread, whatever they hold.
  const extraValue: fc.Arbitrary<Doc> = oneof(
    {
      weight: 10 * G,
      arbitrary: oneof(
        { weight: 1, arbitrary: fc.nat().map((n) => raw(String(n))) },
        { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(str) },
        {
          weight: 3,
          arbitrary: fc.constantFrom('null', 'true', '[]', '{}', '{"a":[1,{"b":null}]}', '[[]]').map(raw),
        },
      ),
    },
    {
      weight: h,
      arbitrary: fc
        .constantFrom('1.5', '-2e3', '{"a":1,"A":2}', '[{"Size":1}]', '{"x":{"x":1,"x":2}}')
        .map(raw),
    },
  );

  const annotations: fc.Arbitrary<Doc> = oneof(
    {
      weight: 20 * G,
      arbitrary: fc
        .uniqueArray(
          fc.tuple(
            fc.constantFrom(
              'org.opencontainers.image.title',
              'org.opencontainers.image.Title',
              'a',
              'A',
              'ſ',
              's',
            ),
            stringValue(fc.constantFrom('model.safetensors', 'model.pkl', 'README.md')),
          ),
          { maxLength: 3, selector: ([k]) => (h > 1 ? k : k.toLowerCase().replace('ſ', 's')) },
        )
        .map(obj),
    },
    { weight: h, arbitrary: fc.constantFrom('null', '[]', '"x"', '{"a":1}').map(raw) },
  );

  const platform: fc.Arbitrary<Doc> = objectOf([
    ['architecture', stringValue(fc.constantFrom('amd64', 'arm64')), true],
    ['os', stringValue(fc.constantFrom('linux', 'windows')), true],
    ['variant', stringValue(fc.constantFrom('v8', '')), false],
    ['os.version', stringValue(fc.constantFrom('10.0', '')), false],
    ['os.features', choose(['["a"]', 'null'], ['[1]', '"x"']).map(raw), false],
  ]);

  const descriptor: fc.Arbitrary<Doc> = objectOf([
    ['mediaType', stringValue(fc.constantFrom(...mediaTypes)), true],
    ['digest', stringValue(digest), true],
    ['size', size, true],
    ['annotations', annotations, false],
    ['artifactType', stringValue(fc.constantFrom('application/vnd.example.model', '')), false],
    ['urls', choose(['["https://example.com/x"]', '[]', 'null'], ['[1]', '"x"']).map(raw), false],
    ['data', choose(['"e30="', '""', 'null'], ['"!!"', '"e30"', '1']).map(raw), false],
    ['platform', platform, false],
  ]);

  const descriptorList: fc.Arbitrary<Doc> = oneof(
    {
      weight: 40 * G,
      arbitrary: fc.array(descriptor, { maxLength: 3 }).map((items): Doc => ({ t: 'arr', items })),
    },
    { weight: h, arbitrary: fc.constantFrom('null', '{}', '"x"').map(raw) },
  );

  const schemaVersion: fc.Arbitrary<Doc> = oneof(
    { weight: 30 * G, arbitrary: fc.constant(raw('2')) },
    { weight: h, arbitrary: fc.constantFrom('2.0', '1', '"2"', '2e0', '20e-1', 'null').map(raw) },
  );

  const manifestDoc: fc.Arbitrary<Doc> = fc.oneof(
    // An image manifest...
    objectOf([
      ['schemaVersion', schemaVersion, true],
      [
        'mediaType',
        stringValue(choose([mediaTypes[0]!, mediaTypes[2]!], [mediaTypes[1]!, mediaTypes[3]!])),
        false,
      ],
      ['artifactType', stringValue(fc.constantFrom('application/vnd.example.model')), false],
      ['config', descriptor, true],
      ['layers', descriptorList, true],
      ['subject', descriptor, false],
      ['annotations', annotations, false],
      // The other kind's list: modelgate refuses it, Go ignores it.
      ...(h > 1 ? [['manifests', descriptorList, false] as const] : []),
    ]),
    // ...and an index.
    objectOf([
      ['schemaVersion', schemaVersion, true],
      [
        'mediaType',
        stringValue(choose([mediaTypes[1]!, mediaTypes[3]!], [mediaTypes[0]!, mediaTypes[2]!])),
        false,
      ],
      ['artifactType', stringValue(fc.constantFrom('application/vnd.example.model')), false],
      ['manifests', descriptorList, true],
      ['subject', descriptor, false],
      ['annotations', annotations, false],
      ...(h > 1 ? [['layers', descriptorList, false] as const] : []),
    ]),
  );

  return manifestDoc;
}

// Hand-written cases for the attacks themselves, fed with the generated ones.
const D = (c: string) => `sha256:${c.repeat(64)}`;
const layer = (c: string, mediaType = 'application/vnd.example.pickle') =>
  `{"mediaType":"${mediaType}","digest":"${D(c)}","size":1}`;
const CONFIG = `"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${D('e')}","size":2}`;
const HAND = [
  `{"schemaVersion":2,${CONFIG},"layers":[${layer('a')}],"Layers":[${layer('b')}]}`,
  `{"schemaVersion":2,${CONFIG},"Layers":[${layer('b')}],"layers":[${layer('a')}]}`,
  `{"schemaVersion":2,${CONFIG},"layers":[${layer('a')}],"layerſ":[${layer('b')}]}`,
  `{"schemaVersion":2,${CONFIG},"LAYERS":[${layer('b')}]}`,
  `{"schemaVersion":2,${CONFIG},"layers":[${layer('a')}],"\\u006cayers":[${layer('b')}]}`,
  `{"schemaVersion":2,${CONFIG},"layers":[{"mediaType":"x","digest":"${D('a')}","size":1,"Digest":"${D('b')}"}]}`,
  `{"schemaVersion":2,${CONFIG},"layers":[{"mediaType":"x","digest":"${D('a')}","size":1.0e3}]}`,
  `{"schemaVersion":2,${CONFIG},"layers":[],"subject":{"mediaType":"x","digest":"${D('a')}","size":1},"ſubject":{"mediaType":"x","digest":"${D('b')}","size":1}}`,
  `{"schemaVersion":2,${CONFIG},"layers":[${layer('a')}]}`,
].map((s) => new TextEncoder().encode(s));

interface GoDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
  artifactType?: string;
}
interface GoResult {
  input?: string;
  manifest: {
    ok: boolean;
    error?: string;
    mediaType: string;
    artifactType: string;
    schemaVersion: number;
    config: GoDescriptor;
    layers: GoDescriptor[] | null;
    subject: GoDescriptor | null;
    annotations: Record<string, string> | null;
  };
  index: {
    ok: boolean;
    error?: string;
    mediaType: string;
    artifactType: string;
    schemaVersion: number;
    manifests: GoDescriptor[] | null;
    subject: GoDescriptor | null;
    annotations: Record<string, string> | null;
  };
}

/** Runs every document through one oci-decode process. */
async function goDecode(tool: string, docs: readonly Uint8Array[]): Promise<GoResult[]> {
  const child = spawn(tool, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  child.stdin.end(docs.map((d) => Buffer.from(d).toString('base64')).join('\n') + '\n');
  const code = await done;
  if (code !== 0) throw new Error(`oci-decode exited ${code}: ${Buffer.concat(err).toString()}`);
  const lines = Buffer.concat(out).toString('utf8').trim().split('\n');
  return lines.map((l) => JSON.parse(l) as GoResult);
}

// What modelgate reads of a descriptor, in the shape Go's encoder writes it (omitempty: empty maps
// and lists are absent).
function normal(d: Descriptor | GoDescriptor | null | undefined) {
  if (d === null || d === undefined) return null;
  const nonEmpty = <T>(v: T[] | Record<string, T> | undefined) =>
    v === undefined || Object.keys(v).length === 0 ? undefined : v;
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    artifactType: d.artifactType === '' ? undefined : d.artifactType,
    annotations: nonEmpty(d.annotations),
    urls: nonEmpty(d.urls),
    platform:
      d.platform === undefined
        ? undefined
        : {
            architecture: d.platform.architecture,
            os: d.platform.os,
            variant: d.platform.variant || undefined,
          },
  };
}
const normalList = (l: readonly (Descriptor | GoDescriptor)[] | null | undefined) => (l ?? []).map(normal);
const normalMap = (m: Record<string, string> | null | undefined) =>
  m === null || m === undefined || Object.keys(m).length === 0 ? undefined : m;

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'object' && x !== null && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)))
      : x,
  );
}

describe('OCI JSON: modelgate and Go encoding/json (image-spec types)', () => {
  let tool: string;
  beforeAll(async () => {
    tool = await toolPath('oci-decode');
  });

  it(`agree on everything modelgate accepts (${CASES} generated manifests)`, async () => {
    const seed = Number(process.env.MODELGATE_DIFF_SEED ?? Date.now() % 2 ** 31);
    const mixed = fc.oneof(generators(1), generators(12));
    const docs = [...HAND, ...fc.sample(mixed, { numRuns: CASES, seed }).map(bytesOf)];
    const go = await goDecode(tool, docs);
    expect(go).toHaveLength(docs.length);

    const counts = { accepted: 0, ambiguous: 0, refused: 0 };
    const disagreements: string[] = [];
    docs.forEach((bytes, i) => {
      const mg = parseManifest(bytes, null);
      if (!mg.ok) {
        if (mg.code === 'ARTIFACT_AMBIGUOUS') counts.ambiguous++;
        else counts.refused++;
        return;
      }
      counts.accepted++;
      const g = go[i]!;
      const doc = Buffer.from(bytes).toString('utf8');
      let ours: unknown;
      let theirs: unknown;
      if (mg.kind === 'manifest') {
        const m = mg.manifest;
        ours = {
          ok: true,
          schemaVersion: m.schemaVersion,
          mediaType: m.mediaType ?? '',
          artifactType: m.artifactType ?? '',
          config: normal(m.config),
          layers: normalList(m.layers),
          subject: normal(m.subject),
          annotations: normalMap(m.annotations),
        };
        const r = g.manifest;
        theirs = {
          ok: r.ok,
          schemaVersion: r.schemaVersion,
          mediaType: r.mediaType,
          artifactType: r.artifactType,
          config: normal(r.config),
          layers: normalList(r.layers),
          subject: normal(r.subject),
          annotations: normalMap(r.annotations),
        };
        if (!r.ok) theirs = { ...(theirs as object), error: r.error };
      } else {
        const x = mg.manifest;
        ours = {
          ok: true,
          schemaVersion: x.schemaVersion,
          mediaType: x.mediaType ?? '',
          artifactType: x.artifactType ?? '',
          manifests: normalList(x.manifests),
          subject: normal(x.subject),
          annotations: normalMap(x.annotations),
        };
        const r = g.index;
        theirs = {
          ok: r.ok,
          schemaVersion: r.schemaVersion,
          mediaType: r.mediaType,
          artifactType: r.artifactType,
          manifests: normalList(r.manifests),
          subject: normal(r.subject),
          annotations: normalMap(r.annotations),
        };
        if (!r.ok) theirs = { ...(theirs as object), error: r.error };
      }
      // Compared as canonical JSON text: absent fields dropped, object keys sorted, list order kept.
      const [a, b] = [canonical(ours), canonical(theirs)];
      if (a !== b) disagreements.push(`${doc}\n  modelgate: ${a}\n  Go:        ${b}`);
    });
    console.log(`oci-json differential, seed ${seed}:`, counts);
    expect(disagreements.slice(0, 3), `seed ${seed}: ${disagreements.length} disagreements`).toEqual([]);
    // Not vacuous: the generator reaches acceptance, ambiguity and other refusals in numbers.
    expect(counts.accepted).toBeGreaterThan(CASES / 20);
    expect(counts.ambiguous).toBeGreaterThan(CASES / 10);
    // The attacks themselves are refused as ambiguous; the control case is accepted.
    const hand = HAND.map((b) => parseManifest(b, null));
    expect(hand.map((r) => (r.ok ? 'ok' : (r.code ?? 'invalid')))).toEqual([
      ...Array(8).fill('ARTIFACT_AMBIGUOUS'),
      'ok',
    ]);
  });
});
