//! Building the ink! contracts with cargo-contract.

use crate::devnet::{tools_bin_dir, DevnetError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A built contract.
#[derive(Debug, Clone)]
pub struct ContractArtifact {
    /// The optimized wasm code.
    pub wasm: PathBuf,
    /// The ink! metadata (ABI).
    pub metadata: PathBuf,
}

/// Where cargo-contract is: `$IOLLM_HOME/bin` (as installed by setup), else `PATH`.
pub fn cargo_contract_binary() -> Result<PathBuf, DevnetError> {
    let installed = tools_bin_dir().join("cargo-contract");
    if installed.is_file() {
        return Ok(installed);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths).map(|p| p.join("cargo-contract")).find(|p| p.is_file())
        })
        .ok_or(DevnetError::ToolMissing { tool: "cargo-contract", expected: installed })
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

/// One build at a time in this process: the end-to-end tests build from several threads, and
/// two builds of one contract must not share its target directory at once.
static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds each named contract in `contracts_dir` with `cargo contract build --release`, each in
/// its own target directory `contracts/target/<name>`; the build output goes to
/// `contracts/target/<name>-build.log`, the artifacts to `contracts/target/<name>/ink/<name>`.
///
/// ink!'s static buffer, which holds a message's input, is built as large as the longest move of
/// a dispute game ([`iollm_types::dispute::MAX_CALL_BYTES`]; ink!'s default of 16 KiB is too
/// small for the referee's inputs). `ink_env` reads `INK_STATIC_BUFFER_SIZE` when compiled;
/// cargo-contract, seeing it set, runs `cargo clean` on the target directory whenever the
/// contract's metadata does not record that size (on every first build): with one shared
/// target, each contract's first build would delete the others' artifacts.
pub fn build_contracts<'a>(
    contracts_dir: &Path,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, ContractArtifact>, DevnetError> {
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cargo_contract = cargo_contract_binary()?;
    let buffer = iollm_types::dispute::MAX_CALL_BYTES.to_string();
    let toolchain = pinned_toolchain(contracts_dir)?;
    let target = contracts_dir.join("target");
    std::fs::create_dir_all(&target)?;
    let mut built = BTreeMap::new();
    for name in names {
        let log = target.join(format!("{name}-build.log"));
        let started = Instant::now();
        tracing::info!(target: "devnet::build", contract = name, "Building contract (1-2 minutes when cold)");
        let log_file = std::fs::File::create(&log)?;
        let own = target.join(name);
        let status = Command::new(&cargo_contract)
            .args(["contract", "build", "--release", "--manifest-path"])
            .arg(contracts_dir.join(name).join("Cargo.toml"))
            .env("RUSTUP_TOOLCHAIN", &toolchain)
            .env("INK_STATIC_BUFFER_SIZE", &buffer)
            // Under `cargo test` (the e2e harness), `CARGO` names the workspace's cargo, which
            // cargo-contract would use instead of the pinned toolchain's: the builds would then
            // differ from `iollm devnet up`'s and each would make the other start cold.
            .env_remove("CARGO")
            // cargo-contract and the `cargo clean` it may run honour `CARGO_TARGET_DIR`.
            .env("CARGO_TARGET_DIR", &own)
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .status()?;
        if !status.success() {
            return Err(DevnetError::ContractBuild { contract: name.into(), log });
        }
        let out = own.join("ink").join(name);
        tracing::info!(target: "devnet::build", contract = name, seconds = started.elapsed().as_secs(), "Built contract");
        built.insert(
            name.to_owned(),
            ContractArtifact {
                wasm: out.join(format!("{name}.wasm")),
                metadata: out.join(format!("{name}.json")),
            },
        );
    }
    Ok(built)
}
