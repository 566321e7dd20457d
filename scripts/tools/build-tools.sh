#!/usr/bin/env bash
# Builds the real test peers ONCE into a cache folder outside the checkout, keyed
# by version, so that a fresh clone on the same machine (CI) reuses them:
#   ${MODELGATE_CACHE:-$HOME/.cache/modelgate}/tools/<name>-<version>/<binary>
# A second run finds every binary and does nothing. Builds run one after another
# (the machine has 2 cores). Prints `name=path` for each tool on stdout; logs go
# to stderr.
#
# Usage: scripts/tools/build-tools.sh [NAME...]   (no name: every tool)
set -euo pipefail

MODELGATE_CACHE="${MODELGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate}"
TOOLS_DIR="$MODELGATE_CACHE/tools"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Go tools installed as published: name | module path (go install target) | version | binary name.
# helm: the latest v3 (v4 is on the proxy too; v3 was chosen for stability).
GO_TOOLS=(
  "oras|oras.land/oras/cmd/oras|v1.3.6|oras"
  "cosign|github.com/sigstore/cosign/v3/cmd/cosign|v3.1.3|cosign"
  "helm|helm.sh/helm/v3/cmd/helm|v3.21.4|helm"
)

# Go tools built from a wrapper module in scripts/tools/<dir> (go.mod pins the versions; the cache key
# is the version plus a hash of the wrapper's files and its ldflags): name | dir | version | binary name
# | extra -ldflags (optional).
# go-containerregistry's own cmd/registry does not enable the referrers API, hence its wrapper.
# k8s.io/kubernetes and etcd's server replace their sibling modules with local folders, so neither can be
# `go install`ed: their wrappers require them with the siblings at published versions. kube-apiserver
# gets its version stamped as upstream's release build does: without it the server reports
# v0.0.0-master, which Helm's kubeVersion checks and clients would see.
KUBE_VERSION_LDFLAGS="-X k8s.io/component-base/version.gitVersion=v1.36.3"
KUBE_VERSION_LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36"
KUBE_VERSION_LDFLAGS+=" -X k8s.io/component-base/version.gitTreeState=clean"
WRAPPER_TOOLS=(
  "ggcr-registry|ggcr-registry|v0.22.1|ggcr-registry"
  "etcd|etcd|v3.6.16|etcd|-s -w"
  "kube-apiserver|kube-apiserver|v1.36.3|kube-apiserver|-s -w $KUBE_VERSION_LDFLAGS"
  # Decodes manifests with image-spec's types and encoding/json, as oras and containerd do: the Go side
  # of the OCI JSON differential test.
  "oci-decode|oci-decode|v1.1.1|oci-decode"
  # Reads tar (and tar+gzip) archives with Go's archive/tar, as oras and containerd do: the Go side of
  # the container differential test (standard library only).
  "tar-decode|tar-decode|go-stdlib|tar-decode"
  # Docker's model packager: model-distribution's builder (github.com/docker/model-runner/pkg/distribution),
  # the code behind `docker model package`, in a thin CLI (`docker-model package DIR --tag REF`): the
  # module's own cmd/mdltool cannot be `go install`ed (its go.mod has a replace directive). v1.0.10 is the
  # newest release that builds with Go 1.26.8 (later ones want go >= 1.26.10). KitOps `kit` and `modctl`
  # are not served by the Go module proxy (403 for every version).
  "docker-model|docker-model|v1.0.10|docker-model"
)

# Debian tools: name | package | binary path.
APT_TOOLS=(
  "docker-registry|docker-registry|/usr/bin/docker-registry"
  "htpasswd|apache2-utils|/usr/bin/htpasswd"
)

# Python tools installed from PyPI into a venv in the tool cache, keyed by a hash of a requirements file
# in scripts/tools: name | requirements file | console script.
PY_TOOLS=(
  "model_signing|requirements-model-signing.txt|model_signing"
)

log() { printf 'build-tools: %s\n' "$*" >&2; }

# Go may be installed without being on PATH (e.g. /usr/local/go).
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi

# One build at a time: test files and CI jobs on one machine share the cache.
mkdir -p "$TOOLS_DIR"
exec 9>"$TOOLS_DIR/.lock"
flock 9

wanted() {
  local name="$1"
  shift
  [ "$#" -eq 0 ] && return 0
  local w
  for w in "$@"; do [ "$w" = "$name" ] && return 0; done
  return 1
}

