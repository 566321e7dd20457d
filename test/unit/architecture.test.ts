// The layers, as imports: the domain layers (reference, workload, policy, oci, evidence, verify) and the
// shared vocabulary (verdict) never import the engine, the Kubernetes integration, the admission server
// or the CLI, and only src/kube/ talks to @kubernetes/client-node. Read from the sources as they are, so
// that a new import that breaks a layer fails here, with the file and line.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Every import and re-export specifier of a file, with its line (static, `import type`, dynamic). */
function imports(file: string): { spec: string; line: number }[] {
  const text = readFileSync(file, 'utf8');
  const out: { spec: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    out.push({ spec: m[1]!, line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** The top folder under src/ a relative specifier of `file` reaches, or undefined for a package. */
function layerOf(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = relative(SRC, join(file, '..', spec));
  return target.includes('/') ? target.split('/')[0] : target.replace(/\.ts$/, '');
}

const LOWER = ['reference', 'workload', 'policy', 'oci', 'evidence', 'verify', 'verdict'];
const UPPER = ['engine', 'kube', 'admission', 'cli'];
const files = sources(SRC);

describe('architecture', () => {
  it('reads the tree (the test cannot pass by reading nothing)', () => {
    expect(files.length).toBeGreaterThan(80);
    const layers = new Set(files.map((f) => relative(SRC, f).split('/')[0]));
    for (const l of [...LOWER, ...UPPER]) expect(layers).toContain(l);
  });

  it('no domain layer imports the engine, kube, admission or the CLI', () => {
    const offending: string[] = [];
    for (const f of files) {
      const own = relative(SRC, f).split('/')[0]!;
      if (!LOWER.includes(own)) continue;
      for (const { spec, line } of imports(f)) {
        const to = layerOf(f, spec);
        if (to !== undefined && UPPER.includes(to))
          offending.push(`${relative(SRC, f)}:${line} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('the vocabulary is a leaf: verdict/ imports nothing else of modelgate', () => {
    const offending = files
      .filter((f) => relative(SRC, f).startsWith('verdict/'))
      .flatMap((f) =>
        imports(f)
          .filter(({ spec }) => layerOf(f, spec) !== undefined && layerOf(f, spec) !== 'verdict')
          .map(({ spec, line }) => `${relative(SRC, f)}:${line} imports ${spec}`),
      );
    expect(offending).toEqual([]);
  });

  it('only src/kube/ imports @kubernetes/client-node', () => {
    const offending = files
      .filter((f) => !relative(SRC, f).startsWith('kube/'))
      .flatMap((f) =>
        imports(f)
          .filter(
            ({ spec }) => spec === '@kubernetes/client-node' || spec.startsWith('@kubernetes/client-node/'),
          )
          .map(({ line }) => `${relative(SRC, f)}:${line}`),
      );
    expect(offending).toEqual([]);
    // ...and it is used there (the rule is about something real).
    expect(
      files.some(
        (f) =>
          relative(SRC, f).startsWith('kube/') &&
          imports(f).some((i) => i.spec === '@kubernetes/client-node'),
      ),
    ).toBe(true);
  });

  it('the import reader sees static, type-only, re-exported and dynamic imports', () => {
    const probe = join(SRC, 'cli', 'program.ts');
    const specs = imports(probe).map((i) => i.spec);
    expect(specs).toContain('commander');
    expect(specs).toContain('./verify.ts'); // a dynamic import()
    expect(layerOf(join(SRC, 'evidence', 'types.ts'), '../engine/engine.ts')).toBe('engine');
    expect(layerOf(join(SRC, 'evidence', 'formats', 'check.ts'), '../../verdict/outcome.ts')).toBe('verdict');
  });
});
