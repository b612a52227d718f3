#!/usr/bin/env bash
# Time the README's demo command on a fresh clone with empty package caches: the install,
# then how long `controltower demo` takes to answer on its dashboard.
#   bash benchmarks/demo_start.sh [REVISION]      (default HEAD; needs curl and bc)
set -euo pipefail
rev=${1:-HEAD}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone" && cd "$work/clone" && git checkout -q "$rev"
mkdir "$work/uv-cache"
export PIP_NO_CACHE_DIR=1 UV_CACHE_DIR="$work/uv-cache" CONTROLTOWER_DATA_DIR="$work/data"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t0=$(date +%s.%N)
python3 -m venv .venv && .venv/bin/pip install -q uv && .venv/bin/uv pip install -q .
t1=$(date +%s.%N)
.venv/bin/controltower demo --port "$port" >"$work/demo.log" 2>&1 &
pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
  sleep 0.2
done
t2=$(date +%s.%N)
printf 'revision %s: install %.1f s; demo answering %.1f s after\n' \
  "$(git rev-parse --short HEAD)" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
