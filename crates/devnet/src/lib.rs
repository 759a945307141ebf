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
mod ipfs;
mod node;
mod spawned;
pub mod workers;

pub use build::{build_contracts, ContractArtifact};
pub use ipfs::start_daemon;
pub use node::{free_port, NodeProcess, NODE_BINARY};
pub use spawned::{built_once, Devnet};

use iollm_chain::deployment::{DeployedContract, Deployment, IpfsRecord, NodeRecord};
use iollm_chain::dispute::DisputeClient;
use iollm_chain::market::MarketClient;
use iollm_chain::registry::RegistryClient;
use iollm_chain::splitter::SplitterClient;
use iollm_chain::{Chain, ChainError, Signer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// A contract of the system and how to construct it, in deployment order.
pub struct ContractSpec {
    /// Its name (the package name in `contracts/`).
    pub name: &'static str,
    /// Its constructor input, given the contracts deployed before it and the deployer (who
    /// becomes admin and, on a devnet, the treasury).
    pub constructor: fn(&BTreeMap<String, DeployedContract>, [u8; 32]) -> Vec<u8>,
}

/// The address bytes of an already deployed contract (the deployer's when not deployed yet).
fn address_of(deployed: &BTreeMap<String, DeployedContract>, name: &str, or: [u8; 32]) -> [u8; 32] {
    deployed.get(name).map(|c| c.address.0).unwrap_or(or)
}

/// Every contract `devnet up` deploys, in order. The market is deployed before the splitter
/// names it, so [`wire_contracts`] then points the market at the splitter and the registry at
/// the market.
pub const CONTRACTS: &[ContractSpec] = &[
    ContractSpec { name: "registry", constructor: |_, _| RegistryClient::constructor() },
    ContractSpec {
        name: "market",
        constructor: |_, admin| {
            MarketClient::constructor(admin, &iollm_types::market::MarketParams::DEVNET)
        },
    },
    // The market opens and closes its games.
    ContractSpec {
        name: "dispute",
        constructor: |d, admin| DisputeClient::constructor(address_of(d, "market", admin)),
    },
    ContractSpec {
        name: "splitter",
        constructor: |d, admin| {
            SplitterClient::constructor(
                address_of(d, "registry", admin),
                address_of(d, "market", admin),
                admin,
            )
        },
    },
];

/// Connects the deployed contracts to each other, once: `market.wire_splitter(splitter)`,
/// `market.wire_dispute(dispute)` and
/// `registry.set_market(market)`, signed by the admin (the treasury on a devnet). Later changes
/// go through each contract's timelock.
pub async fn wire_contracts(
    chain: &Chain,
    admin: &Signer,
    deployed: &BTreeMap<String, DeployedContract>,
) -> Result<(), DevnetError> {
    let me = admin.account_bytes();
    let market = address_of(deployed, "market", me);
    let splitter = address_of(deployed, "splitter", me);
    let market_client = MarketClient::new(chain.clone(), market);
    market_client.wire_splitter(admin, splitter).await?;
    if deployed.contains_key("dispute") {
        market_client.wire_dispute(admin, address_of(deployed, "dispute", me)).await?;
    }
    if let Some(registry) = deployed.get("registry") {
        RegistryClient::new(chain.clone(), registry.address.clone())
            .set_market(admin, market)
            .await?;
    }
    Ok(())
}

/// Deploys the built `artifacts` with `signer`, in [`CONTRACTS`] order.
pub async fn deploy_contracts(
    chain: &Chain,
    signer: &Signer,
    artifacts: &BTreeMap<String, ContractArtifact>,
) -> Result<BTreeMap<String, DeployedContract>, DevnetError> {
    let mut deployed = BTreeMap::new();
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_le_bytes().to_vec())
        .unwrap_or_default();
    for spec in CONTRACTS {
        let artifact = artifacts.get(spec.name).ok_or_else(|| DevnetError::ContractBuild {
            contract: spec.name.into(),
            log: PathBuf::from("(not built)"),
        })?;
        let code = std::fs::read(&artifact.wasm)?;
        let input = (spec.constructor)(&deployed, signer.account_bytes());
        let contract = chain.instantiate_with_code(signer, code, input, salt.clone()).await?;
        tracing::info!(target: "devnet::deploy", contract = spec.name, address = %contract.address, "Deployed");
        deployed.insert(
            spec.name.to_owned(),
            DeployedContract {
                address: contract.address.clone(),
                code_hash: format!("0x{}", hex::encode(contract.code_hash)),
            },
        );
    }
    wire_contracts(chain, signer, &deployed).await?;
    Ok(deployed)
}

