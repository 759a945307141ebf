#!/usr/bin/env bash
# Runs every check and test, installing what they need first (scripts/setup.sh, idempotent):
# format, clippy with warnings denied, the contracts' #[ink::test]s and the ink! linter (zero
# findings), that the soft-float crate has no float instruction in Wasm, the workspace's unit,
# property and end-to-end tests (these start their own substrate-contracts-node on 127.0.0.1),
# then the kubo-rpc-client oracle (npm, Node.js) against the embedded IPFS daemon and the openai
# Python client against the model server.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
started=$(date +%s)
# One build from scratch: incremental caches would only double the disk it takes (~14 GiB).
export CARGO_INCREMENTAL=0
phase() { printf '\n==> %s (%ss so far)\n' "$*" "$(( $(date +%s) - started ))"; }

phase "Setup"
bash scripts/setup.sh

phase "Format"
cargo fmt --all --check
(cd contracts && cargo fmt --all --check)

phase "Clippy (workspace, warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

phase "Clippy (contracts, Rust pinned in contracts/rust-toolchain.toml)"
(cd contracts && cargo clippy --all-targets --locked -- -D warnings)

phase "Contract tests (#[ink::test])"
(cd contracts && cargo test --locked)

phase "ink! linter over the contracts (zero findings)"
bash scripts/ink-lint.sh

phase "Soft-float (crates/repops) compiles to Wasm without float instructions"
bash scripts/repops-no-float.sh

phase "Workspace tests (unit, property, end-to-end against a real node)"
cargo test --workspace --locked

phase "Oracle: the official kubo-rpc-client (npm) against the embedded IPFS daemon"
bash scripts/kubo-oracle.sh

phase "Oracle: the official openai Python client against the model server (real SmolLM2)"
bash scripts/openai-oracle.sh

phase "All checks passed in $(( $(date +%s) - started ))s"
