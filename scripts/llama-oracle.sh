#!/usr/bin/env bash
# Regenerates crates/compute/tests/fixtures/smollm2-llamacpp.json: llama.cpp itself (through the
# PyPI package llama-cpp-python, BUILT FROM SOURCE) as an external oracle of our Llama inference
# on SmolLM2-135M-Instruct Q4_1: tokenizations, ChatML chat-template renderings, greedy
# continuations and the teacher-forced top-5 logits of every position (scripts/llama-oracle.py).
# Takes minutes the first time: pip compiles llama.cpp with CMake. Later runs reuse the venv
# at ${IOLLM_HOME:-~/.local/share/iollm}/venv-llama-oracle (rebuilt only when the pins or the
# build flags below change). Needs python3 (>= 3.10), a C/C++ compiler and PyPI; pip fetches
# cmake and ninja as wheels for the build.
set -euo pipefail
cd "$(dirname "$0")/.."

IOLLM_HOME="${IOLLM_HOME:-$HOME/.local/share/iollm}"
VENV="$IOLLM_HOME/venv-llama-oracle"
MODEL="${IOLLM_LLAMA_ORACLE_MODEL:-$IOLLM_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
OUT="crates/compute/tests/fixtures/smollm2-llamacpp.json"

# Pins. llama-cpp-python 0.3.36 vendors llama.cpp ggml-org/llama.cpp@0c1e57098 (its CHANGELOG);
# the sdist carries no git metadata, so the commit is passed to the generator by hand.
LLAMA_CPP_PYTHON_VERSION=0.3.36
LLAMA_CPP_COMMIT=0c1e57098
PINS=(
  "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  "jinja2==3.1.6" "markupsafe==3.0.3"
  "numpy==2.2.6" "diskcache==5.6.3" "typing-extensions==4.15.0"
)

# Build flags. GGML_NATIVE=OFF alone is not enough on x86: ggml then turns on a fixed
# "portable" set (SSE4.2, AVX, AVX2, FMA, F16C, BMI2), so those are switched off one by one too.
# What is left is ggml's plain scalar C code compiled for the x86-64 baseline (SSE2, no FMA
# contraction possible), so the numbers do not depend on this CPU's instruction set: the same
# fixture comes out of any x86-64 machine (and it is the slowest path, which a 135M model
# does not mind). The scalar path still quantizes activations to Q8_1/Q8_0 for the Q4_1/Q8_0
# mat-muls, exactly as the SIMD paths do, so only float summation order differs from a SIMD
# build. GGML_LLAMAFILE=OFF: no tinyBLAS sgemm path (it needs AVX anyway).
# GGML_OPENMP=OFF: ggml's own thread pool, no libgomp; the generator runs n_threads=1 anyway.
# LLAVA_BUILD=OFF: the multimodal (mtmd) library is not needed and only costs build time.
CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF"
CMAKE_FLAGS+=" -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF -DGGML_LLAMAFILE=OFF -DLLAVA_BUILD=OFF"

[ -f "$MODEL" ] || { echo "llama-oracle: model not found: $MODEL" >&2; exit 1; }
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "llama-oracle: $PYTHON is not installed" >&2; exit 1; }

STAMP="$VENV/.iollm-llama-oracle-stamp"
WANT="$(printf '%s\n' "${PINS[@]}" "$CMAKE_FLAGS")"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "llama-oracle: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION from source into $VENV"
  echo "llama-oracle: this compiles llama.cpp and takes minutes; log: $VENV/build.log"
  rm -rf "$VENV"
  mkdir -p "$IOLLM_HOME"
  "$PYTHON" -m venv "$VENV"
  start=$(date +%s)
  # --no-binary: compile llama.cpp here; --no-cache-dir: never reuse a wheel pip built earlier
  # with other CMAKE_ARGS. The build's own tools (scikit-build-core, cmake, ninja) come as wheels.
  if ! CMAKE_ARGS="$CMAKE_FLAGS" "$VENV/bin/python" -m pip install --no-cache-dir \
      --disable-pip-version-check -v --no-binary llama-cpp-python "${PINS[@]}" \
      >"$VENV/build.log" 2>&1; then
    tail -n 60 "$VENV/build.log" >&2
    echo "llama-oracle: pip install failed; full log: $VENV/build.log" >&2
    exit 1
  fi
  echo "llama-oracle: built in $(( $(date +%s) - start )) s"
  printf '%s' "$WANT" >"$STAMP"
fi

# n_threads=1 (set inside the generator): one thread, so every reduction runs in one fixed order
# and the logits are bit-for-bit reproducible from run to run.
mkdir -p "$(dirname "$OUT")"
LLAMA_CPP_COMMIT="$LLAMA_CPP_COMMIT" "$VENV/bin/python" scripts/llama-oracle.py \
  --model "$MODEL" --out "$OUT"
echo "llama-oracle: wrote $OUT ($(wc -c <"$OUT") bytes)"
