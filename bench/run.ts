// `npm run bench [-- NAME [ARGS...]]`: one benchmark of this folder by name; `validate` by default.
//   validate      POST /validate of modelgate against a bare HTTPS server (validate-bench.ts)
//   format-bytes  bytes read to classify large weight files (format-bytes.ts)
//   signature     signature verification (signature-bench.ts)
//   warm          warm-cache /validate for a Pod naming 3 signed models vs a bare server (warm-validate.ts)
//   policies      decision time, warm cache, with 1,000 ModelPolicies and 10 models per Pod (policy-scale.ts)
//   burst         1,000 Pods naming the same 20 models on a cold webhook: requests, coalescing, RSS (burst.ts)
//   registry-client  one reference, 1 MiB vs 2 GiB model: round trips, bytes read, wall time (registry-client.ts)
//   cold          cold verification of one signed model with an ML-BOM: round trips, wall time (cold-verify.ts)
//   cli           whole-process modelgate verify vs cosign verify, loopback and +40 ms per request (cli.ts)
//   event-loop    worst event-loop delay under hostile inputs (globs, deep/large reviews, ML-BOM) (event-loop.ts)
const BENCHES: Record<string, string> = {
  validate: './validate-bench.ts',
  'format-bytes': './format-bytes.ts',
  signature: './signature-bench.ts',
  cold: './cold-verify.ts',
  warm: './warm-validate.ts',
  policies: './policy-scale.ts',
  burst: './burst.ts',
  'registry-client': './registry-client.ts',
  'event-loop': './event-loop.ts',
  cli: './cli.ts',
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
