import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import {
  type Extraction,
  extractModelReferences,
  MAX_ANNOTATION_LENGTH,
  MAX_REFERENCES,
  MODELS_ANNOTATION,
} from '../../../src/workload/extract.ts';
import { type GroupVersionKind, podTemplatesOf } from '../../../src/workload/podspecs.ts';
import { container, KIND_CASES, podTemplate, podTemplateOf } from './builders.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const MODEL = `registry.example.com/models/llama@${DIGEST}`;
const ANNOTATION_PATH = "metadata.annotations['modelgate.dev/models']";

const noModelImages = () => false;
const modelImages = (image: string) => image.startsWith('registry.example.com/models/');

/** [raw, fieldPath, source] triples, in order. */
function triples(extraction: Extraction): [string, string, string][] {
  return extraction.references.map((r) => [r.raw, r.fieldPath, r.source]);
}

function fromAnnotation(value: string): string[] {
  const extraction = extractModelReferences(
    podTemplateOf({ annotations: { [MODELS_ANNOTATION]: value } }),
    noModelImages,
  );
  return extraction.references.map((r) => r.raw);
}

function fromSpec(spec: unknown, isModelImage: (image: string) => boolean = noModelImages): Extraction {
  return extractModelReferences(podTemplateOf({ spec }), isModelImage);
}

describe('the modelgate.dev/models annotation', () => {
  it.each([
    ['one reference', 'r/a', ['r/a']],
    ['commas', 'r/a,r/b,r/c', ['r/a', 'r/b', 'r/c']],
    ['spaces', 'r/a r/b  r/c', ['r/a', 'r/b', 'r/c']],
    ['newlines', 'r/a\nr/b\n', ['r/a', 'r/b']],
    ['CRLF', 'r/a\r\nr/b\r\n', ['r/a', 'r/b']],
    ['tabs', 'r/a\tr/b', ['r/a', 'r/b']],
    ['mixed', ' \n r/a , r/b,\n\tr/c ,, ,\nr/d\t', ['r/a', 'r/b', 'r/c', 'r/d']],
    ['a YAML block scalar', `${MODEL}\noci://r/b:1\n`, [MODEL, 'oci://r/b:1']],
    ['only separators', ' ,\n\t, ', []],
    ['an empty value', '', []],
  ])('splits on %s', (_name, value, expected) => {
    expect(fromAnnotation(value)).toEqual(expected);
  });

  it('reports each reference at the annotation path, once per distinct reference', () => {
    const extraction = extractModelReferences(
      podTemplateOf({ annotations: { [MODELS_ANNOTATION]: 'r/a, r/b r/a', other: 'r/x' } }),
      noModelImages,
    );
    expect(triples(extraction)).toEqual([
      ['r/a', ANNOTATION_PATH, 'annotation'],
      ['r/b', ANNOTATION_PATH, 'annotation'],
    ]);
    expect(extraction.truncated).toBe(false);
  });

  it('ignores other annotations', () => {
    expect(
      extractModelReferences(
        podTemplateOf({ annotations: { 'modelgate.dev/model': 'r/a', 'x/models': 'r/b' } }),
        noModelImages,
      ).references,
    ).toEqual([]);
  });

  it('reads an annotation exactly MAX_ANNOTATION_LENGTH long', () => {
    const value = `r/a ${'x'.repeat(MAX_ANNOTATION_LENGTH - 4)}`;
    expect(value).toHaveLength(MAX_ANNOTATION_LENGTH);
    expect(fromAnnotation(value)).toHaveLength(2);
  });

  it('reads none of a longer annotation and says so', () => {
    const value = `r/a ${'x'.repeat(MAX_ANNOTATION_LENGTH - 3)}`;
    const extraction = extractModelReferences(
      podTemplateOf({
        annotations: { [MODELS_ANNOTATION]: value },
        spec: { volumes: [{ name: 'm', image: { reference: MODEL } }] },
      }),
      noModelImages,
    );
    expect(extraction).toEqual({
      truncated: true,
      limit: 'annotationLength',
      fieldPath: ANNOTATION_PATH,
      message: `the modelgate.dev/models annotation is ${MAX_ANNOTATION_LENGTH + 1} characters long; modelgate reads at most ${MAX_ANNOTATION_LENGTH}`,
      fix: expect.stringMatching(
        /^shorten the modelgate\.dev\/models annotation to at most 262144 characters/,
      ),
      // The other sources are still read, so a denial can name them too.
      references: [{ raw: MODEL, fieldPath: 'spec.volumes[0].image.reference', source: 'imageVolume' }],
    });
  });
});

