#!/usr/bin/env bash
# The CUDA backend's tests, which the normal suite ignores because they need a GPU: training on
# CUDA gives the CPU's state roots bit for bit, the CUDA matmul the CPU kernel's bits, and a
# Llama model's prefill on CUDA the CPU's logits. Run it
# on a machine with an NVIDIA GPU and driver (the device machine); anywhere else it fails, it never
# passes by skipping.
#
#   scripts/cuda-tests.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L; then
  echo "cuda-tests: no NVIDIA GPU or driver here (nvidia-smi); run this on a machine with one" >&2
  exit 1
fi
cargo test --locked -p iollm-compute --features cuda --test it -- --ignored --exact \
  cuda::cuda_training_matches_cpu_bit_for_bit cuda::cuda_matmul_matches_cpu_kernel \
  cuda::cuda_llama_logits_match_cpu_bit_for_bit
