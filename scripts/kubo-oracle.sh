#!/usr/bin/env bash
# Runs the official kubo-rpc-client (npm) against the embedded IPFS daemon as an oracle of its
# RPC shapes (crates/content/tests/it/oracle.rs). Fails when node/npm are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "kubo-oracle: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "kubo-oracle: npm is not installed" >&2; exit 1; }
(cd crates/content/tests/kubo-rpc-client && npm ci --no-audit --no-fund)
cargo test -p iollm-content --locked --test it oracle -- --ignored --exact oracle::kubo_rpc_client_agrees_with_the_daemon
