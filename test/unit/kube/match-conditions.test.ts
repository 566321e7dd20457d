// The webhook's matchCondition builder: the image test never lets through an image that a glob governs
// (property tests against parseReference and the glob matcher, i.e. the extractor's isModelImage), the
// expression's shape, and the chart's copy. The CEL itself is evaluated by the real API server in
// e2e/match-conditions.test.ts.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_IMAGES,
  CHART_CONDITION_FILE,
  HANDLED_KINDS,
  type ImageTest,
  imageTest,
  imageTestSends,
  MATCH_CONDITION_NAME,
  MAX_IMAGE_PATTERN_LENGTH,
  mayNameModelCondition,
  mayNameModelExpression,
  modelGlobsOf,
  sameConditions,
  TEMPLATE_PATHS,
  withCondition,
} from '../../../src/kube/match-conditions.ts';
import { compileGlob, GLOBSTAR_SEGMENT, modelGlobSegments } from '../../../src/reference/glob.ts';
import { parseReference, repositoryOf } from '../../../src/reference/reference.ts';
import { DOCKER_HUB_ALIASES, looksLikeRegistryHost } from '../../../src/reference/registry.ts';
import { isPodBearingKind, podTemplatesOf } from '../../../src/workload/podspecs.ts';
import {
  conditionSends,
  modelImagePredicate,
  rawImage,
  WORKLOAD_KINDS,
} from '../../support/model-objects.ts';

/** What the extractor decides for a container image under these globs (any namespace). */
function governed(globs: readonly string[], image: string): boolean {
  return modelImagePredicate(globs)(image.trim());
}

function sends(globs: readonly string[], image: string): boolean {
  return imageTestSends(imageTest(globs), image);
}

describe('modelGlobSegments', () => {
  it('gives the segments the matcher uses, normalised, and nothing for an invalid glob', () => {
    expect(modelGlobSegments('oci://Docker.IO/nginx*')).toEqual(['docker.io', 'library', 'nginx*']);
    expect(modelGlobSegments('index.docker.io/acme/**')).toEqual([
      'docker.io',
      'acme',
      '*',
      GLOBSTAR_SEGMENT,
    ]);
    expect(modelGlobSegments('a.example/x/**/**/y')).toEqual(['a.example', 'x', GLOBSTAR_SEGMENT, 'y']);
    expect(modelGlobSegments('a.example/Upper/**')).toBeUndefined();
  });
});

