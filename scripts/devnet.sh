#!/usr/bin/env bash
# The main job on a local devnet. Installs what is needed (scripts/setup.sh, idempotent), builds
# the iollm CLI, then:
#   1. `iollm devnet up --workers 2`: substrate-contracts-node + IPFS daemon on 127.0.0.1,
#      contracts built and deployed, deployments/devnet.json written, a block clock, and two
#      worker daemons (`iollm worker run`): Charlie's executes jobs, Dave's spot-checks them;
#   2. `iollm train`: a tiny GPT on reproducible numerics, printing its checkpoint trace root;
#   3. `iollm model publish`: the trained model as an SMIP package on IPFS, registered on chain;
#   4. `iollm model pull`: fetched back by its id, every byte verified against its CID;
#   5. the compute market, run by the workers: Alice posts a job fine-tuning the model (its
#      package the job's base model) with an escrowed reward; Charlie's worker claims it, fetches
#      the base, trains from it, publishes the output package and submits its CID and trace;
#      Dave's worker (signed up before the result existed) replays the segment his secret draws
#      and the last one, and attests; Charlie's worker finalizes and withdraws its pay. The same
#      fine-tune run here reaches the same trace root. Alice registers the verified output as a
#      fine-tune of the model, with the job as its provenance, Eve pays revenue, and everyone
#      withdraws what the contracts owe them. No step of the job is done by hand.
# The devnet keeps running afterwards; stop it with `target/release/iollm devnet down`.
# `IOLLM_STATE_DIR` moves the devnet's state (and this demo's files) out of the checkout;
# `CARGO_TARGET_DIR` is honoured for the CLI build.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/setup.sh
echo "==> Building the iollm CLI (release; several minutes the first time)"
cargo build --release --locked -p iollm-cli
iollm="${CARGO_TARGET_DIR:-$repo/target}/release/iollm"
export IOLLM_SURI=${IOLLM_SURI:-//Alice}

echo "==> Starting the devnet with two workers: Charlie's executes jobs, Dave's spot-checks them"
"$iollm" devnet up --workers 2

work="${IOLLM_STATE_DIR:-$repo}/.devnet/demo"
rm -rf "$work" && mkdir -p "$work"
echo "==> Training a tiny GPT (crates/compute/examples/tiny.toml)"
"$iollm" train --config crates/compute/examples/tiny.toml --out "$work/run" | tee "$work/train.txt"
root=$(sed -n 's/^trace root: *//p' "$work/train.txt")

# An SMIP manifest template (`model publish` fills in `files`): smip_json NAME DIR
smip_json() {
  cat > "$2/smip.json" <<JSON
{
  "smip_version": 1,
  "name": "$1",
  "version": "1.0.0",
  "description": "A tiny byte-level GPT trained by scripts/devnet.sh on reproducible numerics.",
  "license": "Apache-2.0",
  "format": { "weights": "safetensors", "architecture": "iollm-gpt" },
  "files": [],
  "parents": [],
  "provenance": { "trace_root": "$root" },
  "runtime": { "name": "iollm", "version": ">=0.1", "memory_bytes": 16777216, "accelerator": "cpu" },
  "interfaces": ["completion"],
  "evaluations": []
}
JSON
}

echo "==> Publishing it as an SMIP package"
package="$work/package"
mkdir -p "$package"
cp "$work/run/config.json" "$work/run/model.safetensors" "$package/"
smip_json tiny-gpt-demo "$package"
"$iollm" model publish "$package" | tee "$work/publish.txt"
id=$(sed -n 's/^id: *//p' "$work/publish.txt")
base=$(sed -n 's/^package CID: *//p' "$work/publish.txt")
"$iollm" model show "$id"

echo "==> Pulling it back by id $id (verified against its CID)"
"$iollm" model pull "$id" "$work/pulled"
cmp "$package/model.safetensors" "$work/pulled/model.safetensors"
echo "The pulled weights are byte-for-byte the published ones."

echo "==> The compute market: a job fine-tuning model $id, done by the workers"
# The job's spec (the tiny run as iollm-job-v1 JSON, starting from the model's package) is
# checked, added to IPFS and posted with the game spec it commits (every train job does: here
# with its base model's package, which h_0's weights are read from), so its result can be
# challenged by the game. It is posted for the model it fine-tunes.
sed "s/\"base_model\": null/\"base_model\": \"$base\"/" worker/examples/tiny.job.json > "$work/finetune.job.json"
posted_at=$(date +%s)
job=$("$iollm" job post --spec "$work/finetune.job.json" --artifact "$id" --units 50 \
  --reward 100000000000 --deadline +100 --window 20 --verifiers 1 --collateral 100000000000 \
  --verifier-fee 1000000000)
echo "job $job posted (reward 100000000000 escrowed). From here on the workers act:"
echo "  Charlie's claims, fetches the base, trains from it, publishes and submits; Dave's signs"
echo "  up before the result, replays the segment his secret draws and the last one from the"
echo "  checkpoints Charlie's worker published, and attests; Charlie's finalizes after the window."
"$iollm" split set "$id" --designer-bps 7000 --compute-bps 2000 --treasury-bps 1000
echo "==> Meanwhile, the same fine-tune here (tiny.toml from the pulled weights)"
{ echo "base = \"$work/pulled/model.safetensors\""; cat crates/compute/examples/tiny.toml; } > "$work/finetune.toml"
"$iollm" train --config "$work/finetune.toml" --out "$work/finetune" | tee "$work/finetune.txt"
root=$(sed -n 's/^trace root: *//p' "$work/finetune.txt")
workers="${IOLLM_STATE_DIR:-$repo}/.devnet/workers"
state=""
for _ in $(seq 600); do
  state=$("$iollm" job show "$job" | sed -n 's/^state: *//p')
  [ "$state" = Finalized ] && break
  sleep 1
done
if [ "$state" != Finalized ]; then
  echo "job $job is $state after 10 minutes; the workers' logs:" >&2
  tail -n 20 "$workers"/*/worker.log >&2
  exit 1
fi
echo "job $job went from posted to finalized in $(( $(date +%s) - posted_at )) s (a block every 3 s, a window of 20 blocks)"
"$iollm" job show "$job" | grep -E 'state|base model|executor|output CID|trace root|spot checks|verified'
out_cid=$("$iollm" job show "$job" | sed -n 's/^output CID: *//p')
job_root=$("$iollm" job show "$job" | sed -n 's/^trace root: *//p')
[ "$job_root" = "$root" ] || { echo "trace roots differ: $job_root vs $root" >&2; exit 1; }
echo "Charlie's worker reached the trace root of the fine-tune above, bit for bit."
# Charlie's worker withdraws his pay once it has finalized the job.
for _ in $(seq 60); do
  "$iollm" worker status --config "$workers/charlie/worker.toml" > "$work/charlie-status.txt"
  grep -qE "^withdrawn from the market: [1-9]" "$work/charlie-status.txt" && break
  sleep 1
done
echo "What Charlie's worker recorded (its state database):"
cat "$work/charlie-status.txt"
grep -qE "^withdrawn from the market: [1-9]" "$work/charlie-status.txt" \
  || { echo "Charlie's worker did not withdraw his pay within 60 s" >&2; exit 1; }
new_id=$("$iollm" model register --cid "$out_cid" --from-job "$job" --parent "$id")
echo "The verified output is artifact $new_id, with job $job as its provenance:"
"$iollm" model show "$new_id"
# Kept only because the smip.json Charlie's worker wrote states the lineage the chain records.
"$iollm" model pull "$new_id" "$work/output-pulled"

echo "==> Revenue for model $id: 70 % Alice (designer), 20 % compute share holders, 10 % treasury"
IOLLM_SURI=//Eve "$iollm" revenue pay "$id" --amount 1000000000
echo "Withdrawn (each line: what the contract paid out; Charlie's worker withdrew his pay):"
printf '  Charlie, splitter (joint-mining revenue share): '; IOLLM_SURI=//Charlie "$iollm" withdraw --artifact "$id"
printf '  Dave, market (verifier fee):                    '; IOLLM_SURI=//Dave "$iollm" withdraw
printf '  Alice, market (escrow not paid out):            '; "$iollm" withdraw
printf '  Alice, splitter (designer share + treasury):    '; "$iollm" withdraw --splitter
echo "Storage deposits back to whoever paid them (settlement frees nothing):"
"$iollm" job release "$job"                     # Alice's job terms (a verified job keeps its spec)
# Dave's worker releases his spot-check sign-up by itself once the job has ended.
for _ in $(seq 60); do
  "$iollm" worker status --config "$workers/dave/worker.toml" > "$work/dave-status.txt"
  grep -qE "^job $job .*release@" "$work/dave-status.txt" && break
  sleep 1
done
echo "What Dave's worker recorded (its sign-up released by the worker itself):"
grep -E "^job $job .*release@" "$work/dave-status.txt" \
  || { echo "Dave's worker did not release his sign-up within 60 s" >&2; exit 1; }
for who in Alice Charlie Dave; do
  echo "-- $who"
  IOLLM_SURI=//$who "$iollm" balance --artifact "$id"
done

cat <<MSG

The devnet keeps running. Try:
  $iollm devnet status
  $iollm cid --cid-version 1 --chunker size-32768 $package
  IOLLM_SURI=//Bob $iollm model register --cid <CID>
  $iollm devnet down
MSG
