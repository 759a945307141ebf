//! Building the ink! contracts with cargo-contract, all into one target directory.

use crate::{DevnetError, Paths};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A built contract.
#[derive(Debug, Clone)]
pub struct ContractArtifact {
    /// The optimized wasm code.
    pub wasm: PathBuf,
    /// The ink! metadata (ABI).
    pub metadata: PathBuf,
}

/// The toolchain pinned in `contracts/rust-toolchain.toml`. cargo-contract builds from a temporary
/// copy of each manifest, outside the folder whose toolchain file rustup would read.
fn pinned_toolchain(contracts_dir: &Path) -> Result<String, DevnetError> {
    let file = contracts_dir.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&file)?;
    text.lines()
        .find_map(|line| {
            let value = line.trim().strip_prefix("channel")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| DevnetError::BadDeployment { path: file, reason: "no channel".into() })
}

/// The one target directory every contract is built into, `contracts/target/buffer-<bytes>`:
/// ink! and its dependencies are compiled once for all contracts. Its name carries the static
/// buffer size because `ink_env` reads that size when it is compiled and cargo does not see it
/// change: a build with another size must not reuse this one's `ink_env`.
fn contracts_target(contracts_dir: &Path) -> PathBuf {
    let bytes = iollm_types::dispute::MAX_CALL_BYTES;
    contracts_dir.join("target").join(format!("buffer-{bytes}"))
}

/// One build at a time in this process: the end-to-end tests build from several threads.
static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds each named contract of the checkout's `contracts/` with `cargo contract build --release`, all into
/// [`contracts_target`] (the first from scratch, each other from a copy of one already built:
/// [`seed`]): the artifacts go to `<target>/ink/<name>/`, each build's output to
/// `contracts/target/<name>-build.log`, and its progress (cargo-contract's steps, every 25th
/// crate checked or compiled) to the log at info level.
///
/// ink!'s static buffer, which holds a message's input, is built as large as the longest move of
/// a dispute game ([`iollm_types::dispute::MAX_CALL_BYTES`]; ink!'s default of 16 KiB is too
/// small for the referee's inputs). cargo-contract, seeing `INK_STATIC_BUFFER_SIZE` set, runs
/// `cargo clean` on the whole target unless the contract's metadata already records that size,
/// as on every contract's first build: that would delete what the other contracts compiled. So
/// before a contract's first build its metadata file is a placeholder that records the size
/// (the target's name already guarantees it); the build overwrites it.
pub fn build_contracts<'a>(
    paths: &Paths,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, ContractArtifact>, DevnetError> {
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cargo_contract = paths.cargo_contract()?;
    let contracts_dir = &paths.contracts();
    let toolchain = pinned_toolchain(contracts_dir)?;
    let target = contracts_target(contracts_dir);
    let mut built = BTreeMap::new();
    for name in names {
        let out = target.join("ink").join(name);
        let metadata = out.join(format!("{name}.json"));
        if !metadata.is_file() {
            seed(&target, name)?;
            std::fs::create_dir_all(&out)?;
            std::fs::write(&metadata, placeholder_metadata(name))?;
        }
        let log = contracts_dir.join("target").join(format!("{name}-build.log"));
        let started = Instant::now();
        tracing::info!(target: "devnet::build", contract = name, "Building contract (minutes on the first build, seconds after)");
        let mut child = Command::new(&cargo_contract)
            .args(["contract", "build", "--release", "--manifest-path"])
            .arg(contracts_dir.join(name).join("Cargo.toml"))
            .env("RUSTUP_TOOLCHAIN", &toolchain)
            .env("INK_STATIC_BUFFER_SIZE", iollm_types::dispute::MAX_CALL_BYTES.to_string())
            // Under `cargo test` (the e2e harness), `CARGO` names the workspace's cargo, which
            // cargo-contract would use instead of the pinned toolchain's: the builds would then
            // differ from `iollm devnet up`'s and each would make the other start cold.
            .env_remove("CARGO")
            .env("CARGO_TARGET_DIR", &target)
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut log_file = std::fs::OpenOptions::new().append(true).open(&log)?;
        let mut compiled = 0usize;
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            writeln!(log_file, "{line}")?;
            let plain = strip_ansi(&line);
            let plain = plain.trim();
            if plain.starts_with("Compiling ") || plain.starts_with("Checking ") {
                compiled += 1;
                if compiled.is_multiple_of(25) {
                    tracing::info!(target: "devnet::build", contract = name, crates = compiled, "Compiling dependencies");
                }
            } else if plain.starts_with('[') {
                tracing::info!(target: "devnet::build", contract = name, "{plain}");
            }
        }
        if !child.wait()?.success() {
            return Err(DevnetError::ContractBuild { contract: name.into(), log });
        }
        tracing::info!(target: "devnet::build", contract = name, seconds = started.elapsed().as_secs(), crates = compiled, "Built contract");
        built.insert(
            name.to_owned(),
            ContractArtifact { wasm: out.join(format!("{name}.wasm")), metadata },
        );
    }
    Ok(built)
}