describe('imageTest', () => {
  it('sends no image when no policy names a valid glob, and every image for globs it cannot narrow', () => {
    expect(imageTest([])).toEqual({ kind: 'none' });
    // Invalid globs govern nothing in the engine either.
    expect(imageTest(['registry.example.com/Upper/**', 'no-host'])).toEqual({ kind: 'none' });
    expect(imageTest(['**/models/x']).kind).toBe('all');
    expect(imageTest(['docker.io/**']).kind).toBe('all');
    expect(imageTest(['*.io/**']).kind).toBe('all');
    expect(imageTest(['registry.example.com/**', '**']).kind).toBe('all');
  });

  it.each([
    // [glob, image, sent]
    ['registry.example.com/models/**', 'registry.example.com/models/llama:v1', true],
    ['registry.example.com/models/**', 'Registry.Example.COM/models/a/b@sha256:' + 'a'.repeat(64), true],
    ['registry.example.com/models/**', 'oci://registry.example.com/models/m', true],
    ['registry.example.com/models/**', 'OCI://registry.example.com/models/m', true],
    ['registry.example.com/models/**', '\uFEFF registry.example.com/models/m', true],
    ['registry.example.com/models/**', 'registry.example.com/other/m', false],
    ['registry.example.com/models/**', 'registry.example.com:5000/models/m', false],
    ['registry.example.com/models/**', 'mirror.example.com/registry.example.com/models/m', false],
    ['registry.example.com/models/**', 'nginx', false],
    // Docker Hub: the implicit host and library/, and the aliases.
    ['docker.io/library/llama*', 'llama3', true],
    ['docker.io/library/llama*', 'llama3:8b', true],
    ['docker.io/library/llama*', 'library/llama3', true],
    ['docker.io/library/llama*', 'docker.io/llama3', true],
    ['docker.io/library/llama*', 'index.docker.io/library/llama3', true],
    ['docker.io/library/llama*', 'registry-1.docker.io/llama3@sha256:' + 'b'.repeat(64), true],
    ['docker.io/library/llama*', 'nginx', false],
    ['docker.io/library/llama*', 'quay.io/llama3', false],
    ['docker.io/library/llama*', 'acme/llama3', false],
    ['docker.io/llama', 'llama', true],
    ['docker.io/llama', 'llama:latest', true],
    ['docker.io/llama', 'llamas', false],
    ['index.docker.io/acme/**', 'acme/model', true],
    ['index.docker.io/acme/**', 'docker.io/acme/model:1', true],
    ['index.docker.io/acme/**', 'acmeco/model', false],
    ['*.models.example/**', 'a.models.example/x', true],
    ['*.models.example/**', 'A.B.Models.Example/x:1', true],
    ['*.models.example/**', 'models.example/x', false],
    ['localhost:5000/models/**', 'localhost:5000/models/x', true],
    ['localhost:5000/models/**', 'LOCALHOST:5000/models/x', true],
    ['localhost:5000/models/**', 'localhost/models/x', false],
    ['registry.example.com/v?/**', 'registry.example.com/v1/m', true],
    ['registry.example.com/v?/**', 'registry.example.com/v10/m', false],
    ['[::1]:5000/models/**', '[::1]:5000/models/x', true],
    ['[::1]:5000/models/**', '[::2]:5000/models/x', false],
  ])('%s: sends %j: %s', (glob, image, expected) => {
    expect(sends([glob], image)).toBe(expected);
    // Every image it sends that the glob governs is one the extractor takes: the test is not vacuous.
    if (governed([glob], image)) expect(expected).toBe(true);
  });

  it('never lets through an image a glob governs (random globs, random raw images)', () => {
    const segment = fc.constantFrom(
      'library',
      'llama*',
      'acme',
      'models',
      '*',
      '**',
      '?',
      'v?',
      'x',
      'a.b',
      'team',
    );
    const host = fc.constantFrom(
      'docker.io',
      'index.docker.io',
      'Docker.IO',
      'registry.example.com',
      'localhost:5000',
      '*.models.example',
      'models.example',
      '*',
      '*.io',
      'registry-?.docker.io',
      '[::1]:5000',
      '127.0.0.1:5000',
      '**',
    );
    const glob = fc
      .tuple(
        fc.option(fc.constant('oci://'), { nil: '' }),
        host,
        fc.array(segment, { minLength: 1, maxLength: 3 }),
      )
      .map(([scheme, h, path]) => `${scheme}${h}/${path.join('/')}`);
    let governedSeen = 0;
    fc.assert(
      fc.property(
        fc.array(glob, { minLength: 1, maxLength: 4 }),
        fc.array(rawImage, { minLength: 1, maxLength: 8 }),
        (globs, images) => {
          const test = imageTest(globs);
          for (const image of images) {
            if (!governed(globs, image)) continue;
            governedSeen += 1;
            expect(
              imageTestSends(test, image),
              `${JSON.stringify(image)} under ${JSON.stringify(globs)}`,
            ).toBe(true);
          }
        },
      ),
      { numRuns: 3_000 },
    );
    expect(governedSeen).toBeGreaterThan(500);
  });

  it('sends every raw spelling of a repository a glob matches (images made from the glob)', () => {
    const globs = [
      'docker.io/library/llama*',
      'docker.io/*',
      'index.docker.io/acme/**',
      '*.models.example/**',
      'localhost:5000/models/**',
      'registry.example.com/team/model',
      'registry.example.com/v?/**',
      'registry.example.com/a/**/b',
      '[::1]:5000/m/**',
    ];
    const test = imageTest(globs);
    const fill = fc.constantFrom('a', 'b1', 'x-y', 'z.z', '');
    const glob = fc.constantFrom(...globs);
    const spelling = fc.record({
      leading: fc.constantFrom('', '\uFEFF', ' ', '\t'),
      scheme: fc.constantFrom('', 'oci://', 'OCI://', 'Oci://'),
      upperHost: fc.boolean(),
      dockerHost: fc.constantFrom('', 'docker.io', ...DOCKER_HUB_ALIASES),
      dropLibrary: fc.boolean(),
      suffix: fc.constantFrom('', ':v1', `@sha256:${'c'.repeat(64)}`, ':v1 '),
    });
    let checked = 0;
    fc.assert(
      fc.property(
        glob,
        fc.array(fill, { minLength: 8, maxLength: 8 }),
        fc.array(fc.constantFrom('p', 'q'), { maxLength: 2 }),
        spelling,
        (g, fills, extra, s) => {
          const segments = modelGlobSegments(g)!;
          let k = 0;
          const parts: string[] = [];
          for (const seg of segments) {
            if (seg === GLOBSTAR_SEGMENT) parts.push(...extra);
            else parts.push(seg.replace(/[*?]/g, (w) => (w === '?' ? 'v' : fills[k++ % fills.length]!)));
          }
          const repository = parts.join('/');
          if (!compileGlob(g)(repository)) return;
          const [registry, ...path] = parts;
          let name: string;
          if (registry === 'docker.io') {
            let p = path;
            if (s.dropLibrary && p.length === 2 && p[0] === 'library') p = p.slice(1);
            const noHost = s.dockerHost === '' && (p.length === 1 || !looksLikeRegistryHost(p[0]!));
            name = noHost ? p.join('/') : `${s.dockerHost || 'docker.io'}/${p.join('/')}`;
          } else {
            name = `${s.upperHost ? registry!.toUpperCase() : registry}/${path.join('/')}`;
          }
          const image = `${s.leading}${s.scheme}${name}${s.suffix}`;
          const parsed = parseReference(image.trim());
          if (!parsed.ok || repositoryOf(parsed.ref) !== repository) return;
          checked += 1;
          expect(imageTestSends(test, image), `${JSON.stringify(image)} (${repository}, ${g})`).toBe(true);
        },
      ),
      { numRuns: 5_000 },
    );
    expect(checked).toBeGreaterThan(2_000);
  });

  it('cuts the pattern to hosts when the globs are many, and sends every image when even that is too long', () => {
    const many = Array.from({ length: 200 }, (_, i) => `registry${i % 5}.example.com/team-${i}/models/**`);
    const cut = imageTest(many);
    expect(cut).toMatchObject({ kind: 'pattern', coarse: true });
    if (cut.kind !== 'pattern') throw new Error('unreachable');
    expect(cut.pattern.length).toBeLessThanOrEqual(MAX_IMAGE_PATTERN_LENGTH);
    expect(imageTestSends(cut, 'registry3.example.com/team-8/models/m')).toBe(true);
    expect(imageTestSends(cut, 'registry.example.com/team-8/models/m')).toBe(false);
    const hosts = Array.from({ length: 400 }, (_, i) => `registry-${i}.example.com/models/**`);
    expect(imageTest(hosts)).toMatchObject({ kind: 'all' });
    // Coarse still never under-sends.
    for (const g of many) {
      const repo = g.replace('**', 'x');
      expect(imageTestSends(cut, repo), repo).toBe(true);
    }
  });

  it('gives the same pattern whatever the order of the globs (no write when nothing changed)', () => {
    const globs = ['docker.io/library/llama*', 'registry.example.com/models/**', 'index.docker.io/acme/**'];
    expect(imageTest(globs)).toEqual(imageTest([...globs].reverse()));
    expect(imageTest([...globs, ...globs])).toEqual(imageTest(globs));
  });
});

