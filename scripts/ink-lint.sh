#!/usr/bin/env bash
# The ink! linter over the contracts: the lints `cargo contract build --lint` runs (dylint
# libraries ink_linting_mandatory: no_main; ink_linting: primitive_topic, storage_never_freed,
# strict_balance_equality, non_fallible_api). Prints each finding as `file:line lint` and exits 1
# when there is any (or when the contracts do not compile for the linter).
#
#   scripts/ink-lint.sh   needs what scripts/setup.sh installs (nightly-2023-07-14, cargo-dylint
#                         and dylint-link 2.6.1); the first run builds the lint libraries, the
#                         driver and the dependencies (about 4 minutes), later runs take seconds
#   IOLLM_HOME=…          tools directory; the linter's builds live in $IOLLM_HOME/ink-lint
#
# Why these versions: `cargo contract build --lint` fetches its lint libraries from GitHub, which
# is not reachable here. The only ink! lint libraries on crates.io are ink_linting and
# ink_linting_mandatory 5.0.0-rc; they link rustc's internals through parity_clippy_utils 0.1.73,
# which builds on nightly-2023-07-14 (Rust 1.73) only, and their Cargo.lock pins dylint_linting
# 2.6.0, hence cargo-dylint and dylint-link 2.6.1 (whose driver still supports that nightly).
#
# Lints run inside that old compiler, so every crate must compile with Rust 1.73. The linter works
# on a copy of contracts/ and crates/ (in $IOLLM_HOME/ink-lint/src, the real tree is untouched):
# its Cargo.lock is resolved for Rust 1.73 (plus the pins below for crates that lack or lie about
# their rust-version), parity-scale-codec is relaxed to 3.6, `.is_none_or(` (Rust 1.82) is
# rewritten `.map_or(true, `, and proc-macro crates get return-position impl Trait in traits
# (derive_more 1.0). Like cargo-contract, it checks for wasm32 without `std`, building core itself.
# A crate-level allow in a contract's lib.rs (the lint crate's name, then the lint's), with its
# reason as a comment or as `reason` (accepted here through feature(lint_reasons)):
#   #![cfg_attr(dylint_lib = "ink_linting", allow(primitive_topic, reason = "…"))]
# Rust 1.80+ warns `unexpected_cfgs` about it unless that contract's Cargo.toml has
#   [lints.rust]
#   unexpected_cfgs = { level = "warn", check-cfg = ['cfg(dylint_lib, values(any()))'] }
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IOLLM_HOME=${IOLLM_HOME:-$HOME/.local/share/iollm}
bin="$IOLLM_HOME/bin"
work="$IOLLM_HOME/ink-lint"
LINT_TOOLCHAIN=nightly-2023-07-14   # keep in step with scripts/setup.sh
INK_LINTING_VERSION=5.0.0-rc
LINTS="no_main primitive_topic storage_never_freed strict_balance_equality non_fallible_api"
# Newest versions that compile with Rust 1.73 and still satisfy ink 5.1.1, in this order.
PINS="const_env@0.1.2 sp-weights@31.0.0 sp-arithmetic@26.0.0 bounded-collections@0.2.0
      parity-scale-codec@3.6.12 parity-scale-codec-derive@3.6.12"
contracts_toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' "$repo/contracts/rust-toolchain.toml")

if [ ! -x "$bin/cargo-dylint" ] || [ ! -x "$bin/dylint-link" ] \
   || ! lint_rustc=$(rustup which --toolchain "$LINT_TOOLCHAIN" rustc 2>/dev/null); then
  echo "ink-lint: $LINT_TOOLCHAIN, cargo-dylint or dylint-link missing: run scripts/setup.sh" >&2
  exit 2
fi
export PATH="$bin:$PATH"
toolchain="$LINT_TOOLCHAIN-$("$lint_rustc" -vV | sed -n 's/^host: //p')"
mkdir -p "$work/lib" "$work/drivers"

# 1. The lint libraries, built once from their crates.io sources with their own Cargo.lock.
for lib in ink_linting_mandatory ink_linting; do
  [ -f "$work/lib/lib$lib@$toolchain.so" ] && continue
  echo "==> Building $lib $INK_LINTING_VERSION with $LINT_TOOLCHAIN (first run only, minutes)"
  mkdir -p "$work/fetch/src" && touch "$work/fetch/src/lib.rs"
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
    "$lib" "$INK_LINTING_VERSION" > "$work/fetch/Cargo.toml"
  manifest=$(cargo "+$contracts_toolchain" metadata --quiet --format-version 1 \
    --manifest-path "$work/fetch/Cargo.toml" | python3 -c 'import json, sys
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == sys.argv[1]))' "$lib")
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=dylint-link cargo "+$LINT_TOOLCHAIN" build --quiet \
    --release --locked --lib --manifest-path "$manifest" --target-dir "$work/lib-target"
  cp "$work/lib-target/release/lib$lib@$toolchain.so" "$work/lib/"