/// Before a contract's first build: a copy of the cargo target of a contract already built in
/// `target`, mtimes kept, so that cargo finds ink! and the other dependencies they share fresh
/// and compiles only what differs (cargo-contract gives each contract of a workspace its own
/// cargo target, `<target>/ink/<name>`, whatever `CARGO_TARGET_DIR` says). Copied under a
/// temporary name and renamed, so an interrupted copy leaves no half seed.
fn seed(target: &Path, name: &str) -> Result<(), DevnetError> {
    let ink = target.join("ink");
    let Ok(entries) = std::fs::read_dir(&ink) else { return Ok(()) };
    let built = entries.flatten().map(|e| e.path()).find(|dir| {
        let sibling = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        sibling != name && dir.join(format!("{sibling}.contract")).is_file()
    });
    let Some(from) = built else { return Ok(()) };
    let started = Instant::now();
    let partial = ink.join(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    copy_tree(&from, &partial)?;
    let sibling = from.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    for artifact in ["contract", "wasm", "json"] {
        let file = partial.join(format!("{sibling}.{artifact}"));
        if file.is_file() {
            std::fs::remove_file(file)?;
        }
    }
    let to = ink.join(name);
    if to.exists() {
        std::fs::remove_dir_all(&to)?;
    }
    std::fs::rename(&partial, &to)?;
    tracing::info!(target: "devnet::build", contract = name, from = %from.display(), seconds = started.elapsed().as_secs(), "Seeded its cargo target");
    Ok(())
}

/// Copies the tree at `from` to `to` (files and directories; the mtime of every file kept).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &dest)?;
            let modified = entry.metadata()?.modified()?;
            std::fs::File::options().write(true).open(&dest)?.set_modified(modified)?;
        }
    }
    Ok(())
}

/// The smallest metadata cargo-contract reads: it records the static buffer size and nothing
/// a deployment could use (a build replaces it).
fn placeholder_metadata(name: &str) -> String {
    let bytes = iollm_types::dispute::MAX_CALL_BYTES;
    serde_json::json!({
        "source": { "hash": format!("0x{}", "00".repeat(32)), "language": "ink! 5.1.1", "compiler": "rustc 1.88.0" },
        "contract": { "name": name, "version": "0.0.0", "authors": [] },
        "image": null,
        "spec": { "environment": { "staticBufferSize": bytes } },
    })
    .to_string()
}

/// `line` without its terminal colour codes (cargo-contract asks cargo for colour).
fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence ends with its first letter.
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[1m\u{1b}[32m   Compiling\u{1b}[0m ink v5"),
            "   Compiling ink v5"
        );
        assert_eq!(strip_ansi("[1/4] Building"), "[1/4] Building");
    }
}
