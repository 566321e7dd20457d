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
    exec tsc -p tsconfig.build.json ;;
  bench)
    exec node bench/run.ts "$@" ;;
  modelgate)
    exec node src/cli/main.ts "$@" ;;
  exec)
    exec "$@" ;;
  *)
    echo "unknown task: $task" >&2
    exit 2 ;;
esac
