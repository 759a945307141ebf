#!/usr/bin/env bash
# Benchmarks of crates/compute (not tests): matmul GFLOP/s at 512³ and at the example model's
# shapes, training tokens/s of crates/compute/examples/tiny.toml, and the cost of replaying one
# checkpoint segment against the full run.
#
#   scripts/bench-compute.sh [matmul|matmul512|train|replay]   (default: all)
#   IOLLM_THREADS=N   thread count (default: all cores)
#
# Peak for comparison: cores × clock × 32 f32 FLOP/cycle on Zen 4 (one 512-bit FMA per cycle,
# = two 256-bit FMA pipes) — see the cores and "cpu MHz" in /proc/cpuinfo, printed below.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
cores=$(nproc)
mhz=$(awk -F: '/cpu MHz/ {print $2; exit}' /proc/cpuinfo | tr -d ' ')
echo "cpu: $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo), $cores cores at ${mhz} MHz"
awk -v c="$cores" -v m="$mhz" 'BEGIN { printf "fp32 FMA peak (Zen 4, 32 FLOP/cycle/core): %.1f GFLOP/s\n", c * m * 32 / 1000 }'
cargo bench -p iollm-compute --bench compute -- "$@"
