//! Harness for the system end-to-end tests in `tests/`: this checkout's [`Devnet`] (a real
//! substrate-contracts-node on a temporary base path with every contract deployed, and an
//! in-process IPFS daemon, both stopped when it is dropped), and what the game tests share.

use anyhow::{Context as _, Result};
use iollm_chain::{Connection, Signer};
use iollm_devnet::{ContractArtifact, Devnet, Paths};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The checkout these tests belong to, with the tools setup installed (`$IOLLM_HOME/bin`,
/// default `~/.local/share/iollm/bin`).
pub fn checkout() -> Paths {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent");
    Paths::at(root.into(), tools_home().join("bin"))
}

/// The tools directory `scripts/setup.sh` installs into.
pub fn tools_home() -> PathBuf {
    std::env::var_os("IOLLM_HOME").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".local/share/iollm")
    })
}

/// The contracts, built once per test process. Fails, naming the setup command, when the tools
/// are missing.
pub fn contracts() -> Result<BTreeMap<String, ContractArtifact>> {
    let paths = checkout();
    paths
        .node_binary()
        .context("the end-to-end tests need the devnet tools: run scripts/setup.sh")?;
    Ok(iollm_devnet::built_once(&paths)?)
}

/// Starts a [`Devnet`] of this checkout: a node with the contracts deployed and an IPFS daemon,
/// stopped on drop (failing, and naming the setup command, when the tools are missing).
pub async fn testnet() -> Result<Devnet> {
    contracts()?;
    Ok(Devnet::spawn(&checkout()).await?)
}

/// Produces blocks (the dev node seals one per transaction) until the chain is past `target`:
/// `who`, a pledged provider, tops up its stake by 1 planck per block.
pub async fn advance_past(ctx: &Connection, who: &Signer, target: u32) -> Result<()> {
    while ctx.chain.best_block().await? <= target {
        ctx.market()?.top_up(who, 1).await?;
    }
    Ok(())
}

/// Publishes the finished run in `run` (of config `cfg`) as job `job`'s output, as an
/// executor's worker does ([`iollm_worker::daemon::publish_output`], staged in `out`), made by
/// `executor`, a fine-tune of `artifact`: the package's CID, what the result names.
pub async fn publish_output(
    ctx: &Connection,
    (job, artifact): (u64, u64),
    executor: &Signer,
    cfg: &iollm_compute::TrainConfig,
    run: &Path,
    out: &Path,
) -> Result<String> {
    let output = iollm_worker::daemon::Output {
        job,
        artifact,
        license: "Apache-2.0".into(),
        created_by: executor.account().to_string(),
        memory_bytes: iollm_compute::estimate_memory(cfg),
    };
    let store = iollm_artifacts::ipfs_client(ctx)?;
    Ok(iollm_worker::daemon::publish_output(&store, &output, run, out).await?.output)
}

/// The run the dispute-game tests play: 16 steps of a 2-layer, 2-head, context-16 model with
/// weight decay, 4 checkpoints of 4 steps (the issue's minimum for a game: 2 layers, 2 heads, a
/// context over 8, decay above 0).
pub fn game_run() -> Result<(iollm_compute::TrainConfig, iollm_compute::Trainer)> {
    let cfg = iollm_compute::TrainConfig::from_toml_str(GAME_RUN, Path::new("."))?;
    let trainer = iollm_compute::Trainer::new(&cfg, &iollm_compute::Runtime::new(2))?;
    Ok((cfg, trainer))
}

/// SplitMix64, for the seeded choices of the game tests (which op, element and bit a cheat
/// alters).
pub struct Draw(pub u64);

impl Draw {
    /// The next draw in `0..below`.
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

/// The name of an op's kind (`Matmul`, `Adam`, …): a row of VERIFICATION.md's table of leaves.
pub fn kind_name(op: &iollm_repops::step::Op) -> String {
    let debug = format!("{:?}", op.kind);
    debug.split([' ', '{']).next().unwrap_or_default().to_string()
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

/// The checks a sybil attester reveals for a made-up run whose checks tree has the leaves of
/// the steps roots `made_up`: for each segment its `secret` checks against `trace_root` (the
/// drawn one, then the last), the made-up steps root and its path. They match what the
/// executor committed, so the contract takes them: only a replay tells them apart.
pub fn made_up_checks(
    secret: &[u8; 32],
    trace_root: &[u8; 32],
    made_up: &[[u8; 32]],
) -> Vec<iollm_types::spotcheck::SegmentCheck> {
    use iollm_compute::merkle::Sha;
    use iollm_types::spotcheck;
    let leaves: Vec<[u8; 32]> = made_up.iter().map(spotcheck::leaf::<Sha>).collect();
    let draw = spotcheck::draw::<Sha>(secret, trace_root);
    spotcheck::checked_segments(&draw, made_up.len() as u64)
        .into_iter()
        .map(|s| {
            let path = spotcheck::checks_path::<Sha>(&leaves, s).expect("a segment in range");
            (made_up[s as usize], path)
        })
        .collect()
}
