#!/usr/bin/env bash
# Runs the official OpenAI Python client (PyPI `openai`, pinned) against `iollm model serve`
# over the real SmolLM2 model (crates/serve/tests/it/openai.rs). Creates its venv once in
# ${IOLLM_HOME:-~/.local/share/iollm}/venv-openai. Fails when python3 or PyPI is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
OPENAI_VERSION=3.63.0
IOLLM_HOME="${IOLLM_HOME:-$HOME/.local/share/iollm}"
venv="$IOLLM_HOME/venv-openai"
command -v python3 >/dev/null || { echo "openai-oracle: python3 is not installed" >&2; exit 1; }
if ! "$venv/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION"
fi
IOLLM_OPENAI_PYTHON="$venv/bin/python" cargo test -p iollm-serve --locked --test it openai -- --ignored --exact openai::the_openai_python_client_speaks_to_the_server
