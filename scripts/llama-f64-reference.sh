#!/usr/bin/env bash
# Writes crates/compute/tests/fixtures/smollm2-f64.json (scripts/llama-f64-reference.py) in the venv of scripts/llama-oracle.sh, adding gguf to it.
set -euo pipefail; cd "$(dirname "$0")/.."; H="${IOLLM_HOME:-$HOME/.local/share/iollm}"; V="$H/venv-llama-oracle"; [ -x "$V/bin/python" ] || { echo "no $V: run scripts/llama-oracle.sh first" >&2; exit 1; }
"$V/bin/python" -c 'import gguf' 2>/dev/null || "$V/bin/python" -m pip install --quiet --disable-pip-version-check "gguf==0.17.1"
exec "$V/bin/python" scripts/llama-f64-reference.py --model "${IOLLM_LLAMA_ORACLE_MODEL:-$H/models/SmolLM2-135M-Instruct.Q4_1.gguf}" "$@"