/// What `up` found or did.
#[derive(Debug)]
pub enum Up {
    /// A devnet was already running; nothing was started.
    AlreadyRunning(Deployment),
    /// A new devnet was started and deployed.
    Started(Deployment),
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

/// Whether the devnet recorded in `deployment` is alive: its PID is our node and RPC answers.
pub async fn is_running(deployment: &Deployment) -> bool {
    let Some(node) = &deployment.node else { return false };
    is_our_node(node) && Chain::connect(&deployment.rpc_url).await.is_ok()
}

/// Whether `pid` is alive and each of `marks` is one of its arguments (the program may be
/// named by a path ending in the mark): a reused PID running something else is not ours.
fn is_our_process(pid: u32, marks: &[&str]) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let cmdline = String::from_utf8_lossy(&cmdline);
    let args: Vec<&str> = cmdline.split('\0').collect();
    marks
        .iter()
        .all(|mark| args.iter().any(|arg| arg == mark || arg.ends_with(&format!("/{mark}"))))
}

/// Whether `node.pid` is still a substrate-contracts-node using `node.base_path`.
fn is_our_node(node: &NodeRecord) -> bool {
    let marks = node_marks(node);
    is_our_process(node.pid, &marks.iter().map(String::as_str).collect::<Vec<_>>())
}

/// What identifies the node's process: its binary and its chain directory (`--base-path`).
fn node_marks(node: &NodeRecord) -> [String; 2] {
    [NODE_BINARY.to_owned(), node.base_path.join("chain").to_string_lossy().into_owned()]
}

/// The devnet's own IPFS daemon, if it is still running: `(pid, marks)`.
fn our_ipfs(deployment: &Deployment) -> Option<(u32, Vec<String>)> {
    let ipfs = deployment.ipfs.as_ref()?;
    let (pid, repo) = (ipfs.pid?, ipfs.repo.as_ref()?);
    let marks = vec!["ipfs".to_owned(), "daemon".to_owned(), repo.to_string_lossy().into_owned()];
    let refs: Vec<&str> = marks.iter().map(String::as_str).collect();
    is_our_process(pid, &refs).then_some((pid, marks))
}

/// Starts a devnet: node, contracts built and deployed (by `//Alice`), an IPFS daemon (unless
/// `ipfs_api` names an external one), deployment file written, then `workers` worker daemons
/// ([`workers::start`]). `iollm_exe` is the `iollm` binary, which runs the IPFS daemon and
/// the workers.
pub async fn up(
    paths: &Paths,
    iollm_exe: &Path,
    ipfs_api: Option<&str>,
    workers: usize,
) -> Result<Up, DevnetError> {
    let file = paths.deployment_file();
    if let Ok(existing) = Deployment::load(&file) {
        if is_running(&existing).await {
            return Ok(Up::AlreadyRunning(existing));
        }
        // A devnet whose node died may have left its workers and clock: stopped first.
        stop_children(paths, &existing).await?;
    }
    let artifacts = build_contracts(paths, CONTRACTS.iter().map(|c| c.name))?;
    let node = NodeProcess::start(&paths.node_binary()?, &paths.state_dir().join("node")).await?;
    let chain = Chain::connect(&node.rpc_url()).await?;
    let contracts = deploy_contracts(&chain, &Signer::dev("alice")?, &artifacts).await?;
    let ipfs = match ipfs_api {
        Some(url) => IpfsRecord { api_url: url.to_owned(), pid: None, repo: None },
        None => start_daemon(iollm_exe, &paths.state_dir().join("ipfs")).await?,
    };
    let deployment = Deployment {
        ipfs: Some(ipfs),
        rpc_url: node.rpc_url(),
        node: Some(NodeRecord {
            pid: node.pid(),
            base_path: node.base_path().to_owned(),
            log: node.log().to_owned(),
        }),
        contracts,
        workers: Vec::new(),
        clock: None,
    };
    deployment.save(&file)?;
    node.detach();
    let mut deployment = deployment;
    if workers > 0 {
        // Windows are counted in blocks, and the dev node makes one only per transaction.
        deployment.clock = Some(clock::start(iollm_exe, paths, &deployment, clock::EVERY_MS)?);
        deployment.save(&file)?;
        deployment.workers = workers::start(iollm_exe, paths, &deployment, workers).await?;
        deployment.save(&file)?;
    }
    Ok(Up::Started(deployment))
}

