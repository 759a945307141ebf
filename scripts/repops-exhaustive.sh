#!/usr/bin/env bash
# Checks crates/repops against the hardware on every one of the 2^32 inputs of each unary
# operation and function (the ignored tests of crates/repops/tests/against_hardware.rs). Too long
# for scripts/test.sh (about 25 minutes on 2 cores); run it after changing crates/repops or
# iollm_compute::repops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo test --release --locked -p iollm-repops --test against_hardware -- --ignored --test-threads 1
