#!/usr/bin/env bash
# Shows that crates/repops (the soft-float the referee contract links) compiles to Wasm with no
# floating-point instruction or type: pallet-contracts rejects both. Builds every F32 operation
# and the step program's chain step and the referee's replay of one (every op kind's definition
# with its Merkle checks: what the contract recomputes)
# into one module (crates/repops/wasm-check) with the contracts' pinned Rust, as a contract is
# built, and greps its text form (wabt's wasm2wat, installed by scripts/setup.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' "$repo/contracts/rust-toolchain.toml")
target_dir="$repo/target/repops-wasm-check"
cargo "+$toolchain" build --release --locked --quiet --target wasm32-unknown-unknown \
  --manifest-path "$repo/crates/repops/wasm-check/Cargo.toml" --target-dir "$target_dir"
wasm="$target_dir/wasm32-unknown-unknown/release/iollm_repops_wasm_check.wasm"
wat=$(wasm2wat "$wasm")
exports=$(grep -c '(export "' <<<"$wat")
if [ "$exports" -lt 20 ]; then
  echo "repops-no-float: expected every operation exported, found $exports exports in $wasm" >&2
  exit 1
fi
if floats=$(grep -nE '\bf(32|64)(\.|\b)' <<<"$wat"); then
  echo "repops-no-float: $wasm has floating-point instructions or types:" >&2
  head -20 <<<"$floats" >&2
  exit 1
fi
echo "repops-no-float: $exports operations, $(stat -c %s "$wasm") bytes of Wasm, no float instruction or type"
