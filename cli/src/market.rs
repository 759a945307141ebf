//! `iollm pledge | job … | bounty … | split … | revenue pay | withdraw | balance`: the market
//! and splitter contracts from the command line. Each function is one contract call through
//! `iollm-chain`'s typed clients; the output layer prints what they return.

use iollm_chain::contract::Executed;
use iollm_chain::Connection;
use iollm_chain::Signer;
use iollm_compute::merkle::Sha;
use iollm_devnet::DevnetError;
use iollm_types::market::{
    check_bounty_job, check_job, Benchmark, BountyId, Capacity, Challenge, Commitment, Error,
    FinalState, Job, JobId, JobKind, JobSpec, JobTerms, Pledge, Verification,
};
use iollm_types::registry::ArtifactId;
use iollm_types::split::SplitRule;
use iollm_types::spotcheck;
use iollm_types::{Balance, BlockNumber};

/// Why a market command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarketCmdError {
    /// `--trace-root` is not 32 bytes of hex.
    #[error("the trace root must be 64 hex digits (32 bytes), got {0:?}")]
    BadTraceRoot(String),
    /// A block number is neither `N` nor `+N`.
    #[error("bad block number {0:?}: expected N (absolute) or +N (blocks from now)")]
    BadBlock(String),
    /// No job has this id.
    #[error("no job with id {0}")]
    NoSuchJob(JobId),
    /// Checked locally before anything was sent: the market would refuse this (same message).
    #[error("market refused: {}", .0.message())]
    Refused(iollm_types::market::Error),
    /// The job's committed h_0 is its config's initial state: an initial challenge would lose.
    #[error(
        "job {0}'s h_0 is the initial state of its config and seed: an initial challenge would \
         lose its bond (nothing was sent)"
    )]
    InitialIsHonest(JobId),
    /// A spot check was not made (the result is wrong, or the run is not the committed one).
    #[error(transparent)]
    SpotCheck(#[from] iollm_worker::spotcheck::SpotCheckError),
    /// The OS gave no randomness for a secret.
    #[error("no randomness for a spot-check secret: {0}")]
    NoRandomness(String),
    /// A run directory, training config or job spec cannot be used.
    #[error("cannot use {path}: {reason}")]
    BadRun {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A training config file that cannot be read or is refused (the cause is the source).
    #[error("cannot use {path}")]
    Config {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: iollm_compute::Error,
    },
    /// A training config the trainer refuses.
    #[error("bad training config: {0}")]
    BadConfig(String),
    /// The job starts from a base model first registered as another artifact than the one
    /// it is for.
    #[error(
        "the spec's base model {base} was not first registered as artifact {artifact} (the job \
         is posted for the artifact it fine-tunes): post it with --artifact set to the first \
         artifact registered with that package (`iollm model show ID` shows an artifact's)"
    )]
    NotItsBase {
        /// The artifact the job was to be posted for.
        artifact: ArtifactId,
        /// The base package's CID.
        base: String,
    },
    /// A job spec is refused or cannot be read.
    #[error(transparent)]
    Spec(#[from] iollm_worker::job::JobSpecError),
    /// The IPFS client cannot be set up.
    #[error(transparent)]
    Ipfs(#[from] iollm_content::Error),
    /// No game has this id.
    #[error("no dispute game with id {0} (or it was settled and closed)")]
    NoSuchGame(u64),
    /// A game about the run, played without the job's training config.
    #[error("game {0} is about the job's run: pass --config FILE, the job's training config")]
    NeedsConfig(u64),
    /// A game could not be played.
    #[error(transparent)]
    Play(#[from] iollm_worker::player::PlayError),
    /// An output game's proof could not be made.
    #[error(transparent)]
    Output(#[from] iollm_worker::output::OutputError),
    /// Chain or deployment trouble.
    #[error(transparent)]
    Devnet(#[from] DevnetError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] iollm_chain::ChainError),
}

/// Resolves a block number given as `N` (absolute) or `+N` (N blocks after the latest one).
pub async fn resolve_block(ctx: &Connection, text: &str) -> Result<BlockNumber, MarketCmdError> {
    let bad = || MarketCmdError::BadBlock(text.into());
    match text.strip_prefix('+') {
        Some(delta) => {
            let delta: BlockNumber = delta.parse().map_err(|_| bad())?;
            ctx.chain.best_block().await?.checked_add(delta).ok_or_else(bad)
        }
        None => text.parse().map_err(|_| bad()),
    }
}

/// Parses a 32-byte trace root from hex (with or without `0x`).
pub fn parse_trace_root(text: &str) -> Result<[u8; 32], MarketCmdError> {
    let bad = || MarketCmdError::BadTraceRoot(text.into());
    let bytes = hex::decode(text.trim_start_matches("0x")).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// `iollm pledge`: pledges (or re-prices) capacity, adding `stake`.
pub async fn pledge(
    ctx: &Connection,
    signer: &Signer,
    capacity: Capacity,
    price_per_unit: Balance,
    discount_bps: u16,
    stake: Balance,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.pledge(signer, capacity, price_per_unit, discount_bps, stake).await?)
}

/// `iollm unpledge`: starts unbonding `amount` of free stake.
pub async fn unpledge(
    ctx: &Connection,
    signer: &Signer,
    amount: Balance,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.unpledge(signer, amount).await?)
}

/// What `iollm job post` asks for.
#[derive(Debug, Clone)]
pub struct PostJob {
    /// The job spec.
    pub spec: JobSpec,
    /// The escrowed reward.
    pub reward: Balance,
}

impl PostJob {
    /// A job of `kind` for `artifact` with the given verification terms, open to any pledged
    /// provider, evaluating nothing and competing for no bounty (see the `with_` methods).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: JobKind,
        spec_cid: &str,
        artifact: ArtifactId,
        units: u64,
        need: Capacity,
        deadline: BlockNumber,
        verification: Verification,
        reward: Balance,
    ) -> PostJob {
        let spec = JobSpec {
            kind,
            spec_cid: spec_cid.as_bytes().to_vec(),
            artifact,
            units,
            need,
            deadline,
            verification,
            bounty: None,
            benchmark: None,
            executors: Vec::new(),
            game: None,
        };
        PostJob { spec, reward }
    }

    /// A training job the dispute game judges: its commitments for the game.
    pub fn with_game(mut self, game: iollm_types::market::GameSpec) -> PostJob {
        self.spec.game = Some(game);
        self
    }

    /// An evaluation of the benchmark at `cid` by `metric`, competing for `bounty` if given.
    pub fn with_benchmark(mut self, cid: &str, metric: u8, bounty: Option<BountyId>) -> PostJob {
        self.spec.benchmark = Some(Benchmark { cid: cid.as_bytes().to_vec(), metric });
        self.spec.bounty = bounty;
        self
    }

    /// Only these providers may claim the job.
    pub fn with_executors(mut self, executors: Vec<[u8; 32]>) -> PostJob {
        self.spec.executors = executors;
        self
    }
}

/// `iollm job post`: returns the job id. The market's rules (its current parameters, the next
/// block) are checked here first, so a refusal costs nothing and reads as the contract's; so
/// is the registry's for the job's output: a job from a base model is posted for the first
/// artifact registered with that base's package, of which its output is then a fine-tune.
pub async fn post_job(
    ctx: &Connection,
    signer: &Signer,
    job: &PostJob,
) -> Result<Executed<JobId>, MarketCmdError> {
    let market = ctx.market()?;
    let (_, _, _, params) = market.params().await?;
    let next = ctx.chain.best_block().await?.saturating_add(1);
    check_job(&job.spec, job.reward, &params, next).map_err(MarketCmdError::Refused)?;
    if let Some(id) = job.spec.bounty {
        let bounty = market
            .bounty(id)
            .await?
            .ok_or(MarketCmdError::Refused(iollm_types::market::Error::UnknownBounty))?;
        check_bounty_job(&job.spec, &bounty, &params).map_err(MarketCmdError::Refused)?;
    }
    if let Some(base) = job.spec.game.as_ref().and_then(|g| g.base.as_ref()) {
        let base = String::from_utf8_lossy(base).into_owned();
        if ctx.registry()?.first_with(&base).await? != Some(job.spec.artifact) {
            return Err(MarketCmdError::NotItsBase { artifact: job.spec.artifact, base });
        }
    }
    Ok(market.post_job(signer, &job.spec, job.reward).await?)
}

/// The least collateral the market accepts for a job of `units` work units now.
pub async fn min_collateral(ctx: &Connection, units: u64) -> Result<Balance, MarketCmdError> {
    let (_, _, _, params) = ctx.market()?.params().await?;
    params
        .min_collateral(units)
        .ok_or(MarketCmdError::Refused(iollm_types::market::Error::BadUnits))
}

/// What `iollm job claim` checks before it claims a training job
/// ([`iollm_worker::job::check_before_claim`]).
pub async fn check_before_claim(ctx: &Connection, job: JobId) -> Result<(), MarketCmdError> {
    let store = iollm_artifacts::ipfs_client(ctx)?;
    Ok(iollm_worker::job::check_before_claim(&ctx.market()?, &store, job).await?)
}

/// `iollm job claim` (after [`check_before_claim`]).
pub async fn claim(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.claim(signer, job).await?)
}

/// `iollm job submit --run DIR`: the result of a training run, read from its directory (the
/// trace and checks roots, the last step's loss and the proof of the last state), checked
/// against the job's game spec before anything is sent.
pub async fn submit_run(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    output_cid: &str,
    score: u64,
    run: &std::path::Path,
) -> Result<Executed<()>, MarketCmdError> {
    let bad = |reason: String| MarketCmdError::BadRun { path: run.to_owned(), reason };
    let terms =
        ctx.market()?.job_terms(job).await?.ok_or(MarketCmdError::Refused(Error::UnknownJob))?;
    let game = terms.game.ok_or_else(|| {
        bad(format!(
            "job {job} is an evaluation, not a training job: submit it with --trace-root and \
             --checks-root"
        ))
    })?;
    let (commitment, last) =
        iollm_worker::submission(run, &game, output_cid, score).map_err(|e| bad(e.to_string()))?;
    submit(ctx, signer, job, &commitment, Some(&last)).await
}

/// `iollm job submit`: a result as committed, with the proof of its last state for a training
/// job ([`submit_run`] reads both from a run).
pub async fn submit(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    commitment: &Commitment,
    last: Option<&FinalState>,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.submit_result(signer, job, commitment, last).await?)
}

