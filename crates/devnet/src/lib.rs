//! The local devnet as a library: build the contracts, start a node, deploy, record the
//! deployment, report it, stop it. `iollm devnet up|status|down` are thin wrappers over [`up`],
//! [`status`] and [`down`] (a devnet left running, found again through its deployment file);
//! tests use [`Devnet::spawn`] (one that stops when dropped).
//!
//! `up` leaves the node running in the background and writes `deployments/devnet.json` (RPC URL,
//! node PID and paths, contract addresses and code hashes); `down` stops exactly that PID, after
//! checking that it still is our node.

mod build;
pub mod clock;
mod deploy;
mod ipfs;
mod lifecycle;
mod node;
mod process;
mod spawned;
pub mod workers;

pub use build::{build_contracts, ContractArtifact};
pub use deploy::{deploy_contracts, wire_contracts, ContractSpec, CONTRACTS};
pub use ipfs::start_daemon;
pub use lifecycle::{down, status, up, Status, Up};
pub use node::{free_port, NodeProcess, NODE_BINARY};
pub use process::is_running;
pub use spawned::{built_once, Devnet};

use iollm_chain::ChainError;
use std::path::{Path, PathBuf};

/// What can go wrong running the devnet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// A tool setup installs is missing.
    #[error(
        "{tool} not found (looked in {expected} and PATH); install it with `scripts/setup.sh`"
    )]
    ToolMissing {
        /// The tool.
        tool: &'static str,
        /// Where setup puts it.
        expected: PathBuf,
    },
    /// The node process exited during start-up.
    #[error("the node exited during start-up ({status}); see {log}")]
    NodeExited {
        /// Its exit status.
        status: String,
        /// Its log.
        log: PathBuf,
    },
    /// The node did not answer RPC in time.
    #[error("the node did not answer RPC within {seconds}s; see {log}")]
    NodeNotReady {
        /// The timeout.
        seconds: u64,
        /// Its log.
        log: PathBuf,
    },
    /// `cargo contract build` failed.
    #[error("building contract {contract} failed; see {log}")]
    ContractBuild {
        /// The contract.
        contract: String,
        /// The build log.
        log: PathBuf,
    },
    /// No iollm checkout around the current directory.
    #[error("not inside an iollm checkout (no contracts/Cargo.toml above {0}); cd into one or name it (IOLLM_ROOT)")]
    NoCheckout(PathBuf),
    /// The deployment file is unreadable.
    #[error("cannot read the deployment file {path}: {reason}")]
    BadDeployment {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Talking to the node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The IPFS daemon could not be reached or started.
    #[error("IPFS: {0}")]
    Ipfs(String),
    /// A worker daemon could not be started.
    #[error("workers: {0}")]
    Workers(String),
    /// A file or process operation failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The paths the devnet uses: the checkout (contracts), where its state goes and where setup
/// installed the tools. Resolved by the caller (the CLI's settings, a test's harness): this
/// library reads no environment.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The checkout root (holds `contracts/`).
    pub root: PathBuf,
    /// Where `deployments/devnet.json` and `.devnet/` go: the checkout root unless the caller
    /// points it elsewhere.
    pub state: PathBuf,
    /// Where setup installed the node and cargo-contract (`scripts/setup.sh`: `$IOLLM_HOME/bin`);
    /// a tool not there is looked for on `PATH`.
    pub tools: PathBuf,
}

/// The iollm checkout containing `start`: the first directory above it that holds both
/// `Cargo.toml` and `contracts/Cargo.toml`.
pub fn find_checkout(start: &Path) -> Result<PathBuf, DevnetError> {
    start
        .ancestors()
        .find(|dir| dir.join("contracts/Cargo.toml").is_file() && dir.join("Cargo.toml").is_file())
        .map(Path::to_owned)
        .ok_or_else(|| DevnetError::NoCheckout(start.to_owned()))
}

impl Paths {
    /// The checkout at `root`, its state kept in it, its tools in `tools`.
    pub fn at(root: PathBuf, tools: PathBuf) -> Paths {
        Paths { state: root.clone(), root, tools }
    }

    /// The node binary: [`Paths::tools`]' copy, else the one on `PATH`.
    pub fn node_binary(&self) -> Result<PathBuf, DevnetError> {
        tool(&self.tools, NODE_BINARY)
    }

    /// cargo-contract: [`Paths::tools`]' copy, else the one on `PATH`.
    pub fn cargo_contract(&self) -> Result<PathBuf, DevnetError> {
        tool(&self.tools, "cargo-contract")
    }

    /// The contracts workspace.
    pub fn contracts(&self) -> PathBuf {
        self.root.join("contracts")
    }

    /// The deployment record `up` writes.
    pub fn deployment_file(&self) -> PathBuf {
        self.state.join("deployments/devnet.json")
    }

    /// The node's base path and logs.
    pub fn state_dir(&self) -> PathBuf {
        self.state.join(".devnet")
    }
}

/// `name` in `tools`, else the first on `PATH`.
fn tool(tools: &Path, name: &'static str) -> Result<PathBuf, DevnetError> {
    let installed = tools.join(name);
    if installed.is_file() {
        return Ok(installed);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
        .ok_or(DevnetError::ToolMissing { tool: name, expected: installed })
}