describe('image volumes', () => {
  it('reports spec.volumes[i].image.reference, keeping the index of other volumes', () => {
    const extraction = fromSpec({
      volumes: [
        { name: 'cfg', configMap: { name: 'c' } },
        { name: 'model', image: { reference: ` ${MODEL} `, pullPolicy: 'IfNotPresent' } },
        { name: 'scratch', emptyDir: {} },
        { name: 'tokenizer', image: { reference: 'registry.example.com/models/tok:v1' } },
      ],
    });
    expect(triples(extraction)).toEqual([
      [MODEL, 'spec.volumes[1].image.reference', 'imageVolume'],
      ['registry.example.com/models/tok:v1', 'spec.volumes[3].image.reference', 'imageVolume'],
    ]);
  });

  it.each([
    ['a missing reference', { image: {} }],
    ['an empty reference', { image: { reference: '' } }],
    ['a blank reference', { image: { reference: ' \t' } }],
    ['a numeric reference', { image: { reference: 42 } }],
    ['an object reference', { image: { reference: { name: MODEL } } }],
    ['a string image', { image: MODEL }],
    ['a null image', { image: null }],
  ])('skips %s', (_name, volume) => {
    expect(fromSpec({ volumes: [volume] }).references).toEqual([]);
  });
});

describe('container images', () => {
  it('reports an image only when isModelImage says it is a model', () => {
    const spec = {
      initContainers: [container({ image: 'registry.example.com/models/llama-modelcar:1' })],
      containers: [container({ image: 'registry.example.com/app/server:1.0' }), container({ image: MODEL })],
      ephemeralContainers: [
        container({ image: 'busybox' }),
        container({ image: 'registry.example.com/models/m:2' }),
      ],
    };
    expect(triples(fromSpec(spec, modelImages))).toEqual([
      ['registry.example.com/models/llama-modelcar:1', 'spec.initContainers[0].image', 'containerImage'],
      [MODEL, 'spec.containers[1].image', 'containerImage'],
      ['registry.example.com/models/m:2', 'spec.ephemeralContainers[1].image', 'containerImage'],
    ]);
    expect(fromSpec(spec, noModelImages).references).toEqual([]);
  });

  it('asks isModelImage about each trimmed, non-empty string image', () => {
    const isModelImage = vi.fn(() => true);
    fromSpec(
      {
        containers: [
          container({ image: '  r/a:1\n' }),
          container({ image: '' }),
          container({ image: ' ' }),
          container({ image: 7 }),
          container({ image: null }),
          { name: 'no-image' },
        ],
      },
      isModelImage,
    );
    expect(isModelImage.mock.calls).toEqual([['r/a:1']]);
  });
});