/// A fresh random spot-check secret (keep it before signing up: [`keep_secret`]).
pub fn fresh_secret() -> Result<[u8; 32], MarketCmdError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| MarketCmdError::NoRandomness(e.to_string()))?;
    Ok(secret)
}

/// `iollm job sign-up`: commits to `secret` for the job's spot check (locking a bond); the
/// caller reveals it with [`spot_check`] or [`reveal`].
pub async fn sign_up(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    secret: &[u8; 32],
) -> Result<Executed<u8>, MarketCmdError> {
    let commit = spotcheck::commitment::<Sha>(&signer.account_bytes(), secret);
    Ok(ctx.market()?.sign_up(signer, job, commit).await?)
}

/// Writes a spot-check secret to `path` (hex), creating it readable by its owner only; an
/// existing file is never overwritten (it may hold another sign-up's secret).
pub fn keep_secret(path: &std::path::Path, secret: &[u8; 32]) -> Result<(), MarketCmdError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bad = |e: std::io::Error| MarketCmdError::BadRun {
        path: path.to_owned(),
        reason: format!("{e} (choose another --secret-file)"),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(bad)?;
    f.write_all(format!("{}\n", hex::encode(secret)).as_bytes()).map_err(bad)
}

/// Reads a secret [`keep_secret`] wrote.
pub fn read_secret(path: &std::path::Path) -> Result<[u8; 32], MarketCmdError> {
    let bad = |reason: String| MarketCmdError::BadRun { path: path.to_owned(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    iollm_compute::train::parse_hash(text.trim())
        .ok_or_else(|| bad("not a spot-check secret (64 hex digits)".into()))
}

pub use iollm_worker::spotcheck::{segments_text, SpotCheck};

/// `iollm job attest`: [`iollm_worker::spotcheck::spot_check`] from the run directory `run`
/// under the job's config `cfg`.
pub async fn spot_check(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    secret: &[u8; 32],
    (cfg, run): (&iollm_compute::TrainConfig, &std::path::Path),
    runtime: &iollm_compute::Runtime,
) -> Result<(Executed<()>, SpotCheck), MarketCmdError> {
    let trainer = std::sync::Arc::new(trainer_of(cfg, runtime)?);
    let (market, store) = (ctx.market()?, iollm_artifacts::ipfs_client(ctx)?);
    Ok(iollm_worker::spotcheck::spot_check(&market, &store, signer, job, secret, &trainer, run)
        .await?)
}

/// `iollm job finalize`.
pub async fn finalize(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.finalize(signer, job).await?)
}

/// `iollm job release`.
pub async fn release(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.release(signer, job).await?)
}

