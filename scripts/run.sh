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
    exec node scripts/vitest-summary.mjs "$@" ;;
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