describe('oci:// tokens in command, args and env', () => {
  it('reports whole and embedded tokens with the field path of their string', () => {
    const spec = {
      initContainers: [
        container(),
        container({
          name: 'storage-initializer',
          args: ['--verbose', '/mnt/models', `oci://${MODEL}`],
        }),
      ],
      containers: [
        container({
          command: ['sh', '-c', `oras pull oci://r/a:1 -o /m && oras pull oci://r/b@${DIGEST}; serve`],
          args: [`--model=oci://${MODEL}`],
          env: [
            { name: 'A', value: 'plain' },
            { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
            { name: 'STORAGE_URI', value: 'oci://r/c:2' },
            { name: 'D', value: 'x' },
            { name: 'MODELS', value: 'oci://r/d:1,oci://r/e:1' },
          ],
        }),
      ],
      ephemeralContainers: [container({ name: 'debug', command: ['oras', 'pull', 'oci://r/f:1'] })],
    };
    expect(triples(fromSpec(spec))).toEqual([
      [`oci://${MODEL}`, 'spec.initContainers[1].args[2]', 'argument'],
      ['oci://r/a:1', 'spec.containers[0].command[2]', 'command'],
      [`oci://r/b@${DIGEST}`, 'spec.containers[0].command[2]', 'command'],
      [`oci://${MODEL}`, 'spec.containers[0].args[0]', 'argument'],
      ['oci://r/c:2', 'spec.containers[0].env[2].value', 'env'],
      ['oci://r/d:1', 'spec.containers[0].env[4].value', 'env'],
      ['oci://r/e:1', 'spec.containers[0].env[4].value', 'env'],
      ['oci://r/f:1', 'spec.ephemeralContainers[0].command[2]', 'command'],
    ]);
  });

  it.each([
    ['a bare token', 'oci://r/m:1', ['oci://r/m:1']],
    ['a flag value', '--model=oci://r/m:1', ['oci://r/m:1']],
    ['double quotes', '--model="oci://r/m:1"', ['oci://r/m:1']],
    ['single quotes', "pull 'oci://r/m:1'", ['oci://r/m:1']],
    ['backquotes', 'echo `oci://r/m:1`', ['oci://r/m:1']],
    ['a semicolon', 'pull oci://r/m:1;run', ['oci://r/m:1']],
    ['a comma', 'oci://r/a:1,oci://r/b:1', ['oci://r/a:1', 'oci://r/b:1']],
    ['a newline', 'pull oci://r/a:1\npull oci://r/b:1', ['oci://r/a:1', 'oci://r/b:1']],
    ['a tab', 'oci://r/a:1\toci://r/b:1', ['oci://r/a:1', 'oci://r/b:1']],
    ['JSON', '{"model":"oci://r/m:1"}', ['oci://r/m:1']],
    ['an upper-case scheme', 'OCI://r/m:1 Oci://r/n:1', ['OCI://r/m:1', 'Oci://r/n:1']],
    ['a digest', `oci://${MODEL}`, [`oci://${MODEL}`]],
    ['an IPv6 host', 'oci://[::1]:5000/m:1', ['oci://[::1]:5000/m:1']],
    [
      'a kubelet variable (kept, so that parsing refuses it)',
      'oci://$(REGISTRY)/m:1',
      ['oci://$(REGISTRY)/m:1'],
    ],
    ['a repeated token (once)', 'oci://r/m:1 oci://r/m:1', ['oci://r/m:1']],
    ['a scheme without reference', 'accepts oci:// URIs', []],
    ['a scheme before a quote', '"oci://"', []],
    ['another scheme', 'https://r/m:1 s3://b/m hf://org/m', []],
    ['no token', 'serve --port=8080', []],
  ])('finds tokens in %s', (_name, value, expected) => {
    const extraction = fromSpec({
      containers: [container({ args: [value], command: [value], env: [{ name: 'V', value }] })],
    });
    const bySource = (source: string) =>
      extraction.references.filter((r) => r.source === source).map((r) => r.raw);
    expect(bySource('argument')).toEqual(expected);
    expect(bySource('command')).toEqual(expected);
    expect(bySource('env')).toEqual(expected);
  });

  it('does not look for tokens in other container fields', () => {
    const extraction = fromSpec({
      containers: [
        {
          name: 'oci://r/name:1',
          image: 'oci://r/image:1',
          workingDir: 'oci://r/wd:1',
          envFrom: [{ prefix: 'oci://r/p:1' }],
          env: [{ name: 'oci://r/n:1', valueFrom: { fieldRef: { fieldPath: 'oci://r/f:1' } } }],
        },
      ],
    });
    expect(extraction.references).toEqual([]);
  });
});

describe('the whole template', () => {
  const spec = {
    volumes: [{ name: 'model', image: { reference: MODEL } }],
    initContainers: [container({ args: ['oci://r/init:1'] })],
    containers: [
      container({ image: 'registry.example.com/models/car:1', env: [{ name: 'M', value: 'oci://r/env:1' }] }),
    ],
    ephemeralContainers: [container({ command: ['oci://r/eph:1'] })],
  };
  const annotations = { [MODELS_ANNOTATION]: 'r/ann:1' };

  describe.each(KIND_CASES)('in a $name', (c) => {
    it('reports every source with its full field path', () => {
      const result = podTemplatesOf(c.gvk, c.wrap(podTemplate({ annotations, spec })), c.subResource);
      if (!result.ok) throw new Error(result.error);
      expect(result.templates).toHaveLength(1);
      const template = result.templates[0]!;
      const metadata = c.path === '' ? 'metadata' : `${c.path}.metadata`;
      const s = c.specPath;
      expect(triples(extractModelReferences(template, modelImages))).toEqual([
        ['r/ann:1', `${metadata}.annotations['modelgate.dev/models']`, 'annotation'],
        [MODEL, `${s}.volumes[0].image.reference`, 'imageVolume'],
        ['oci://r/init:1', `${s}.initContainers[0].args[0]`, 'argument'],
        ['registry.example.com/models/car:1', `${s}.containers[0].image`, 'containerImage'],
        ['oci://r/env:1', `${s}.containers[0].env[0].value`, 'env'],
        ['oci://r/eph:1', `${s}.ephemeralContainers[0].command[0]`, 'command'],
      ]);
    });
  });

  it('reports the same reference once per field path', () => {
    const extraction = extractModelReferences(
      podTemplateOf({
        annotations: { [MODELS_ANNOTATION]: MODEL },
        spec: {
          volumes: [{ image: { reference: MODEL } }, { image: { reference: MODEL } }],
          containers: [
            container({ image: MODEL, args: [`oci://${MODEL}`, `oci://${MODEL} oci://${MODEL}`] }),
          ],
        },
      }),
      () => true,
    );
    expect(extraction.references.map((r) => r.fieldPath)).toEqual([
      ANNOTATION_PATH,
      'spec.volumes[0].image.reference',
      'spec.volumes[1].image.reference',
      'spec.containers[0].image',
      'spec.containers[0].args[0]',
      'spec.containers[0].args[1]',
    ]);
  });

  it('reads the CronJob, Deployment and Pod fixtures', () => {
    const cases: [string, GroupVersionKind, [string, string, string][]][] = [
      [
        'deployment-kserve.yaml',
        { group: 'apps', version: 'v1', kind: 'Deployment' },
        [
          [
            `registry.example.com/models/llama-3-8b@${DIGEST}`,
            "spec.template.metadata.annotations['modelgate.dev/models']",
            'annotation',
          ],
          [
            'registry.example.com/models/tokenizer:v3',
            "spec.template.metadata.annotations['modelgate.dev/models']",
            'annotation',
          ],
          [
            `registry.example.com/models/llama-3-8b@${DIGEST}`,
            'spec.template.spec.volumes[1].image.reference',
            'imageVolume',
          ],
          [
            `oci://registry.example.com/models/llama-3-8b@${DIGEST}`,
            'spec.template.spec.initContainers[0].args[0]',
            'argument',
          ],
          [
            'registry.example.com/models/adapter-car:1.2',
            'spec.template.spec.containers[1].image',
            'containerImage',
          ],
        ],
      ],
      [
        'cronjob-oras-pull.yaml',
        { group: 'batch', version: 'v1', kind: 'CronJob' },
        [
          [
            'oci://registry.example.com/models/eval-set:2024-06',
            'spec.jobTemplate.spec.template.spec.initContainers[0].command[2]',
            'command',
          ],
          [
            `oci://registry.example.com/models/classifier@${DIGEST}`,
            'spec.jobTemplate.spec.template.spec.initContainers[0].command[2]',
            'command',
          ],
          [
            'oci://registry.example.com/models/classifier:latest',
            'spec.jobTemplate.spec.template.spec.containers[0].env[1].value',
            'env',
          ],
        ],
      ],
      [
        'pod-debug-ephemeral.yaml',
        { group: '', version: 'v1', kind: 'Pod' },
        [
          [
            `oci://registry.example.com/models/llama-3-8b@${DIGEST}`,
            'spec.containers[0].args[1]',
            'argument',
          ],
          ['oci://registry.example.com/models/probe:0.1', 'spec.ephemeralContainers[0].args[0]', 'argument'],
        ],
      ],
    ];
    for (const [file, gvk, expected] of cases) {
      const object: unknown = parse(
        readFileSync(new URL(`../../fixtures/workload/${file}`, import.meta.url), 'utf8'),
      );
      const result = podTemplatesOf(gvk, object, gvk.kind === 'Pod' ? 'ephemeralcontainers' : undefined);
      if (!result.ok) throw new Error(result.error);
      const found = result.templates.flatMap((t) => triples(extractModelReferences(t, modelImages)));
      expect(found, file).toEqual(expected);
    }
  });
});

describe('the reference bound', () => {
  const refs = (n: number) => Array.from({ length: n }, (_, i) => `r/m${i}:1`);

  it('reports exactly MAX_REFERENCES without truncation', () => {
    const extraction = fromSpec({
      containers: [container({ args: refs(MAX_REFERENCES).map((r) => `oci://${r}`) })],
    });
    expect(extraction.truncated).toBe(false);
    expect(extraction.references).toHaveLength(MAX_REFERENCES);
  });

  it('stops at MAX_REFERENCES and says where', () => {
    const extraction = extractModelReferences(
      podTemplateOf({
        annotations: { [MODELS_ANNOTATION]: refs(MAX_REFERENCES - 1).join(',') },
        spec: { volumes: [{ image: { reference: 'r/last:1' } }, { image: { reference: 'r/over:1' } }] },
      }),
      noModelImages,
    );
    expect(extraction.references).toHaveLength(MAX_REFERENCES);
    expect(extraction.references.at(-1)?.raw).toBe('r/last:1');
    expect(extraction).toMatchObject({
      truncated: true,
      limit: 'references',
      fieldPath: 'spec.volumes[1].image.reference',
      message: `the pod template names more than ${MAX_REFERENCES} model references; modelgate checks at most ${MAX_REFERENCES}`,
    });
  });

  it('reports the first bound hit when both are', () => {
    const extraction = extractModelReferences(
      podTemplateOf({
        annotations: { [MODELS_ANNOTATION]: 'x'.repeat(MAX_ANNOTATION_LENGTH + 1) },
        spec: { containers: [container({ args: refs(MAX_REFERENCES + 1).map((r) => `oci://${r}`) })] },
      }),
      noModelImages,
    );
    expect(extraction.references).toHaveLength(MAX_REFERENCES);
    expect(extraction).toMatchObject({
      truncated: true,
      limit: 'annotationLength',
      fieldPath: ANNOTATION_PATH,
    });
  });

  it('does not count repeats against the bound', () => {
    const extraction = fromAnnotation(
      Array(5 * MAX_REFERENCES)
        .fill('r/same:1')
        .join(' '),
    );
    expect(extraction).toEqual(['r/same:1']);
  });

  it('stops early on a huge string of tokens', () => {
    const value = Array.from({ length: 200_000 }, (_, i) => `oci://r/${i}`).join(' ');
    const isModelImage = vi.fn(() => true);
    const extraction = fromSpec(
      { containers: [container({ args: [value] }), container({ image: 'r/late:1' })] },
      isModelImage,
    );
    expect(extraction.references).toHaveLength(MAX_REFERENCES);
    expect(extraction.truncated).toBe(true);
    expect(isModelImage).toHaveBeenCalledTimes(1);
  });
});

describe('odd shapes', () => {
  it.each([
    ['an undefined spec', undefined],
    ['a string spec', 'spec'],
    ['an array spec', [{ containers: [container({ args: ['oci://r/m:1'] })] }]],
    ['containers as an object', { containers: { main: container({ args: ['oci://r/m:1'] }) } }],
    ['containers as a string', { containers: 'oci://r/m:1' }],
    ['non-object containers', { containers: [null, 1, 'oci://r/m:1', ['oci://r/m:1'], true] }],
    ['args as a string', { containers: [container({ args: 'oci://r/m:1' })] }],
    ['numeric args', { containers: [container({ args: [1, null, { a: 'oci://r/m:1' }, ['oci://r/m:1']] })] }],
    ['env as an object', { containers: [container({ env: { M: 'oci://r/m:1' } })] }],
    [
      'odd env entries',
      { containers: [container({ env: [null, 'oci://r/m:1', { value: 3 }, { value: ['oci://r/m:1'] }] })] },
    ],
    ['volumes as an object', { volumes: { m: { image: { reference: 'r/m:1' } } } }],
    ['odd volumes', { volumes: [null, 'r/m:1', [{ image: { reference: 'r/m:1' } }]] }],
  ])('finds nothing in %s', (_name, spec) => {
    expect(fromSpec(spec)).toEqual({ truncated: false, references: [] });
  });

  it('keeps indexes of skipped entries in field paths', () => {
    const extraction = fromSpec({
      containers: [null, 'x', container({ args: [1, 'oci://r/m:1'], env: [null, { value: 'oci://r/e:1' }] })],
    });
    expect(extraction.references.map((r) => r.fieldPath)).toEqual([
      'spec.containers[2].args[1]',
      'spec.containers[2].env[1].value',
    ]);
  });

  it('tolerates annotations that are not a plain record', () => {
    const template = {
      path: '',
      annotations: null as unknown as Record<string, string>,
      spec: {},
      specPath: 'spec',
    };
    expect(extractModelReferences(template, noModelImages).references).toEqual([]);
  });
});