build_go_tool() {
  local name="$1" module="$2" version="$3" bin="$4"
  local dir="$TOOLS_DIR/$name-$version"
  if [ ! -x "$dir/$bin" ]; then
    command -v go >/dev/null 2>&1 || { log "go is required to build $name"; return 1; }
    log "building $name $version ($module) into $dir"
    local start=$SECONDS
    mkdir -p "$TOOLS_DIR"
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    # Module and build caches live in the tool cache so CI clones reuse them.
    GOBIN="$dir.partial" \
      GOFLAGS=-mod=mod \
      GOCACHE="$MODELGATE_CACHE/go/build" \
      GOMODCACHE="$MODELGATE_CACHE/go/mod" \
      GOTOOLCHAIN=local \
      CGO_ENABLED=0 \
      go install "$module@$version" >&2
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    log "built $name in $((SECONDS - start))s"
  fi
  printf '%s=%s\n' "$name" "$dir/$bin"
}

build_wrapper_tool() {
  local name="$1" subdir="$2" version="$3" bin="$4" ldflags="${5:-}"
  local src="$SCRIPT_DIR/$subdir"
  local hash
  # ldflags join the hash only when set, so rows without them keep their cache key.
  hash="$({
    cat "$src"/go.mod "$src"/go.sum "$src"/*.go
    [ -z "$ldflags" ] || printf 'ldflags=%s\n' "$ldflags"
  } | sha256sum | cut -c1-8)"
  local dir="$TOOLS_DIR/$name-$version-$hash"
  if [ ! -x "$dir/$bin" ]; then
    command -v go >/dev/null 2>&1 || { log "go is required to build $name"; return 1; }
    log "building $name $version (wrapper $subdir) into $dir"
    local start=$SECONDS
    local work
    work="$(mktemp -d)"
    # Built from a copy: the build must not write go.mod/go.sum in the checkout.
    cp "$src"/go.mod "$src"/go.sum "$src"/*.go "$work"/
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    (
      cd "$work"
      GOFLAGS=-mod=mod \
        GOCACHE="$MODELGATE_CACHE/go/build" \
        GOMODCACHE="$MODELGATE_CACHE/go/mod" \
        GOTOOLCHAIN=local \
        CGO_ENABLED=0 \
        go build -trimpath -ldflags="$ldflags" -o "$dir.partial/$bin" . >&2
    )
    rm -rf "$work" "$dir"
    mv "$dir.partial" "$dir"
    log "built $name in $((SECONDS - start))s"
  fi
  printf '%s=%s\n' "$name" "$dir/$bin"
}

install_apt_tool() {
  local name="$1" package="$2" path="$3"
  if [ ! -x "$path" ]; then
    log "installing Debian package $package"
    if [ "$(id -u)" -ne 0 ]; then
      log "need root to apt-get install $package"
      return 1
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >&2
    # The package starts a system service; the tests start their own registries.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$package" >/dev/null 2>&1 || true; fi
  fi
  printf '%s=%s\n' "$name" "$path"
}

install_py_tool() {
  local name="$1" requirements="$2" bin="$3"
  local req="$SCRIPT_DIR/$requirements"
  local hash
  hash="$(sha256sum "$req" | cut -c1-8)"
  local dir="$TOOLS_DIR/$name-py-$hash"
  if [ ! -x "$dir/bin/$bin" ]; then
    command -v python3 >/dev/null 2>&1 || { log "python3 is required to install $name"; return 1; }
    log "installing $name ($requirements) into $dir"
    local start=$SECONDS
    mkdir -p "$TOOLS_DIR"
    rm -rf "$dir.partial"
    # The venv is made in place (its scripts record their path), then marked complete by its binary.
    rm -rf "$dir"
    python3 -m venv "$dir" >&2
    PIP_CACHE_DIR="$MODELGATE_CACHE/pip" "$dir/bin/python" -m pip install -q --disable-pip-version-check \
      -r "$req" >&2 || { rm -rf "$dir"; return 1; }
    log "installed $name in $((SECONDS - start))s"
  fi
  printf '%s=%s\n' "$name" "$dir/bin/$bin"
}

for row in "${GO_TOOLS[@]}"; do
  IFS='|' read -r name module version bin <<<"$row"
  if wanted "$name" "$@"; then build_go_tool "$name" "$module" "$version" "$bin"; fi
done
for row in "${WRAPPER_TOOLS[@]}"; do
  IFS='|' read -r name subdir version bin ldflags <<<"$row"
  if wanted "$name" "$@"; then build_wrapper_tool "$name" "$subdir" "$version" "$bin" "$ldflags"; fi
done
for row in "${APT_TOOLS[@]}"; do
  IFS='|' read -r name package path <<<"$row"
  if wanted "$name" "$@"; then install_apt_tool "$name" "$package" "$path"; fi
done
for row in "${PY_TOOLS[@]}"; do
  IFS='|' read -r name requirements bin <<<"$row"
  if wanted "$name" "$@"; then install_py_tool "$name" "$requirements" "$bin"; fi
done