/// What `status` found.
#[derive(Debug)]
pub enum Status {
    /// No deployment file.
    NotStarted,
    /// A deployment file whose node is gone.
    Stale(Deployment),
    /// A live devnet.
    Running(Deployment),
}

/// Reports the devnet recorded in the checkout.
pub async fn status(paths: &Paths) -> Result<Status, DevnetError> {
    let file = paths.deployment_file();
    if !file.exists() {
        return Ok(Status::NotStarted);
    }
    let deployment = Deployment::load(&file)?;
    Ok(if is_running(&deployment).await {
        Status::Running(deployment)
    } else {
        Status::Stale(deployment)
    })
}

/// Stops the workers, clock, node and IPFS daemon `up` started (by PID, after checking each is
/// still ours) and removes the deployment file. Returns the PIDs stopped (workers, the clock,
/// then the node); empty when nothing was running.
pub async fn down(paths: &Paths) -> Result<Vec<u32>, DevnetError> {
    let file = paths.deployment_file();
    let Ok(deployment) = Deployment::load(&file) else { return Ok(Vec::new()) };
    // Workers and clock first: they would only retry against a node going away.
    let mut stopped = stop_children(paths, &deployment).await?;
    if let Some(node) = deployment.node.as_ref().filter(|n| is_our_node(n)) {
        stop(node.pid, &node_marks(node)).await?;
        stopped.push(node.pid);
    }
    if let Some((pid, marks)) = our_ipfs(&deployment) {
        stop(pid, &marks).await?;
        stopped.push(pid);
    }
    std::fs::remove_file(&file)?;
    Ok(stopped)
}

/// Stops the workers and clock of `deployment` that still run; their PIDs.
async fn stop_children(paths: &Paths, deployment: &Deployment) -> Result<Vec<u32>, DevnetError> {
    let mut stopped = Vec::new();
    for worker in deployment.workers.iter().filter(|w| workers::is_running(w)) {
        stop(worker.pid, &workers::marks(worker)).await?;
        stopped.push(worker.pid);
    }
    if let Some(clock) = deployment.clock.as_ref().filter(|c| clock::is_running(c, paths)) {
        stop(clock.pid, &clock::marks(paths)).await?;
        stopped.push(clock.pid);
    }
    Ok(stopped)
}

/// SIGTERM, up to 15 s for it to exit, then SIGKILL.
async fn stop(pid: u32, marks: &[String]) -> Result<(), DevnetError> {
    use nix::sys::signal::{kill, Signal};
    let refs: Vec<&str> = marks.iter().map(String::as_str).collect();
    let target = nix::unistd::Pid::from_raw(i32::try_from(pid).map_err(std::io::Error::other)?);
    // Gone between the check and the signal: nothing left to stop.
    let gone = |e: nix::errno::Errno| e == nix::errno::Errno::ESRCH;
    match kill(target, Signal::SIGTERM) {
        Err(e) if gone(e) => return Ok(()),
        other => other.map_err(std::io::Error::from)?,
    }
    let mut waited = Duration::ZERO;
    while is_our_process(pid, &refs) && waited < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    if is_our_process(pid, &refs) {
        match kill(target, Signal::SIGKILL) {
            Err(e) if gone(e) => {}
            other => other.map_err(std::io::Error::from)?,
        }
    }
    Ok(())
}