/// `iollm job expire`.
pub async fn expire(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.expire(signer, job).await?)
}

/// `iollm job show`: the job, its terms (benchmark, allow-list) and its result.
pub async fn show_job(
    ctx: &Connection,
    job: JobId,
) -> Result<(Job, Option<JobTerms>, Option<Commitment>), MarketCmdError> {
    let market = ctx.market()?;
    let record = market.job(job).await?.ok_or(MarketCmdError::NoSuchJob(job))?;
    Ok((record, market.job_terms(job).await?, market.result(job).await?))
}

/// `iollm job challenge`: the claim is the signer's own run of the job (`run/trace.json`); its
/// trace root, `h_0` and `h_n` with their paths open the game. Returns the challenge's index.
pub async fn challenge(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    run: &std::path::Path,
) -> Result<Executed<u16>, MarketCmdError> {
    let c = iollm_worker::challenge_claim(run)
        .map_err(|reason| MarketCmdError::BadRun { path: run.to_owned(), reason })?;
    let market = ctx.market()?;
    Ok(market.challenge(signer, job, c.trace_root, &c.first_path, c.last, &c.last_path).await?)
}

/// `iollm job challenge-initial`: challenges job `job`'s `h_0` in an initial game, bonded
/// from the signer's pledge; returns the challenge's index. Refused here, sending nothing,
/// when the committed `h_0` is the initial state of the job's config and seed or base model
/// ([`iollm_worker::initial_root`]): that challenge could only lose its bond.
pub async fn challenge_initial(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
) -> Result<Executed<u16>, MarketCmdError> {
    let market = ctx.market()?;
    if let Some(game) = market.job_terms(job).await?.and_then(|t| t.game) {
        let store = iollm_artifacts::ipfs_client(ctx)?;
        match iollm_worker::initial_root(&store, &game).await {
            Ok(root) if root == game.h0 => return Err(MarketCmdError::InitialIsHonest(job)),
            Ok(_) | Err(iollm_worker::job::JobSpecError::UnprovableBase { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(market.challenge_initial(signer, job).await?)
}

/// `iollm job settle-challenge`.
pub async fn settle_challenge(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    index: u16,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.settle_challenge(signer, job, index).await?)
}

/// `iollm job defend`: returns the defence's game.
pub async fn defend(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    accusation: u16,
) -> Result<Executed<u64>, MarketCmdError> {
    Ok(ctx.market()?.defend(signer, job, accusation).await?)
}

/// `iollm job settle-attester`.
pub async fn settle_attester(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
    sign_up: u8,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.market()?.settle_attester(signer, job, sign_up).await?)
}

/// Reads and checks a training config file (`--config`).
pub fn read_config(path: &std::path::Path) -> Result<iollm_compute::TrainConfig, MarketCmdError> {
    iollm_compute::TrainConfig::from_file(path)
        .map_err(|source| MarketCmdError::Config { path: path.to_owned(), source })
}

/// A trainer of `cfg` on `runtime`.
fn trainer_of(
    cfg: &iollm_compute::TrainConfig,
    runtime: &iollm_compute::Runtime,
) -> Result<iollm_compute::Trainer, MarketCmdError> {
    iollm_compute::Trainer::new(cfg, runtime).map_err(|e| MarketCmdError::BadConfig(e.to_string()))
}

/// The training config of job `job` from its spec (`iollm train --job`, and the default config
/// of `iollm job attest`; [`iollm_worker::job::config_of_job`]).
pub async fn job_config(
    ctx: &Connection,
    job: JobId,
    dir: &std::path::Path,
) -> Result<iollm_compute::TrainConfig, MarketCmdError> {
    let store = iollm_artifacts::ipfs_client(ctx)?;
    Ok(iollm_worker::job::config_of_job(&ctx.market()?, &store, job, dir).await?)
}

/// The spec in `file` read and checked ([`iollm_worker::job::JobDocument::parse`]): what
/// `iollm job post --spec FILE` refuses before it connects to anything.
pub fn check_spec_file(file: &std::path::Path) -> Result<(), MarketCmdError> {
    let bad = |reason: String| MarketCmdError::BadRun { path: file.to_owned(), reason };
    let bytes = std::fs::read(file).map_err(|e| bad(e.to_string()))?;
    iollm_worker::job::JobDocument::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    Ok(())
}

/// `iollm job post --spec FILE`: the spec checked, its dataset fetched and checked, the spec
/// added to IPFS ([`iollm_worker::job::publish`]); its CID and the game spec the job commits.
pub async fn publish_spec(
    ctx: &Connection,
    file: &std::path::Path,
    move_blocks: u32,
) -> Result<(String, iollm_types::market::GameSpec), MarketCmdError> {
    let bad = |reason: String| MarketCmdError::BadRun { path: file.to_owned(), reason };
    let bytes = std::fs::read(file).map_err(|e| bad(e.to_string()))?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let dir = tempfile::tempdir().map_err(|e| bad(e.to_string()))?;
    iollm_worker::job::publish(&store, &bytes, move_blocks, dir.path())
        .await
        .map_err(|e| bad(e.to_string()))
}

/// `iollm dispute play`: plays the signer's side of game `game` honestly until it is decided
/// (with `wait`) or owes nothing more ([`iollm_worker::player::play`]): an initial game from
/// the seed's state, which the game's terms define; any other as the run the job's config
/// (`config`, needed then) defines, recomputed here from the config alone. Returns the game as
/// it then stands.
pub async fn play_game(
    ctx: &Connection,
    signer: &Signer,
    game: u64,
    config: Option<&iollm_compute::TrainConfig>,
    runtime: &iollm_compute::Runtime,
    wait: bool,
    moved: impl FnMut(&'static str, &Executed<()>),
) -> Result<iollm_types::game::Game, MarketCmdError> {
    use iollm_types::bisection::Side;
    use iollm_worker::player::{play, Player};
    let held = show_game(ctx, game).await?;
    if held.initial {
        let store = iollm_artifacts::ipfs_client(ctx)?;
        let start = iollm_worker::initial_player_start(&store, &held.terms).await?;
        return Ok(play(ctx, signer, game, |side| start.player(side), wait, moved).await?);
    }
    let trainer = trainer_of(config.ok_or(MarketCmdError::NeedsConfig(game))?, runtime)?;
    // Made once, so that what a player builds is kept between moves.
    let players = [Side::Executor, Side::Challenger].map(|side| Player::new(side, &trainer, None));
    let story = |side| &players[usize::from(side == Side::Challenger)];
    Ok(play(ctx, signer, game, story, wait, moved).await?)
}

/// `iollm dispute prove`: the signer's proof of what output game `game` asks, from its run
/// `run` of the job `cfg` trains and the package on IPFS ([`iollm_worker::output::answer_game`]).
pub async fn prove_package(
    ctx: &Connection,
    signer: &Signer,
    game: u64,
    cfg: &iollm_compute::TrainConfig,
    run: &std::path::Path,
    runtime: &iollm_compute::Runtime,
) -> Result<Executed<()>, MarketCmdError> {
    let g = show_game(ctx, game).await?;
    let trainer = trainer_of(cfg, runtime)?;
    let store = iollm_artifacts::ipfs_client(ctx)?;
    let answer = iollm_worker::output::answer_game(&store, (game, &g), &trainer, run).await?;
    let call = iollm_types::dispute::calls::prove_package(game, &answer);
    Ok(ctx.dispute()?.play(signer, call).await?)
}

/// Challenge `index` of a job while its game is unsettled: the challenger and the game.
pub async fn game_of(
    ctx: &Connection,
    job: JobId,
    index: u16,
) -> Result<Option<Challenge>, MarketCmdError> {
    Ok(ctx.market()?.game_of(job, index).await?)
}

/// `iollm dispute show`.
pub async fn show_game(
    ctx: &Connection,
    game: u64,
) -> Result<iollm_types::game::Game, MarketCmdError> {
    ctx.dispute()?.game(game).await?.ok_or(MarketCmdError::NoSuchGame(game))
}

/// `iollm dispute timeout`.
pub async fn timeout_game(
    ctx: &Connection,
    signer: &Signer,
    game: u64,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.dispute()?.play(signer, iollm_types::dispute::calls::timeout(game)).await?)
}

/// `iollm bounty post`: returns the bounty id.
#[allow(clippy::too_many_arguments)]
pub async fn post_bounty(
    ctx: &Connection,
    signer: &Signer,
    benchmark_cid: &str,
    metric: u8,
    margin: u64,
    best: u64,
    tranches: u8,
    expires_at: BlockNumber,
    amount: Balance,
) -> Result<Executed<BountyId>, MarketCmdError> {
    let market = ctx.market()?;
    Ok(market
        .post_bounty(signer, benchmark_cid, metric, margin, best, tranches, expires_at, amount)
        .await?)
}

/// `iollm bounty pay`: claims a tranche for a finalized job; returns the amount.
pub async fn pay_bounty(
    ctx: &Connection,
    signer: &Signer,
    job: JobId,
) -> Result<Executed<Balance>, MarketCmdError> {
    Ok(ctx.market()?.pay_bounty(signer, job).await?)
}

/// `iollm bounty reclaim`: returns the amount taken back.
pub async fn reclaim_bounty(
    ctx: &Connection,
    signer: &Signer,
    bounty: BountyId,
) -> Result<Executed<Balance>, MarketCmdError> {
    Ok(ctx.market()?.reclaim_bounty(signer, bounty).await?)
}

/// `iollm split set`.
pub async fn set_split(
    ctx: &Connection,
    signer: &Signer,
    artifact: ArtifactId,
    rule: SplitRule,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.splitter()?.set_rule(signer, artifact, rule).await?)
}

/// `iollm split apply`: puts an announced rule (one lowering the upstream or compute share) in force
/// after its timelock.
pub async fn apply_split(
    ctx: &Connection,
    signer: &Signer,
    artifact: ArtifactId,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.splitter()?.apply_rule(signer, artifact).await?)
}

