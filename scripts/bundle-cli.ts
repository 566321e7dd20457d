/**
 * Bundles the CLI into dist/bundle/modelgate.js (and the admission decode worker beside it), the way
 * pipelines run modelgate: one file, no module resolution over node_modules at start-up, no TypeScript
 * to strip. Commands stay lazily evaluated inside the bundle (esbuild wraps dynamically imported
 * modules), so `verify` does not evaluate the server's code. Usage: node scripts/bundle-cli.ts [outdir]
 */
import { readFile } from 'node:fs/promises';
import { build, type Plugin } from 'esbuild';

// Modules of ours that read package files with a require made by createRequire (the precompiled
// CycloneDX validator's ajv helpers, the Sigstore seed): a bundler cannot follow that require, so the
// line is dropped and their require() calls are bundled like any other.
const LOCAL_REQUIRE = /^\s*const require = createRequire\(import\.meta\.url\);$/m;
const bundleLocalRequires: Plugin = {
  name: 'bundle-local-requires',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!LOCAL_REQUIRE.test(text)) return undefined;
      return { contents: text.replace(LOCAL_REQUIRE, ''), loader: 'ts' };
    });
  },
};

const outdir = process.argv[2] ?? 'dist/bundle';
const result = await build({
  // The decode worker sits beside the chunk that starts it (src/admission/decoder.ts looks for it next to
  // itself): `serve` from the bundle decodes large bodies too.
  entryPoints: { modelgate: 'src/cli/main.ts', 'chunks/decode-worker': 'src/admission/decode-worker.ts' },
  outdir,
  bundle: true,
  // Chunks loaded on demand: `verify` never reads the Kubernetes client's or the server's code.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  // CommonJS dependencies call require() for Node's own modules: give the ESM bundle one.
  banner: {
    js: "import { createRequire as __mgCreateRequire } from 'node:module'; const require = __mgCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [bundleLocalRequires],
  // tr46 (under the Kubernetes client) asks for the userland punycode as 'punycode/'; the builtin warns.
  alias: { punycode: 'punycode/' },
});
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
const total = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`${outdir}/modelgate.js and ${outputs.length - 1} chunks, ${mib(total)} in all`);