done

# 2. A fresh copy of the sources (tar keeps mtimes, so unchanged crates stay checked), made to
# compile with Rust 1.73; each rewritten file keeps its original's mtime.
src="$work/src"
rm -rf "$src" && mkdir -p "$src"
tar -C "$repo" --exclude=target --exclude=node_modules -cf - Cargo.toml crates contracts \
  | tar -C "$src" -xf -
rm "$src/contracts/rust-toolchain.toml"
rewrite() { sed -i "$1" "$2" && touch -r "$repo/${2#"$src/"}" "$2"; }
{ grep -rl --include='*.rs' '\.is_none_or(' "$src" || true; } | while read -r f; do
  rewrite 's/\.is_none_or(/.map_or(true, /g' "$f"
done
{ grep -rl --include=Cargo.toml 'parity-scale-codec = { version = "3\.7' "$src" || true; } \
  | while read -r f; do
  rewrite 's/\(parity-scale-codec = { version = "\)3\.7[0-9.]*"/\13.6"/' "$f"
done

# 3. Its Cargo.lock, resolved again only when a manifest or the real lock changed.
key=$(cd "$src" && find . -name Cargo.toml -print0 | sort -z | xargs -0 cat contracts/Cargo.lock | sha256sum)
if [ "$key" = "$(cat "$work/lock.key" 2>/dev/null)" ]; then
  cp "$work/Cargo.lock" "$src/contracts/Cargo.lock"
else
  echo "==> Resolving the contracts' dependencies for Rust 1.73"
  (
    cd "$src/contracts"
    RUSTC="$lint_rustc" CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
      cargo "+$contracts_toolchain" generate-lockfile --quiet
    sed -i 's/^version = 4$/version = 3/' Cargo.lock
    for pin in $PINS; do
      if grep -q "^name = \"${pin%@*}\"$" Cargo.lock; then
        cargo "+$LINT_TOOLCHAIN" update --quiet -p "${pin%@*}" --precise "${pin#*@}"
      fi
    done
  )
  cp "$src/contracts/Cargo.lock" "$work/Cargo.lock" && echo "$key" > "$work/lock.key"
fi

# 4. The lints, as `cargo contract build --lint` runs them: wasm32, no `std`.
host_flags='["-Zcrate-attr=feature(return_position_impl_trait_in_trait)"]'
rc=0
(
  cd "$src/contracts"
  DYLINT_DRIVER_PATH="$work/drivers" DYLINT_LIBRARY_PATH="$work/lib" CARGO_TARGET_DIR="$work/target" \
    DYLINT_RUSTFLAGS='-Zcrate-attr=feature(lint_reasons)' \
    cargo dylint --lib ink_linting_mandatory --lib ink_linting --workspace -- \
    --target=wasm32-unknown-unknown -Zbuild-std=core,alloc --no-default-features --ignore-rust-version \
    -Zhost-config -Ztarget-applies-to-host --config target-applies-to-host=false \
    --config "host.rustflags=$host_flags" --message-format=json
) > "$work/messages.json" 2> "$work/stderr.log" || rc=$?

python3 - "$work/messages.json" "$src" "$LINTS" "$rc" "$work/stderr.log" <<'EOF'
import json, os, sys
messages, src, lints, rc, stderr = sys.argv[1], sys.argv[2], set(sys.argv[3].split()), int(sys.argv[4]), sys.argv[5]
findings, errors = set(), set()
for line in open(messages):
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    d = m.get("message") if m.get("reason") == "compiler-message" else None
    if not d:
        continue
    code = (d.get("code") or {}).get("code")
    span = next((s for s in d["spans"] if s["is_primary"]), None)
    where = ("?", 0)
    if span:
        path = os.path.join(src, "contracts", span["file_name"])  # relative to the workspace
        where = (os.path.relpath(os.path.realpath(path), src), span["line_start"])
    if code in lints:
        findings.add((where, code, d["message"]))
    elif d["level"] == "error" and not d["message"].startswith("aborting due to"):
        errors.add((where, "error", d["message"]))
for (path, line), what, message in sorted(findings | errors):
    print(f"{path}:{line} {what}: {message}")
if rc and not errors and not findings:
    sys.stdout.write("".join(open(stderr).readlines()[-30:]))
print(f"ink-lint: {len(findings)} finding(s)" + (f", {len(errors)} compile error(s)" if errors else ""))
sys.exit(1 if findings or errors or rc else 0)
EOF