/// `iollm split authorise`: the artifact's owner lets `delegate` post jobs whose executors
/// earn share units of it (joint mining), or stops.
pub async fn authorise(
    ctx: &Connection,
    signer: &Signer,
    artifact: ArtifactId,
    delegate: [u8; 32],
    allowed: bool,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.splitter()?.authorise(signer, artifact, delegate, allowed).await?)
}

/// `iollm revenue pay`.
pub async fn pay_revenue(
    ctx: &Connection,
    signer: &Signer,
    artifact: ArtifactId,
    amount: Balance,
) -> Result<Executed<()>, MarketCmdError> {
    Ok(ctx.splitter()?.pay_revenue(signer, artifact, amount).await?)
}

/// Where `iollm withdraw` pulls from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawFrom {
    /// The market's balance (pay, fees, refunds, slash shares, matured unbonding).
    Market,
    /// The splitter's balance plus the share revenue of one artifact.
    Splitter(Option<ArtifactId>),
}

/// `iollm withdraw`: returns the amount paid out.
pub async fn withdraw(
    ctx: &Connection,
    signer: &Signer,
    from: WithdrawFrom,
) -> Result<Executed<Balance>, MarketCmdError> {
    Ok(match from {
        WithdrawFrom::Market => ctx.market()?.withdraw(signer).await?,
        WithdrawFrom::Splitter(artifact) => ctx.splitter()?.withdraw(signer, artifact).await?,
    })
}

/// What `iollm balance` reports for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balances {
    /// Free native balance.
    pub free: Balance,
    /// Withdrawable from the market.
    pub market: Balance,
    /// Withdrawable from the splitter (with the share revenue of the artifact asked about).
    pub splitter: Balance,
    /// The pledge, if any.
    pub pledge: Option<Pledge>,
}

/// `iollm balance`.
pub async fn balances(
    ctx: &Connection,
    account: [u8; 32],
    artifact: Option<ArtifactId>,
) -> Result<Balances, MarketCmdError> {
    let market = ctx.market()?;
    Ok(Balances {
        free: ctx.chain.free_balance(&iollm_chain::AccountId::from(account)).await?,
        market: market.balance_of(account).await?,
        splitter: ctx.splitter()?.balance_of(account, artifact).await?,
        pledge: market.pledge_of(account).await?,
    })
}
