#!/usr/bin/env bash
# Runs every test of the workspace against a real control plane.
# Builds kube-apiserver, etcd and helm first (minutes the first time, cached afterwards),
# so the build's progress is visible instead of happening silently inside a test.
# Runs every test binary even when one fails; extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tests/harness/build-control-plane.sh >/dev/null
cargo test --workspace --no-fail-fast "$@"
