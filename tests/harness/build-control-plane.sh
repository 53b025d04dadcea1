#!/usr/bin/env bash
# Builds kube-apiserver, etcd and helm from their Go module sources, once per pinned version.
# The binaries are cached in ${MESH_HARNESS_CACHE:-~/.cache/mesh-harness}/<versions>/bin/;
# each one has its own cache check, so a second run builds nothing.
# Prints the cache directory on its last line of stdout.
set -euo pipefail

K8S_VERSION=v1.35.4   # k8s.io/kubernetes; its staging modules are v0.35.4
ETCD_VERSION=v3.6.5   # the etcd that k8s.io/kubernetes v1.35.4 itself requires
HELM_VERSION=v3.22.0  # helm.sh/helm/v3, renders the chart for the RBAC tests
STAGING_VERSION=v0${K8S_VERSION#v1}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${MESH_HARNESS_CACHE:-$HOME/.cache/mesh-harness}
out="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
bin="$out/bin"

control_plane_cached() { [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" ]]; }
# helm stamps its version into the binary, so the check also catches a version bump.
helm_cached() { [[ -x "$bin/helm" && "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; }

# `--check`: build nothing; print the cache directory if kube-apiserver and etcd are built
# (mesh-dev-cluster needs no helm), else fail with exit code 3.
if [[ "${1:-}" == "--check" ]]; then
  if control_plane_cached; then
    echo "$out"
    exit 0
  fi
  echo "kube-apiserver and etcd are not built in $bin" >&2
  exit 3
fi

if control_plane_cached && helm_cached; then
  echo "control plane and helm cached in $out" >&2
  echo "$out"
  exit 0
fi

if ! command -v go >/dev/null; then
  echo "error: building the test control plane needs Go 1.24+ on PATH (https://go.dev/dl/)" >&2
  exit 1
fi

mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0

build_etcd() {
  mkdir -p "$work/etcd"
  cp "$here/go/etcd.go" "$work/etcd/main.go"
  cd "$work/etcd"
  cat > go.mod <<MOD
module mesh.test/harness/etcd

go 1.24
MOD
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go mod tidy >&2
  go build -trimpath -ldflags=-s -o "$bin/etcd.tmp" . >&2
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_apiserver() {
  mkdir -p "$work/apiserver"
  cp "$here/go/apiserver.go" "$work/apiserver/main.go"
  cd "$work/apiserver"
  {
    echo "module mesh.test/harness/apiserver"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
    # local paths in its own go.mod, which a dependent module ignores: pin them here.
    go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
    gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk -v v="$STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  go mod tidy >&2
  go build -trimpath -ldflags="-s -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${STAGING_VERSION#v0.} -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" -o "$bin/kube-apiserver.tmp" . >&2
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
}

build_helm() {
  # `go install pkg@version` builds the module exactly as released (its own go.mod).
  GOFLAGS= GOBIN="$work/helm-bin" go install -trimpath \
    -ldflags="-s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mv "$work/helm-bin/helm" "$bin/helm"
}

if ! control_plane_cached; then
  start=$(date +%s)
  (build_etcd)
  (build_apiserver)
  echo "built control plane in $(( $(date +%s) - start ))s into $out" >&2
fi
if ! helm_cached; then
  start=$(date +%s)
  (build_helm)
  echo "built helm $HELM_VERSION in $(( $(date +%s) - start ))s into $bin" >&2
fi
echo "$out"