describe('the expression', () => {
  it('is what the chart registers for every image (scripts/gen-match-condition.ts writes it)', () => {
    expect(readFileSync(CHART_CONDITION_FILE, 'utf8')).toBe(`${mayNameModelExpression(ALL_IMAGES)}\n`);
  });

  it('reads the pod template of every kind the webhook handles, and sends any other kind whole', () => {
    for (const kind of HANDLED_KINDS) {
      const [group = '', name = ''] = kind.split('/');
      const gvk = { group, version: 'v1', kind: name };
      expect(isPodBearingKind(gvk), kind).toBe(true);
    }
    for (const w of WORKLOAD_KINDS) {
      const object = {
        metadata: {},
        spec: w.wrap({ metadata: {}, spec: { containers: [] } }, {}),
      };
      const pod = w.gvk.kind === 'Pod' ? { metadata: {}, spec: { containers: [] } } : object;
      const templates = podTemplatesOf(w.gvk, pod);
      if (!templates.ok) throw new Error(templates.error);
      expect(TEMPLATE_PATHS).toContain(templates.templates[0]!.path);
      expect(HANDLED_KINDS).toContain(`${w.gvk.group}/${w.gvk.kind}`);
    }
    expect(conditionSends({ kind: 'none' }, { group: 'example.com', version: 'v1', kind: 'Model' }, {})).toBe(
      true,
    );
  });

  it('tests the images only as the image test says', () => {
    const pattern = imageTest(['registry.example.com/models/**']);
    expect(mayNameModelExpression(ALL_IMAGES)).toContain('has(c.image) ||');
    expect(mayNameModelExpression({ kind: 'none' })).not.toContain('c.image');
    const narrowed = mayNameModelExpression(pattern);
    if (pattern.kind !== 'pattern') throw new Error('unreachable');
    expect(narrowed).toContain(`c.image.matches(r'(?i)${pattern.pattern}')`);
    // A raw CEL string ends at the first quote: the pattern must hold none.
    expect(pattern.pattern).not.toContain("'");
    for (const t of [ALL_IMAGES, { kind: 'none' } as ImageTest, pattern]) {
      const expression = mayNameModelExpression(t);
      expect(expression).toContain("'modelgate.dev/models' in t.metadata.annotations");
      expect(expression).toContain('t.spec.volumes.exists(v, has(v.image))');
      for (const field of ['c.command', 'c.args', 'e.value']) expect(expression).toContain(field);
    }
    expect(mayNameModelCondition(pattern).name).toBe(MATCH_CONDITION_NAME);
  });
});

describe('conditions in a webhook', () => {
  const mine = { name: MATCH_CONDITION_NAME, expression: 'true' };
  const theirs = { name: 'example.com/skip-tests', expression: "!('test' in object.metadata.labels)" };

  it("replaces modelgate's condition and keeps the others, in order; appends it when missing", () => {
    expect(withCondition(undefined, mine)).toEqual([mine]);
    expect(withCondition([theirs], mine)).toEqual([theirs, mine]);
    const updated = { ...mine, expression: 'false' };
    expect(withCondition([mine, theirs], updated)).toEqual([updated, theirs]);
    expect(sameConditions([mine, theirs], withCondition([mine, theirs], mine))).toBe(true);
    expect(sameConditions([mine, theirs], [theirs, mine])).toBe(false);
    expect(sameConditions(undefined, [])).toBe(true);
  });

  it('takes the model globs of every listed policy, read defensively', () => {
    expect(
      modelGlobsOf([
        { spec: { models: ['a.example/**', 7, 'b.example/x'] } },
        { spec: { models: 'c.example/**' } },
        { spec: null },
        null,
        {},
      ]),
    ).toEqual(['a.example/**', 'b.example/x']);
  });
});
