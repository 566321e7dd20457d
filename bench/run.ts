// `npm run bench [-- NAME [ARGS...]]`: one benchmark of this folder by name; `validate` by default.
//   validate      POST /validate of modelgate against a bare HTTPS server (validate-bench.ts)
//   format-bytes  bytes read to classify large weight files (format-bytes.ts)
//   signature     signature verification (signature-bench.ts)
const BENCHES: Record<string, string> = {
  validate: './validate-bench.ts',
  'format-bytes': './format-bytes.ts',
  signature: './signature-bench.ts',
};
const name = process.argv[2] !== undefined && !process.argv[2].startsWith('-') ? process.argv[2] : 'validate';
const module = BENCHES[name];
if (module === undefined) {
  console.error(`unknown benchmark ${JSON.stringify(name)}; one of: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
// Each benchmark reads its own flags from process.argv.
if (name === process.argv[2]) process.argv.splice(2, 1);
await import(module);
