#!/usr/bin/env bash
# Routing-decision benchmark: a fresh instance of the standard did-router per decision,
# on the DID in bench/did-case.json. Record the last line in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${CARGO_TARGET_DIR:-target}
COUNT=${COUNT:-100000}

echo "== machine"
echo "cores:  $(nproc)"
echo "cpu:    $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "rustc:  $(rustc --version)"
echo "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== build (release)"
cargo build --release -p centralita

echo "== bench: $COUNT decisions"
exec "$TARGET/release/centralita" module bench \
    "$TARGET/guests/wasm32-wasip2/release/did_router.wasm" \
    --input bench/did-case.json --count "$COUNT"
