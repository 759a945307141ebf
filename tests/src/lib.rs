//! Harness for the system end-to-end tests in `tests/`: a real substrate-contracts-node on a
//! temporary base path with every contract deployed, and an in-process IPFS daemon; both stop
//! when the [`TestNet`] is dropped.

use anyhow::{Context as _, Result};
use iollm_chain::deployment::{Deployment, IpfsRecord};
use iollm_chain::Connection;
use iollm_chain::{Chain, Signer};
use iollm_cli::devnet::{self, ContractArtifact, NodeProcess, Paths};
use iollm_content::daemon::{Daemon, DaemonConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

/// The checkout these tests belong to.
pub fn checkout() -> Paths {
    Paths::at(Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").into())
}

/// The contracts, built once per test process (concurrent cargo-contract runs would race on
/// the same output files). Fails, naming the setup command, when the tools are missing.
pub fn contracts() -> Result<BTreeMap<String, ContractArtifact>> {
    static BUILT: Mutex<Option<BTreeMap<String, ContractArtifact>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.is_none() {
        devnet::node_binary()
            .context("the end-to-end tests need the devnet tools: run scripts/setup.sh")?;
        let names = devnet::CONTRACTS.iter().map(|c| c.name);
        *built = Some(devnet::build_contracts(&checkout().contracts(), names)?);
    }
    Ok(built.clone().expect("built above"))
}

/// A node with the contracts deployed and an IPFS daemon, stopped on drop.
pub struct TestNet {
    /// The CLI's context on this network.
    pub ctx: Connection,
    ipfs_shutdown: CancellationToken,
    /// The node (a test may kill it and start it again).
    pub node: NodeProcess,
    _dir: tempfile::TempDir,
}

impl Drop for TestNet {
    fn drop(&mut self) {
        self.ipfs_shutdown.cancel();
    }
}

/// Starts a [`TestNet`].
pub async fn testnet() -> Result<TestNet> {
    let artifacts = contracts()?;
    let dir = tempfile::tempdir()?;
    let node = NodeProcess::start(&dir.path().join("node")).await?;
    let chain = Chain::connect(&node.rpc_url()).await?;
    let contracts = devnet::deploy_contracts(&chain, &Signer::dev("alice")?, &artifacts).await?;
    let daemon =
        Daemon::bind(DaemonConfig::new(dir.path().join("ipfs"), ([127, 0, 0, 1], 0).into()))
            .await?;
    let ipfs = IpfsRecord { api_url: daemon.api_url(), pid: None, repo: None };
    let ipfs_shutdown = CancellationToken::new();
    tokio::spawn(daemon.run(ipfs_shutdown.clone()));
    let deployment = Deployment {
        rpc_url: node.rpc_url(),
        node: None,
        ipfs: Some(ipfs),
        contracts,
        workers: Vec::new(),
        clock: None,
    };
    Ok(TestNet { ctx: Connection { chain, deployment }, ipfs_shutdown, node, _dir: dir })
}

/// Produces blocks (the dev node seals one per transaction) until the chain is past `target`:
/// `who`, a pledged provider, tops up its stake by 1 planck per block.
pub async fn advance_past(ctx: &Connection, who: &Signer, target: u32) -> Result<()> {
    while ctx.chain.best_block().await? <= target {
        ctx.market()?.top_up(who, 1).await?;
    }
    Ok(())
}

/// The run the dispute-game tests play: 16 steps of a 2-layer, 2-head, context-16 model with
/// weight decay, 4 checkpoints of 4 steps (the issue's minimum for a game: 2 layers, 2 heads, a
/// context over 8, decay above 0).
pub fn game_run() -> Result<(iollm_compute::TrainConfig, iollm_compute::Trainer)> {
    let cfg = iollm_compute::TrainConfig::from_toml_str(GAME_RUN, Path::new("."))?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(2))?;
    Ok((cfg, trainer))
}

/// [`game_run`]'s config.
pub const GAME_RUN: &str = r#"
[model]
n_layer = 2
n_head = 2
n_embd = 32
n_ctx = 16

[train]
seed = 9
steps = 16
batch_size = 2
checkpoint_every = 4

[optimizer]
lr = 0.003
beta1 = 0.9
beta2 = 0.99
eps = 1e-8
weight_decay = 0.01
warmup_steps = 3

[data]
kind = "arithmetic"
lines = 300
"#;
