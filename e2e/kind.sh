#!/usr/bin/env bash
# Runs the end-to-end suite against a kind cluster instead of the loopback control plane, for people who
# have Docker and kind. The tests are the same: e2e/support/cluster.ts uses KUBECONFIG when it is set.
#
# UNTESTED: written where no Docker engine runs; the loopback control plane is what CI and `npm test` use.
#
# Usage: e2e/kind.sh [VITEST ARGS...]
#   KIND_CLUSTER_NAME  cluster name (default modelgate-e2e); an existing cluster of that name is reused
#   KIND_NODE_IMAGE    node image (default kindest/node:v1.36.3); 1.33 or later: image volumes are beta
#                      (off by default) in 1.33-1.34, on by default in 1.35, GA in 1.36
#   KEEP_CLUSTER=1     do not delete a cluster this script created
#   MODELGATE_E2E_WEBHOOK_HOST  how the API server (in a container) reaches webhooks the tests serve on this
#                      machine; default the gateway of the `kind` Docker network (Linux), or
#                      host.docker.internal (Docker Desktop)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLUSTER="${KIND_CLUSTER_NAME:-modelgate-e2e}"
NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.36.3}"

for cmd in docker kind; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "kind.sh: $cmd is required" >&2; exit 2; }
done

created=0
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  # The ImageVolume gate is named so that 1.33-1.35 node images serve image volumes too; 1.36 locks it on.
  kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --wait 120s --config - <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
featureGates:
  ImageVolume: true
nodes:
  - role: control-plane
EOF
  created=1
fi

work="$(mktemp -d)"
cleanup() {
  rm -rf "$work"
  if [ "$created" = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$CLUSTER"; fi
}
trap cleanup EXIT

kind get kubeconfig --name "$CLUSTER" >"$work/kubeconfig"

if [ -z "${MODELGATE_E2E_WEBHOOK_HOST:-}" ]; then
  gateway="$(docker network inspect kind \
    -f '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' 2>/dev/null |
    tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | head -n1 || true)"
  case "$(uname -s)" in
    Linux) MODELGATE_E2E_WEBHOOK_HOST="${gateway:-172.18.0.1}" ;;
    *) MODELGATE_E2E_WEBHOOK_HOST=host.docker.internal ;;
  esac
fi
echo "kind.sh: cluster $CLUSTER, webhooks reached at $MODELGATE_E2E_WEBHOOK_HOST" >&2

# Build the peers first so that their build time does not count against test timeouts.
bash scripts/tools/build-tools.sh >/dev/null
KUBECONFIG="$work/kubeconfig" MODELGATE_E2E_WEBHOOK_HOST="$MODELGATE_E2E_WEBHOOK_HOST" \
  bash scripts/run.sh exec vitest run --project e2e "$@"
