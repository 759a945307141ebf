#!/usr/bin/env bash
# Benchmarks of crates/compute (not tests): matmul GFLOP/s at 512³ and at the example model's
# shapes, training tokens/s of crates/compute/examples/tiny.toml, and the cost of replaying one
# checkpoint segment against the full run.
#
#   scripts/bench-compute.sh [peak|matmul|matmul512|train|train-medium|replay|elementwise]
#       (default: all but matmul512, train-medium, elementwise)
#   scripts/bench-compute.sh vs-torch   ours vs PyTorch on CPU: the train-medium config (4 layers,
#       width 256, 4 heads, context 128, batch 8) trained by iollm-compute and by
#       scripts/bench-torch.py, same thread count, same run. Installs torch into a bench venv
#       (IOLLM_BENCH_VENV, default ~/.cache/iollm-bench-venv) if it is not there: the PyPI
#       wheel pulls the nvidia-* wheels, about 5 GB, once.
#   IOLLM_THREADS=N   thread count (default: all cores)
#   IOLLM_BENCH_ROUNDS=R   vs-torch rounds, ours and torch alternating (default 3)
#
# Peak for comparison: cores × clock × 64 f32 FLOP/cycle (two 512-bit FMA units per core, 16
# lanes × 2 FLOP each, on this Xeon: family 6 model 207) from the nominal "cpu MHz" in
# /proc/cpuinfo, printed below; the `peak` bench measures the FMA throughput a core really gets
# (turbo included), which is the honest denominator.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
cores=$(nproc)
mhz=$(awk -F: '/cpu MHz/ {print $2; exit}' /proc/cpuinfo | tr -d ' ')
echo "cpu: $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo), $cores cores at ${mhz} MHz"
awk -v c="$cores" -v m="$mhz" 'BEGIN { printf "fp32 FMA peak at the nominal clock (64 FLOP/cycle/core): %.1f GFLOP/s\n", c * m * 64 / 1000 }'

if [ "${1:-}" != vs-torch ]; then
  exec cargo bench -p iollm-compute --bench compute -- "$@"
fi

threads=${IOLLM_THREADS:-$cores}
venv=${IOLLM_BENCH_VENV:-$HOME/.cache/iollm-bench-venv}
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  echo "installing torch 2.5.1 into $venv (about 5 GB with its nvidia-* wheels; once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --progress-bar off torch==2.5.1 numpy
fi
# This machine's speed drifts between runs (other tenants), so the two alternate for a few rounds
# and the ratio is reported per round, of the best runs, of the medians, and as the median of the
# per-round ratios (each round pairs two neighbouring runs, so drift cancels best there).
rounds=${IOLLM_BENCH_ROUNDS:-3}
tps() { sed -E 's/.*: ([0-9]+) tokens\/s.*/\1/'; }
ours=() theirs=() ratios=()
for r in $(seq "$rounds"); do
  a=$(IOLLM_THREADS=$threads cargo bench -q -p iollm-compute --bench compute -- train-medium | tee /dev/stderr | grep '^train 4x256' | tps)
  b=$("$venv/bin/python" scripts/bench-torch.py --threads "$threads" | tee /dev/stderr | tps)
  ours+=("$a") theirs+=("$b") ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')")
  awk -v a="$a" -v b="$b" -v r="$r" 'BEGIN { printf "round %d: %d vs %d tokens/s = %.2fx\n", r, a, b, a / b }'
done
nth() { printf '%s\n' "${@:2}" | sort -n | sed -n "$1p"; }
mid=$(((rounds + 1) / 2))
awk -v t="$threads" -v n="$rounds" -v a="$(nth "$rounds" "${ours[@]}")" -v b="$(nth "$rounds" "${theirs[@]}")" \
  -v am="$(nth "$mid" "${ours[@]}")" -v bm="$(nth "$mid" "${theirs[@]}")" 'BEGIN {
    printf "iollm-compute / torch tokens/s at %d threads over %d rounds: best %d vs %d = %.2fx, median %d vs %d = %.2fx\n",
      t, n, a, b, a / b, am, bm, am / bm }'
echo "median of the per-round ratios: $(nth "$mid" "${ratios[@]}" | awk '{ printf "%.2fx", $1 }')"
