#!/usr/bin/env bash
# Runs the property-based fuzzer over a million inputs per decoder (optimized build).
# Usage: scripts/fuzz.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-1000000}"
start=$(date +%s)
SWARM_FUZZ_ITERATIONS="$iterations" swift test -c release --filter FuzzTests
echo "fuzzed $iterations inputs per decoder in $(( $(date +%s) - start )) s"
