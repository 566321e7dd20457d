#!/usr/bin/env bash
# Entry point of every npm script: runs a task under Node 24 with the
# project's dependencies installed (see node-env.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-env.sh"
cd "$MODELGATE_ROOT"
task="${1:?usage: scripts/run.sh TASK [ARGS...]}"
shift
case "$task" in
  start)
    exec node src/cli/main.ts serve --policy-file examples/policies.yaml "$@" ;;
  test)
    tsc --noEmit -p tsconfig.json
    biome check .
    # The real peers (registries, oras, cosign, model_signing, control plane) are
    # built once per machine into the cache; doing it here keeps it out of test
    # timeouts on a fresh machine.
    bash scripts/tools/build-tools.sh >/dev/null
    exec node scripts/vitest-summary.mjs "$@" ;;
  tools)
    exec bash scripts/tools/build-tools.sh "$@" ;;
  test:unit)
    exec vitest run --project unit "$@" ;;
  check)
    tsc --noEmit -p tsconfig.json
    exec biome check . ;;
  build)
    rm -rf dist
    tsc -p tsconfig.build.json
    # The CLI as pipelines run it: one entry file and its chunks, no node_modules needed beside it.
    exec node scripts/bundle-cli.ts dist/bundle ;;
  bench)
    exec node bench/run.ts "$@" ;;
  modelgate)
    # `npm run` starts scripts in the package root; relative paths in the arguments (--policy-file
    # my-policy.yaml) mean the directory the user typed the command in, which npm passes as INIT_CWD.
    cd "${INIT_CWD:-$MODELGATE_ROOT}"
    exec node "$MODELGATE_ROOT/src/cli/main.ts" "$@" ;;
  exec)
    exec "$@" ;;
  *)
    echo "unknown task: $task" >&2
    exit 2 ;;
esac
