#!/usr/bin/env bash
# SmolLM2-135M-Instruct (Q4_1 GGUF) on our Llama path against llama.cpp, side by side in the same
# run, rounds alternating: prefill tokens/s of a 512-token prompt (its time is the time to first
# token) and decode tokens/s of the 64 greedy tokens after it, at 1 and 2 threads (or
# IOLLM_THREADS). llama.cpp is llama-cpp-python 0.3.36 built from source for THIS CPU
# (AVX-512 with VNNI, AVX2, FMA; not AMX) in ${IOLLM_HOME}/venv-llama-bench, once (about
# 6 minutes on 2 cores). A benchmark, not a test: it prints figures, asserts nothing.
#
#   scripts/bench-llama.sh [ROUNDS]      (default 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
IOLLM_HOME="${IOLLM_HOME:-$HOME/.local/share/iollm}"
venv="$IOLLM_HOME/venv-llama-bench"
model="$IOLLM_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$model" ] || bash scripts/setup.sh
if ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  # Not GGML_NATIVE: with it ggml also turns on AMX, whose kernels crash in this VM (segfault
  # in the first decode). The instruction sets named instead are this CPU's others: AVX-512
  # (F, VBMI, VNNI, BF16), AVX2, FMA, F16C.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF" \
    "$venv/bin/pip" install \
    --no-cache-dir --disable-pip-version-check --no-binary llama-cpp-python \
    llama-cpp-python==0.3.36 numpy==2.2.6 diskcache==5.6.3 jinja2==3.1.6 markupsafe==3.0.3 \
    typing-extensions==4.15.0
fi
cargo bench --locked -p iollm-compute --bench llama --no-run
ours=$(ls -t target/release/deps/llama-* | grep -v '\.d$' | head -1)
for threads in ${IOLLM_THREADS:-1 2}; do
  for _ in $(seq "$rounds"); do
    IOLLM_THREADS=$threads "$ours" 1
    "$venv/bin/python" scripts/bench-llama.py "$model" "$threads" 1
  done
done
