#!/usr/bin/env bash
# Issue 15's worker figures, side by side in one run: the main job (scripts/devnet.sh) on a
# devnet of its own, then bare `iollm train` of the same tiny run on the one thread each devnet
# worker trains on, while the devnet idles. A benchmark: it prints figures and asserts none.
#   - the executor's worker's training throughput against bare `iollm train` (goal >= 0.95x);
#   - the job from post to finalized in seconds (devnet.sh's own figure), and in blocks from
#     post to result, then the challenge window;
#   - the verifier's work (fetching the published run, replaying its two segments, checking the
#     output package) as a fraction of the executor's training time.
#   bash scripts/bench-worker.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
state=$(mktemp -d /tmp/iollm-bench-worker.XXXX)
export IOLLM_STATE_DIR="$state"
iollm="${CARGO_TARGET_DIR:-$repo/target}/release/iollm"
trap '"$iollm" devnet down >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

echo "==> The main job (scripts/devnet.sh), on a devnet in $state"
if ! bash scripts/devnet.sh > "$state/main-job.txt" 2>&1; then
  tail -n 40 "$state/main-job.txt" >&2
  exit 1
fi
workers="$state/.devnet/workers"
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
field() { grep -o "$1=[0-9.e+-]*" | tail -n 1 | cut -d= -f2; }
job=$(sed -n 's/^job \([0-9]*\) posted.*/\1/p' "$state/main-job.txt")
post_to_final=$(sed -n 's/.*went from posted to finalized in \([0-9]*\) s.*/\1/p' "$state/main-job.txt")
shown=$("$iollm" job show "$job")
deadline=$(sed -n 's/^deadline: *block //p' <<<"$shown")
submitted=$(sed -n 's/^submitted: *block //p' <<<"$shown")
posted=$((deadline - 100)) # devnet.sh posts with --deadline +100

# devnet.sh polls `iollm job show` every second while its job trains (a process and a fresh
# connection each time): the throughput is measured on a second job, waited for by reading
# the workers' logs.
echo "==> A second tiny job, its training measured without a polling client beside it"
model=$(sed -n 's/^id: *//p' "$state/main-job.txt" | head -n 1)
IOLLM_SURI=//Alice "$iollm" job post --spec worker/examples/tiny.job.json --artifact "$model" \
  --units 50 --reward 100000000000 --deadline +100 --window 20 --verifiers 1 \
  --collateral 100000000000 --verifier-fee 1000000000 > /dev/null
for _ in $(seq 300); do
  [ "$(plain "$workers/dave/worker.log" | grep -c 'Spot-checked')" -ge 2 ] && break
  sleep 1
done
trained=$(plain "$workers/charlie/worker.log" | grep ' Trained' | tail -n 1)
checked=$(plain "$workers/dave/worker.log" | grep 'Spot-checked' | tail -n 1)
[ "$(plain "$workers/dave/worker.log" | grep -c 'Spot-checked')" -ge 2 ] ||
  { echo "the second job was not checked in 300 s" >&2; exit 1; }
worker_s=$(field seconds <<<"$trained")
worker_tps=$(field tokens_per_sec <<<"$trained")
verifier_s=$(field seconds <<<"$checked")

echo "==> Bare iollm train of the same run, on one thread"
"$iollm" train --config crates/compute/examples/tiny.toml --out "$state/bare" --threads 1 \
  > "$state/bare.txt" 2> "$state/bare.log"
bare_tps=$(sed -n 's/^tokens\/s: *//p' "$state/bare.txt")

echo
echo "training, 1 thread:    worker ${worker_tps} tokens/s (${worker_s} s), bare iollm train ${bare_tps} tokens/s"
awk -v w="$worker_tps" -v b="$bare_tps" 'BEGIN { printf "  worker / bare:       %.3f (goal >= 0.95)\n", w / b }'
echo "job $job, post to finalized: ${post_to_final} s; blocks ${posted} -> ${submitted} (result), then a window of 20 (a block every 3 s)"
echo "verifier's spot check: ${verifier_s} s (fetch, replay of the drawn and the last segment, output check)"
awk -v v="$verifier_s" -v e="$worker_s" 'BEGIN { printf "  verifier / executor: %.3f of the executor'"'"'s training time\n", v / e }'
