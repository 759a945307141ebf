#!/usr/bin/env bash
# The main job on a local devnet. Installs what is needed (scripts/setup.sh, idempotent), builds
# the iollm CLI, then:
#   1. `iollm devnet up`: substrate-contracts-node + IPFS daemon on 127.0.0.1, contracts built
#      and deployed, deployments/devnet.json written;
#   2. `iollm train`: a tiny GPT on reproducible numerics, printing its checkpoint trace root;
#   3. `iollm model publish`: the trained model as an SMIP package on IPFS, registered on chain;
#   4. `iollm model pull`: fetched back by its id, every byte verified against its CID.
# The devnet keeps running afterwards; stop it with `target/release/iollm devnet down`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/setup.sh
echo "==> Building the iollm CLI (release; several minutes the first time)"
cargo build --release --locked -p iollm-cli
iollm="$repo/target/release/iollm"
export IOLLM_SURI=${IOLLM_SURI://Alice}

echo "==> Starting the devnet"
"$iollm" devnet up

work="$repo/.devnet/demo"
rm -rf "$work" && mkdir -p "$work"
echo "==> Training a tiny GPT (crates/compute/examples/tiny.toml)"
"$iollm" train --config crates/compute/examples/tiny.toml --out "$work/run" | tee "$work/train.txt"
root=$(sed -n 's/^trace root: *//p' "$work/train.txt")

echo "==> Publishing it as an SMIP package"
package="$work/package"
mkdir -p "$package"
cp "$work/run/config.json" "$work/run/model.safetensors" "$package/"
cat > "$package/smip.json" <<JSON
{
  "smip_version": 1,
  "name": "tiny-gpt-demo",
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
"$iollm" model publish "$package" | tee "$work/publish.txt"
id=$(sed -n 's/^id: *//p' "$work/publish.txt")
"$iollm" model show "$id"

echo "==> Pulling it back by id $id (verified against its CID)"
"$iollm" model pull "$id" "$work/pulled"
cmp "$package/model.safetensors" "$work/pulled/model.safetensors"
echo "The pulled weights are byte-for-byte the published ones."

cat <<MSG

The devnet keeps running. Try:
  $iollm devnet status
  $iollm cid --cid-version 1 $package
  IOLLM_SURI=//Bob $iollm model register --cid <CID>
  $iollm devnet down
MSG
