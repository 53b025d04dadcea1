#!/usr/bin/env bash
# Runs every test of the workspace against a real control plane.
# Builds kube-apiserver, etcd and helm first (minutes the first time, cached afterwards),
# so the build's progress is visible instead of happening silently inside a test.
# Runs every test binary even when one fails; extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tests/harness/build-control-plane.sh >/dev/null

# Build every test binary, and with them the `mesh` and `kubectl-mesh` binaries the
# end-to-end tests run as separate processes. Pointing the tests at them (MESH_BIN,
# KUBECTL_MESH_BIN) spares them a nested `cargo build`, whose different feature set would
# compile the dependencies a second time.
cargo test --workspace --no-run "$@"
profile=debug
for arg in "$@"; do [[ "$arg" == --release ]] && profile=release; done
export MESH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile/mesh"
export KUBECTL_MESH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile/kubectl-mesh"

cargo test --workspace --no-fail-fast "$@"
