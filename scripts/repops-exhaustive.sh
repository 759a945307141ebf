#!/usr/bin/env bash
# Checks crates/repops against the hardware on every one of the 2^32 inputs of each unary
# operation and function, and on hundreds of millions of random operand pairs and triples
# (IOLLM_SOFT_FLOAT_CASES, default 300 000 000) through the binary operations and the fused
# multiply-add (the ignored tests of crates/repops/tests/against_hardware.rs). Too long for
# scripts/test.sh (about 25 minutes on 2 cores, plus the random cases); run it after changing
# crates/repops or iollm_compute::repops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo test --release --locked -p iollm-repops --test against_hardware -- --ignored --test-threads 1
