//! Command-line arguments (clap). The settings they share resolve in `settings` (flags >
//! environment > settings file > defaults), once, into [`Cli::settings`].

use crate::settings::Settings;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// iollm: the Internet of LLMs on a local or remote chain.
#[derive(Debug, Parser)]
#[command(name = "iollm", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Node RPC URL (else IOLLM_RPC, the settings file, the deployment file's).
    #[arg(long, global = true)]
    pub rpc: Option<String>,
    /// Deployment file with contract addresses (else IOLLM_DEPLOYMENTS, the settings file,
    /// deployments/devnet.json in the checkout).
    #[arg(long, global = true)]
    pub deployments: Option<PathBuf>,
    /// File holding the signer's secret URI (else IOLLM_KEY_FILE, IOLLM_SURI, the settings file).
    #[arg(long, global = true)]
    pub key_file: Option<PathBuf>,
    /// Settings file, TOML (else IOLLM_SETTINGS, else ~/.config/iollm/settings.toml if it exists).
    #[arg(long, global = true)]
    pub settings: Option<PathBuf>,
    /// Where training, replays and models run: cpu, cuda or cuda:N (else IOLLM_DEVICE, the
    /// settings file, cpu). Results have the same bits on every device.
    #[arg(long, global = true)]
    pub device: Option<iollm_compute::Backend>,
    /// The settings, resolved from all of the above ([`Cli::resolve`]).
    #[arg(skip)]
    pub resolved: Settings,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Print the result as one JSON object on stdout (a line per object a long command prints
    /// as it goes), for programs; amounts of planck are decimal strings.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Cli {
    /// Resolves [`Cli::resolved`]: these flags over the environment over the settings file.
    pub fn resolve(&mut self) -> Result<(), crate::settings::SettingsError> {
        let flags = Settings {
            rpc: self.rpc.clone(),
            deployments: self.deployments.clone(),
            key_file: self.key_file.clone(),
            device: self.device,
            ..Settings::default()
        };
        self.resolved =
            Settings::resolve(self.settings.as_deref(), Settings::process_env(), &flags)?;
        Ok(())
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local network: node and contracts.
    Devnet {
        /// What to do with it.
        #[command(subcommand)]
        action: DevnetAction,
    },
    /// Register, publish, pull and inspect models, datasets and paths.
    Model {
        /// What to do.
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Print the CID `ipfs add` would give a file or directory (offline).
    Cid {
        /// The file or directory.
        path: PathBuf,
        /// CID version (0 or 1), as `ipfs add --cid-version`.
        #[arg(long)]
        cid_version: Option<u8>,
        /// Raw leaves (default: true with CIDv1, false with CIDv0), as `ipfs add --raw-leaves`.
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        raw_leaves: Option<bool>,
        /// Chunker, as `ipfs add --chunker` (only `size-N`).
        #[arg(long)]
        chunker: Option<String>,
    },
    /// The embedded IPFS node (Kubo RPC subset, offline, loopback only).
    Ipfs {
        /// What to do.
        #[command(subcommand)]
        action: IpfsAction,
    },
    /// The provider's worker daemon: takes training jobs, runs them, gets paid.
    Worker {
        /// What to do.
        #[command(subcommand)]
        action: WorkerAction,
    },
    /// Train a GPT on reproducible numerics; prints the checkpoint trace root.
    Train {
        /// Training config (TOML), e.g. crates/compute/examples/tiny.toml.
        #[arg(long, required_unless_present = "job", conflicts_with = "job")]
        config: Option<PathBuf>,
        /// Train what job ID's spec says (its spec CID on chain, fetched from IPFS and its
        /// dataset with every byte checked): what its executor runs.
        #[arg(long)]
        job: Option<u64>,
        /// Output directory: checkpoints, trace.json, model.safetensors, config.json, and last
        /// COMPLETE. Must be empty or missing, unless --resume.
        #[arg(long)]
        out: PathBuf,
        /// Continue the run in --out from its last good checkpoint (same config), instead of
        /// refusing a non-empty --out.
        #[arg(long)]
        resume: bool,
        /// Worker threads (default: IOLLM_THREADS, else all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Pledge GPU capacity with stake (again: re-price and add stake).
    Pledge {
        /// Stake to add (native units).
        #[arg(long, default_value_t = 0)]
        stake: u128,
        /// Price per work unit.
        #[arg(long)]
        price: u128,
        /// Joint-mining discount in basis points (earned back as share units).
        #[arg(long, default_value_t = 0)]
        discount_bps: u16,
        /// Offered capacity.
        #[command(flatten)]
        capacity: CapacityArgs,
    },
    /// Start unbonding free stake (withdrawable after the unbonding delay).
    Unpledge {
        /// Amount.
        amount: u128,
    },
    /// Post, claim, submit, verify and settle compute jobs.
    Job {
        /// What to do.
        #[command(subcommand)]
        action: JobAction,
    },
    /// Dispute games: where one stands, whose move it is; end one whose side to move is late.
    Dispute {
        /// What to do.
        #[command(subcommand)]
        action: DisputeAction,
    },
    /// Breakthrough bounties.
    Bounty {
        /// What to do.
        #[command(subcommand)]
        action: BountyAction,
    },
    /// Profit-split rules.
    Split {
        /// What to do.
        #[command(subcommand)]
        action: SplitAction,
    },
    /// Revenue for artifacts.
    Revenue {
        /// What to do.
        #[command(subcommand)]
        action: RevenueAction,
    },
    /// Pull what the market (default) or the splitter owes you.
    Withdraw {
        /// Withdraw from the splitter instead, with the share revenue of this artifact.
        #[arg(long)]
        artifact: Option<u64>,
        /// Withdraw from the splitter (balance only, unless --artifact).
        #[arg(long)]
        splitter: bool,
    },
    /// Show an account's free balance, what the market and splitter owe it, and its pledge.
    Balance {
        /// The account (SS58); default: the signer's.
        #[arg(long)]
        account: Option<String>,
        /// Include the share revenue of this artifact.
        #[arg(long)]
        artifact: Option<u64>,
    },
}

/// `iollm ipfs …`
#[derive(Debug, Subcommand)]
pub enum IpfsAction {
    /// Serve the Kubo RPC API from a repo until SIGTERM or Ctrl-C.
    Daemon {
        /// Repo directory (created if missing).
        #[arg(long)]
        repo: PathBuf,
        /// API address; must be loopback.
        #[arg(long, default_value = "127.0.0.1:5001")]
        api: std::net::SocketAddr,
    },
}

/// Worker subcommands.
#[derive(Debug, Subcommand)]
pub enum WorkerAction {
    /// Run the executor until SIGTERM or Ctrl-C: follow the chain, claim the training jobs
    /// `worker.toml` says to take, train, publish, submit, finalize; it goes on where it was
    /// after a restart. Signs as the settings' key (`IOLLM_SURI`, `--key-file`).
    Run {
        /// The worker's config (`worker/examples/worker.toml`).
        #[arg(long)]
        config: PathBuf,
    },
    /// What the worker's state holds (running or not): each job it took, its role, its stage,
    /// the transactions it saw finalized, and why a job stopped or ended; and what the market
    /// owes its account now (when the node answers).
    Status {
        /// The worker's config.
        #[arg(long)]
        config: PathBuf,
    },
}

/// Capacity of a pledge, or what a job needs.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct CapacityArgs {
    /// Accelerator class: 0 CPU, 1 consumer GPU, 2 datacenter GPU, 3 multi-GPU node.
    #[arg(long, default_value_t = 0)]
    pub accelerator: u8,
    /// Accelerator memory, GiB.
    #[arg(long, default_value_t = 0)]
    pub memory_gib: u32,
    /// Throughput, work units per block.
    #[arg(long, default_value_t = 0)]
    pub throughput: u32,
}

impl CapacityArgs {
    /// The capacity these flags give.
    pub fn capacity(&self) -> iollm_types::market::Capacity {
        iollm_types::market::Capacity {
            accelerator: self.accelerator,
            memory_gib: self.memory_gib,
            throughput: self.throughput,
        }
    }
}

/// `iollm job …`
#[derive(Debug, Subcommand)]
pub enum JobAction {
    /// Post a job escrowing its reward; prints the job id.
    Post {
        /// A training job's spec (`iollm-job-v1` JSON, `worker/examples/tiny.job.json`):
        /// checked, its dataset fetched and checked against its CID, added to IPFS and posted
        /// with the game spec it commits (step, config hash, corpus root, checkpoints, initial
        /// state root), so its result can be challenged by the game the contracts decide.
        #[arg(long, required_unless_present = "spec_cid", conflicts_with = "spec_cid")]
        spec: Option<PathBuf>,
        /// An evaluation's description (CID): an eval-path job, which needs --benchmark-cid.
        #[arg(long, value_parser = cid_text, requires = "benchmark_cid")]
        spec_cid: Option<String>,
        /// The artifact the job works for.
        #[arg(long)]
        artifact: u64,
        /// Work units.
        #[arg(long)]
        units: u64,
        /// Escrowed reward.
        #[arg(long)]
        reward: u128,
        /// Last block for the result: N, or +N blocks from now.
        #[arg(long)]
        deadline: String,
        /// Challenge window, blocks.
        #[arg(long, default_value_t = 10)]
        window: u32,
        /// Attestations needed (each attester locks a bond): at least the market's minimum.
        #[arg(long, default_value_t = 1)]
        verifiers: u8,
        /// Executor collateral (and challenge bond): at least the market's collateral factor
        /// times the job's reference value (reference price × units), which is the default.
        #[arg(long)]
        collateral: Option<u128>,
        /// Fee per attesting verifier.
        #[arg(long, default_value_t = 0)]
        verifier_fee: u128,
        /// CID of the benchmark an eval-path job evaluates (required for eval-path).
        #[arg(long, value_parser = cid_text)]
        benchmark_cid: Option<String>,
        /// Metric code the eval-path job's score measures, higher is better (0 accuracy, the
        /// default; 1 exact match; 2 pass@1; …).
        #[arg(long, requires = "benchmark_cid")]
        metric: Option<u8>,
        /// Bounty the eval-path job competes for: it must evaluate the bounty's benchmark and
        /// metric and settle before the bounty expires (tranches are refused until the
        /// verification game decides evaluations).
        #[arg(long, requires = "benchmark_cid")]
        bounty: Option<u32>,
        /// Only this provider (SS58) may claim the job; repeat for up to 8.
        #[arg(long = "executor", value_name = "SS58")]
        executors: Vec<String>,
        /// Blocks a side has for each move of a dispute game about this job (with --spec).
        #[arg(long, default_value_t = 20)]
        move_blocks: u32,
        /// Capacity the executor needs.
        #[command(flatten)]
        need: CapacityArgs,
    },
    /// Claim an open job.
    Claim {
        /// Job id.
        id: u64,
    },
    /// Submit the result of a claimed job: a training job's from its finished run (`--run`),
    /// an evaluation's as its roots.
    Submit {
        /// Job id.
        id: u64,
        /// Output CID.
        #[arg(long, value_parser = cid_text)]
        output_cid: String,
        /// Headline metric ×10⁶, higher is better.
        #[arg(long, default_value_t = 0)]
        score: u64,
        /// A training job's finished run (`iollm train --out DIR`): its trace and checks roots,
        /// the last step's loss and the proof of its last state, which the market checks.
        #[arg(long, required_unless_present = "trace_root", conflicts_with = "trace_root")]
        run: Option<PathBuf>,
        /// An evaluation's trace root, 64 hex digits.
        #[arg(long, requires = "checks_root")]
        trace_root: Option<String>,
        /// An evaluation's spot-check root, 64 hex digits.
        #[arg(long, requires = "trace_root")]
        checks_root: Option<String>,
    },
    /// Sign up to spot-check a job before its result is submitted (locks a bond): commits to a
    /// fresh secret, written to --secret-file, that `job attest` reveals.
    SignUp {
        /// Job id.
        id: u64,
        /// Where to keep the secret (created, never overwritten; without it the bond is lost).
        #[arg(long, default_value = "spotcheck.secret")]
        secret_file: PathBuf,
    },
    /// Spot-check a submitted job you signed up for: replays the segment your secret draws
    /// and the last one from the executor's run and attests when both match the executor's
    /// checks (the bond comes
    /// back with a fee; lost if a game proves the result wrong). A replay that misses the
    /// committed checkpoint is refused: challenge the result instead.
    Attest {
        /// Job id.
        id: u64,
        /// The secret `job sign-up` wrote.
        #[arg(long, default_value = "spotcheck.secret")]
        secret_file: PathBuf,
        /// The job's training config (default: the job's spec on IPFS).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The executor's output directory (its trace.json and checkpoints).
        #[arg(long)]
        run: PathBuf,
        /// Threads for the replay (default: IOLLM_THREADS, else all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Challenge a training job's result by the dispute game the contracts decide (locks a
    /// bond): your claim is your own run of the job (its trace.json), whose h_0 must be the
    /// job's. Prints the challenge's index and its game.
    Challenge {
        /// Job id.
        id: u64,
        /// Your output directory of the same job (`iollm train --out`), holding trace.json.
        #[arg(long)]
        run: PathBuf,
    },
    /// Challenge a training job's output package (locks a bond like `challenge`): the
    /// executor must prove, by UnixFS path proofs the dispute contract reads, what you ask of
    /// the package its result names, or lose. Ask `listing` (exactly config.json,
    /// model.safetensors and smip.json), `config` (config.json as the job committed it),
    /// `header:P` (piece P of the weights file's header) or `chunk:C` (the weights at chunk C
    /// are h_n's). Prints the challenge's index and its game.
    ChallengeOutput {
        /// Job id.
        id: u64,
        /// What the executor must prove.
        question: iollm_types::package::Question,
    },
    /// Challenge a training job's h_0 (locks a bond like `challenge`): the executor must show
    /// it is the initial state of the job's config and seed, by a descent of its tensors to one
    /// 4 KiB chunk the dispute contract recomputes from the seed, or lose. Refused here, before
    /// anything is sent, when the committed h_0 is that state (the challenge would lose).
    /// Prints the challenge's index and its game; play it with `iollm dispute play`.
    ChallengeInitial {
        /// Job id.
        id: u64,
    },
    /// Settle a job's challenge once its game is decided or its side to move is late
    /// (anyone): pays on the verdict.
    SettleChallenge {
        /// Job id.
        id: u64,
        /// The challenge's index on the job (`iollm job show` lists them).
        index: u16,
    },
    /// Defend a result you attested against one of its accusations (each game its executor
    /// lost, which it may have thrown): a game of your own against that game's claim, you in
    /// the executor's place. Play it with `iollm dispute play`; your bond comes back once you
    /// have won a defence against every accusation (`iollm job show` lists them).
    Defend {
        /// Job id.
        id: u64,
        /// The accusation's index on the job.
        accusation: u16,
    },
    /// Settle an accused attester of a job (anyone): slashed once it lost a defence or let an
    /// accusation's last block pass undefended; its bond back once every game of the job has
    /// ended and it won a defence against every accusation.
    SettleAttester {
        /// Job id.
        id: u64,
        /// The attester's sign-up index on the job (`iollm job show` lists them).
        sign_up: u8,
    },
    /// Settle a job after its challenge window.
    Finalize {
        /// Job id.
        id: u64,
    },
    /// Settle a job stuck past its state's deadline (anyone): refund an open job after its
    /// deadline, or slash a no-show executor past its submit-by block and reopen the job.
    Expire {
        /// Job id.
        id: u64,
    },
    /// Free your records of an ended job (the poster's spec, the executor's result, a
    /// verifier's sign-up, a challenger's settled game), getting back the storage deposits
    /// you paid for them; settlement itself frees nothing.
    Release {
        /// Job id.
        id: u64,
    },
    /// Show a job.
    Show {
        /// Job id.
        id: u64,
    },
}

/// `iollm dispute …`
#[derive(Debug, Subcommand)]
pub enum DisputeAction {
    /// Show a game: its level, whose move it is and by when, or its verdict.
    Show {
        /// Game id (`iollm job show` names a disputed job's game).
        id: u64,
    },
    /// End a game whose side to move missed its deadline, against that side (anyone).
    Timeout {
        /// Game id.
        id: u64,
    },
    /// Play your side of a game honestly until it is decided: every move you owe, recomputed
    /// from the job's training config (an initial game's, from its seed alone), and `timeout`
    /// when the other side is late.
    Play {
        /// Game id.
        id: u64,
        /// The job's training config (the one its game spec was made from); not needed for
        /// an initial game.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Threads for the replays (default: IOLLM_THREADS, else all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Prove what an output game asks of your output package (as its executor, or an
    /// attester defending it), from your run of the job and the package on IPFS.
    Prove {
        /// Game id.
        id: u64,
        /// The job's training config.
        #[arg(long)]
        config: PathBuf,
        /// Your output directory of the job (its trace.json and last checkpoint).
        #[arg(long)]
        run: PathBuf,
    },
}

/// `iollm bounty …`
#[derive(Debug, Subcommand)]
pub enum BountyAction {
    /// Fund a breakthrough bounty; prints its id.
    Post {
        /// CID of the benchmark.
        #[arg(long, value_parser = cid_text)]
        benchmark_cid: String,
        /// Metric code.
        #[arg(long, default_value_t = 0)]
        metric: u8,
        /// How much a score must beat the best by.
        #[arg(long)]
        margin: u64,
        /// Best score so far.
        #[arg(long, default_value_t = 0)]
        best: u64,
        /// Number of tranches.
        #[arg(long, default_value_t = 1)]
        tranches: u8,
        /// Block after which the rest can be reclaimed: N, or +N blocks from now.
        #[arg(long)]
        expires_at: String,
        /// Escrowed amount.
        #[arg(long)]
        amount: u128,
    },
    /// Claim a tranche for a finalized job that competed for a bounty (anyone); prints the
    /// amount. Refused until the verification game decides evaluations.
    Pay {
        /// Job id.
        job: u64,
    },
    /// Return what is left of an expired bounty to its sponsor (anyone); prints the amount.
    Reclaim {
        /// Bounty id.
        id: u32,
    },
}

/// `iollm split …`
#[derive(Debug, Subcommand)]
pub enum SplitAction {
    /// Set an artifact's profit split (basis points summing to 10000).
    Set {
        /// Artifact id.
        artifact: u64,
        /// To the owner.
        #[arg(long)]
        designer_bps: u16,
        /// To compute share holders.
        #[arg(long, default_value_t = 0)]
        compute_bps: u16,
        /// To the parents.
        #[arg(long, default_value_t = 0)]
        upstream_bps: u16,
        /// To the treasury.
        #[arg(long, default_value_t = 0)]
        treasury_bps: u16,
    },
    /// Put an announced rule (one that lowers the upstream or compute share) in force once its timelock
    /// has passed (anyone).
    Apply {
        /// Artifact id.
        artifact: u64,
    },
    /// Let an account post jobs whose executors earn share units of your artifact.
    Authorise {
        /// Artifact id.
        artifact: u64,
        /// The poster (SS58).
        #[arg(long)]
        delegate: String,
        /// Withdraw the authorisation instead.
        #[arg(long)]
        revoke: bool,
    },
}

/// `iollm revenue …`
#[derive(Debug, Subcommand)]
pub enum RevenueAction {
    /// Pay revenue to an artifact.
    Pay {
        /// Artifact id.
        artifact: u64,
        /// Amount.
        #[arg(long)]
        amount: u128,
    },
}

/// `iollm devnet …`
#[derive(Debug, Subcommand)]
pub enum DevnetAction {
    /// Start a node on 127.0.0.1, build and deploy the contracts, write deployments/devnet.json.
    Up {
        /// Worker daemons to start on dev accounts (charlie the executor; dave and eve
        /// verifiers), each pledged first, with a block clock (`devnet clock`); `devnet down`
        /// stops them.
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// Make a block every interval (the dev node seals one only per transaction, so windows
    /// counted in blocks would not pass on an idle devnet), until stopped.
    Clock {
        /// Milliseconds between blocks.
        #[arg(long, default_value_t = 1000)]
        every_ms: u64,
    },
    /// Report the running devnet.
    Status,
    /// Stop the node, IPFS daemon and workers `up` started.
    Down,
}

/// `iollm model …`
#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Register an artifact by its manifest CID; prints the new id.
    Register {
        /// CID of the manifest on IPFS.
        #[arg(long, value_parser = cid_text)]
        cid: String,
        /// model, dataset or path.
        #[arg(long, default_value = "model")]
        kind: String,
        /// A parent by lineage, `ID` or `ID:relation` (finetune, adapter, merge, quantize,
        /// distill); repeatable, at most 4.
        #[arg(long = "parent")]
        parents: Vec<String>,
        /// Profit split `designer,compute,upstream,treasury` in basis points (sum 10000).
        #[arg(long, default_value = "10000,0,0,0")]
        split: String,
        /// Register the verified output of this finalized market job (provenance): `--cid`
        /// must be the job's verified output CID, and the signer the job's poster.
        #[arg(long, conflicts_with = "dry_run")]
        from_job: Option<u64>,
        /// Only dry-run: print the gas and storage deposit it would cost, submit nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Register a new version of an artifact you own; prints the new id.
    NewVersion {
        /// The artifact it succeeds.
        id: u64,
        /// CID of the new manifest.
        #[arg(long, value_parser = cid_text)]
        cid: String,
    },
    /// Give an artifact you own to another account.
    Transfer {
        /// The artifact.
        id: u64,
        /// The new owner (SS58).
        #[arg(long)]
        to: String,
    },
    /// Mark an artifact you own obsolete (it stays readable and keeps earning).
    Deprecate {
        /// The artifact.
        id: u64,
    },
    /// Show a registered artifact.
    Show {
        /// Its id.
        id: u64,
    },
    /// Publish a package directory: write its manifest (smip.json; a dataset's
    /// smip-dataset.json), add it to IPFS, register it on chain.
    Publish {
        /// The package directory (a model's in Hugging Face layout: config.json,
        /// model.safetensors, …; a dataset's: its data files and smip-dataset.json naming its
        /// splits).
        dir: PathBuf,
        /// model, dataset or path.
        #[arg(long, default_value = "model")]
        kind: String,
        /// Only add it to IPFS and print its CID, register nothing (a job's output, added with
        /// 32 KiB leaves as the worker adds one: submit the CID with `job submit --output-cid`;
        /// the poster registers it with `--from-job`).
        #[arg(long)]
        no_register: bool,
    },
    /// Pull a registered package into a new directory, verifying every byte against its CID.
    Pull {
        /// Its id.
        id: u64,
        /// Destination directory (must not exist).
        dir: PathBuf,
        /// Largest package accepted (sum of the sizes its smip.json lists): bytes, or with a
        /// unit (`500MB`, `20GiB`). Checked before anything is written, and while writing.
        #[arg(long, default_value = "64GiB", value_parser = parse_size)]
        max_size: u64,
    },
    /// Make an SMIP package of a GGUF model (llama.cpp's format): checks that it runs here,
    /// copies it into a new directory and writes its smip.json (format, architecture,
    /// parameters, interfaces, runtime needs); then `model publish DIR`.
    Import {
        /// The .gguf file.
        #[arg(long)]
        gguf: PathBuf,
        /// New package directory (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Package name (default: the model's own, as a slug).
        #[arg(long)]
        name: Option<String>,
        /// SPDX license (default: the model's `general.license`).
        #[arg(long)]
        license: Option<String>,
    },
    /// Serve a model behind an OpenAI-compatible API (/v1/chat/completions, /v1/completions,
    /// /v1/models, /health, /metrics): a registered artifact id (pulled and verified first), a
    /// package directory or a GGUF file.
    Serve {
        /// Artifact id, package directory, or .gguf file.
        model: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Name of the model in the API (default: the artifact id, or the file's name).
        #[arg(long)]
        name: Option<String>,
        /// Most requests decoded together in one batch.
        #[arg(long, default_value_t = 8)]
        max_batch: usize,
        /// Most requests waiting for a place in the batch; more are refused with 503.
        #[arg(long, default_value_t = 64)]
        max_queue: usize,
        /// Compute threads (default: IOLLM_THREADS, else all cores). Replies do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Largest package accepted when pulling an artifact (as for `model pull`).
        #[arg(long, default_value = "64GiB", value_parser = parse_size)]
        max_size: u64,
    },
}

/// A CID argument, refused before anything is sent unless it parses as a CID
/// (multiformats) and is in a text form the contracts accept: CIDv0 (`Qm…`) or base32 CIDv1
/// (`b…`), the two forms Kubo prints.
fn cid_text(text: &str) -> Result<String, String> {
    iollm_content::parse_cid(text).map_err(|e| e.to_string())?;
    iollm_types::cid::check_cid_shape(text.as_bytes()).map_err(|_| {
        format!("{text:?}: the contracts take CIDv0 (Qm…) or base32 CIDv1 (b…) text only")
    })?;
    Ok(text.to_owned())
}

/// Parses a byte count: `1048576`, `500MB`, `20GiB`, `1.5TB` (SI units are powers of 1000,
/// binary units of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit in {text:?}; use B, MB, GB, TB, MiB, GiB or TiB"
            ))
        }
    };
    let n: f64 = num.parse().map_err(|_| format!("{text:?} is not a size (e.g. 500MB, 20GiB)"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn market_commands_parse() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace()).map(|c| c.command);
        let cmd =
            parse("iollm pledge --stake 5 --price 2 --discount-bps 2000 --accelerator 2").unwrap();
        assert!(matches!(
            cmd,
            Command::Pledge {
                stake: 5,
                price: 2,
                discount_bps: 2000,
                capacity: CapacityArgs { accelerator: 2, .. }
            }
        ));
        let cmd = parse("iollm job post --spec-cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --artifact 1 --units 3 --reward 9 --deadline +50 --benchmark-cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --metric 2 --bounty 2")
            .unwrap();
        assert!(matches!(
            cmd,
            Command::Job {
                action: JobAction::Post { bounty: Some(2), units: 3, metric: Some(2), .. }
            }
        ));
        let no_benchmark = "iollm job post --spec-cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --artifact 1 --units 3 --reward 9 --deadline +50 --metric 2";
        assert!(parse(no_benchmark).is_err(), "a metric needs its benchmark");
        let cmd = parse("iollm withdraw --artifact 3").unwrap();
        assert!(matches!(cmd, Command::Withdraw { artifact: Some(3), splitter: false }));
        assert!(parse("iollm split set 1 --designer-bps 10000").is_ok());
        assert!(parse("iollm revenue pay 1 --amount 10").is_ok());
        assert!(parse("iollm bounty post --benchmark-cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --margin 1 --expires-at 9 --amount 5")
            .is_ok());
        assert!(parse("iollm job claim").is_err(), "the job id is required");
    }

    #[test]
    fn cids_are_checked_before_anything_is_sent() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace()).map(|c| c.command);
        let err = parse("iollm model register --cid notacid").unwrap_err().to_string();
        assert!(err.contains("invalid value 'notacid' for '--cid <CID>'"), "{err}");
        // A valid CID in a multibase the contracts do not take (base32 upper case).
        let upper = "BAFKREIFJJCIE6LYPI6NY7AMXNFFTAGCLBUXNDQONFIPMB64F2KM2DEVEI4";
        let err = parse(&format!("iollm model new-version 1 --cid {upper}")).unwrap_err();
        assert!(err.to_string().contains("base32 CIDv1 (b…) text only"), "{err}");
        for line in [
            "iollm job submit 1 --output-cid Qm --run DIR",
            "iollm job post --spec-cid x --artifact 1 --units 3 --reward 9 --deadline +50",
            "iollm bounty post --benchmark-cid b --margin 1 --expires-at 9 --amount 5",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
        let lower = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
        assert!(parse(&format!("iollm model register --cid {lower}")).is_ok());
        // A result is a training run, or an evaluation's two roots: one of them, whole.
        let submit = |rest: &str| parse(&format!("iollm job submit 1 --output-cid {lower} {rest}"));
        assert!(submit("--run DIR").is_ok());
        assert!(submit("--trace-root 00 --checks-root 00").is_ok());
        for rest in [
            "",
            "--trace-root 00",
            "--checks-root 00",
            "--run DIR --trace-root 00 --checks-root 00",
        ] {
            assert!(submit(rest).is_err(), "{rest}");
        }
        // A run trains a config file or a job's spec, one of them; a job is posted from a
        // training spec or, for an evaluation, a description CID with its benchmark.
        assert!(parse("iollm train --job 3 --out D").is_ok());
        assert!(parse("iollm train --config c.toml --out D").is_ok());
        assert!(parse("iollm train --out D").is_err());
        assert!(parse("iollm train --config c.toml --job 3 --out D").is_err());
        let post = |rest: &str| {
            parse(&format!(
                "iollm job post --artifact 1 --units 3 --reward 9 --deadline +50 {rest}"
            ))
        };
        assert!(post("--spec job.json").is_ok());
        assert!(post(&format!("--spec-cid {lower} --benchmark-cid {lower}")).is_ok());
        assert!(post("").is_err());
        assert!(post(&format!("--spec-cid {lower}")).is_err(), "an evaluation names its benchmark");
        assert!(post(&format!("--spec job.json --spec-cid {lower}")).is_err());
    }

    #[test]
    fn registry_commands_parse() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace()).map(|c| c.command);
        let cmd = parse("iollm model register --cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --from-job 4 --parent 2:distill").unwrap();
        assert!(matches!(
            cmd,
            Command::Model { action: ModelAction::Register { from_job: Some(4), ref parents, .. } }
                if parents == &["2:distill"]
        ));
        assert!(
            parse("iollm model register --cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --from-job 4 --dry-run").is_err(),
            "a dry run of a provenance registration is not offered"
        );
        let cmd =
            parse("iollm model new-version 3 --cid QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
                .unwrap();
        assert!(matches!(cmd, Command::Model { action: ModelAction::NewVersion { id: 3, .. } }));
        let cmd = parse("iollm model transfer 3 --to 5Grw").unwrap();
        assert!(
            matches!(cmd, Command::Model { action: ModelAction::Transfer { id: 3, ref to } } if to == "5Grw")
        );
        assert!(parse("iollm model transfer 3").is_err(), "the new owner is required");
        let cmd = parse("iollm model deprecate 3").unwrap();
        assert!(matches!(cmd, Command::Model { action: ModelAction::Deprecate { id: 3 } }));
        let cmd = parse("iollm job challenge 3 --run /tmp/run").unwrap();
        assert!(matches!(cmd, Command::Job { action: JobAction::Challenge { id: 3, .. } }));
        let cmd = parse("iollm job challenge-output 3 chunk:7").unwrap();
        assert!(matches!(
            cmd,
            Command::Job {
                action: JobAction::ChallengeOutput {
                    id: 3,
                    question: iollm_types::package::Question::Chunk(7)
                }
            }
        ));
        assert!(parse("iollm job challenge-output 3 weights").is_err(), "not a question");
        let cmd = parse("iollm job challenge-initial 3").unwrap();
        assert!(matches!(cmd, Command::Job { action: JobAction::ChallengeInitial { id: 3 } }));
        let cmd = parse("iollm dispute prove 4 --config c.toml --run r").unwrap();
        assert!(matches!(cmd, Command::Dispute { action: DisputeAction::Prove { id: 4, .. } }));
        let cmd = parse("iollm job settle-challenge 3 1").unwrap();
        assert!(matches!(
            cmd,
            Command::Job { action: JobAction::SettleChallenge { id: 3, index: 1 } }
        ));
        let cmd = parse("iollm job defend 3 1").unwrap();
        assert!(matches!(cmd, Command::Job { action: JobAction::Defend { id: 3, accusation: 1 } }));
        assert!(parse("iollm job defend 3").is_err(), "the accusation is required");
        let cmd = parse("iollm job settle-attester 3 2").unwrap();
        assert!(matches!(
            cmd,
            Command::Job { action: JobAction::SettleAttester { id: 3, sign_up: 2 } }
        ));
        let cmd = parse("iollm dispute show 2").unwrap();
        assert!(matches!(cmd, Command::Dispute { action: DisputeAction::Show { id: 2 } }));
        let cmd = parse("iollm dispute timeout 2").unwrap();
        assert!(matches!(cmd, Command::Dispute { action: DisputeAction::Timeout { id: 2 } }));
        let cmd = parse("iollm dispute play 2 --config tiny.toml").unwrap();
        assert!(matches!(cmd, Command::Dispute { action: DisputeAction::Play { id: 2, .. } }));
        let cmd = parse("iollm dispute play 2").unwrap();
        let no_config = matches!(
            cmd,
            Command::Dispute { action: DisputeAction::Play { id: 2, config: None, .. } }
        );
        assert!(no_config, "an initial game is played without the job's config");
        assert!(parse("iollm job challenge 3").is_err(), "--run is required");
        let cmd = parse("iollm bounty reclaim 2").unwrap();
        assert!(matches!(cmd, Command::Bounty { action: BountyAction::Reclaim { id: 2 } }));
    }
}
