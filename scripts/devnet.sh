#!/usr/bin/env bash
# The main job on a local devnet: installs what is needed (scripts/setup.sh, idempotent), builds
# the iollm CLI, starts a substrate-contracts-node on 127.0.0.1 with every contract built and
# deployed (`iollm devnet up`), then registers a demo model as //Alice and reads it back.
# Stop it with `target/release/iollm devnet down`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/setup.sh
echo "==> Building the iollm CLI (release; a few minutes the first time)"
cargo build --release --locked -p iollm-cli
iollm="$repo/target/release/iollm"

echo "==> Starting the devnet"
"$iollm" devnet up

echo "==> Registering a demo model as //Alice"
export IOLLM_SURI=${IOLLM_SURI://Alice}
id=$("$iollm" model register --kind model --cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o)
"$iollm" model show "$id"

cat <<MSG

The devnet keeps running. Try:
  $iollm devnet status
  IOLLM_SURI=//Bob $iollm model register --cid <CID>
  $iollm devnet down
MSG
