//! The worker: a provider's daemon that earns from training jobs, in one of two roles
//! ([`Role`]). It follows the finalized chain and, for each job posted that it is configured
//! to take, checks the spec and dataset against what the job committed first.
//!
//! - *Executor*: claims (a dry-run first: losing the race to another provider is normal),
//!   trains off the async executor with progress in the logs, publishes its run (trace and
//!   checkpoints, for verifiers) and the output as an SMIP package naming it, submits the result with the proof of its last state, defends it (plays its side
//!   of every dispute game about it, recomputing what a move needs from the job's spec, and
//!   settles decided games), finalizes once the challenge window has passed, and withdraws its
//!   pay (`withdraw`).
//! - *Verifier*: signs up before the result (its secret recorded first: a lost secret is a
//!   lost bond), then spot-checks the result from the run the executor's worker published
//!   (trace and checkpoints; `provenance.run` of the output package): it fetches the
//!   checkpoints that start the segment its draw names and the last segment, and replays
//!   both (the last ends at `h_n`, which the loss and output come from). A segment that does not replay to
//!   its committed checkpoint it challenges at once with a claim about that segment alone
//!   (`player::segment_claim`). When the run is missing or not the committed one, it runs the
//!   job itself, then attests when its run is the committed one (revealing without a check
//!   when only the executor's checks are wrong), or challenges with its own run; either way it
//!   plays the challenger's side to the verdict and its settlement. An attester whose result's
//!   executor then loses a game (perhaps thrown) defends the result in a game of its own
//!   against each such game's claim; a challenger that won plays every such
//!   defence against its claim and settles the accused attesters.
//!
//! Either way, once a job it took has ended with no game of it still played, a sweep every
//! few polls releases what the job left on chain for this account (`release`: its sign-up,
//! result, settled challenge, empty ledger entry), so their storage deposits come back.
//!
//! Crash safety: every stage is recorded in [`State`] before the step after it starts; after a
//! restart, each job in flight goes on from its stage (training resumes from the last
//! checkpoint; a claim, sign-up, submission or challenge whose landing is unknown is looked up
//! on chain first), so nothing is sent twice.

use crate::state::{JobRecord, Stage, State, StateError};
use iollm_chain::market::MarketClient;
use iollm_chain::{ChainError, Connection, Signer};
use iollm_content::ContentStore;
use iollm_types::market::{Job, JobKind, JobState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod executor;
mod game;
mod verifier;

pub use executor::{publish_output, Output, Uploaded};

/// What a worker does with the training jobs it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Claims them, trains, publishes, submits, defends, finalizes.
    Executor,
    /// Signs up to spot-check them (bonded), replays two segments from the executor's published
    /// run and attests, or challenges the one that does not replay; a run missing or not the committed one, it
    /// runs the job itself, then attests when its run is the committed one, or challenges with
    /// its own run; and plays the game.
    Verifier,
}

impl Role {
    /// Its name in the state database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Executor => "executor",
            Role::Verifier => "verifier",
        }
    }
}

/// What a worker takes and how it works (`worker.toml`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// What it does (default: executor).
    #[serde(default = "executor")]
    pub role: Role,
    /// Where its state database and its jobs' runs live.
    pub state_dir: PathBuf,
    /// Jobs it trains at once (a job waiting for its result, window or game does not count).
    #[serde(default = "one")]
    pub max_jobs: usize,
    /// Executor: jobs whose reward is below this (planck) are left to others (TOML integers
    /// are 64-bit).
    #[serde(default)]
    pub min_reward: u64,
    /// Verifier: jobs whose verifier fee is below this (planck) are left to others.
    #[serde(default)]
    pub min_fee: u64,
    /// Finalize its jobs once their challenge window has passed (anyone may; someone must).
    #[serde(default = "yes")]
    pub finalize: bool,
    /// After each job it finalizes, withdraw what the market holds for it (its pay, and any
    /// bond a lost challenge left it) to its account.
    #[serde(default = "yes")]
    pub withdraw: bool,
    /// How often to ask the node for a new block while waiting, in milliseconds.
    #[serde(default = "half_a_second")]
    pub poll_ms: u64,
    /// Verifier: the last blocks of a job's window kept for its reveal (at least
    /// [`crate::spotcheck::REVEAL_MARGIN`]): a check not done by then is given up and the
    /// secret revealed without one, and a job whose window is no longer is left to others.
    /// Raise it where a reveal may wait longer to land (a busy worker's transactions go out
    /// one at a time, each waiting for finality).
    #[serde(default = "reveal_margin")]
    pub reveal_margin: u32,
    /// The license its output packages carry (SPDX).
    #[serde(default = "apache")]
    pub output_license: String,
    /// Where to serve Prometheus `/metrics` (a loopback address, e.g. `127.0.0.1:9616`; port
    /// 0 picks a free one); none when absent.
    #[serde(default)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Polls between two sweeps of finished jobs to release (`release_ended`).
const SWEEP_POLLS: u32 = 4;

/// The most `release` calls one sweep sends for one job (each frees a bounded amount); the
/// rest wait for the next block's sweep.
const RELEASES_A_SWEEP: usize = 4;

fn executor() -> Role {
    Role::Executor
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

fn half_a_second() -> u64 {
    500
}

fn reveal_margin() -> u32 {
    crate::spotcheck::REVEAL_MARGIN
}

fn apache() -> String {
    "Apache-2.0".into()
}

impl WorkerConfig {
    /// Where the state database is.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("state.sqlite")
    }

    /// Parses `worker.toml`; unknown keys are errors (a typo must not silently change nothing).
    pub fn parse(text: &str) -> Result<WorkerConfig, WorkerError> {
        let config: WorkerConfig =
            toml::from_str(text).map_err(|e| WorkerError::Config(e.message().to_owned()))?;
        if config.reveal_margin < crate::spotcheck::REVEAL_MARGIN {
            return Err(WorkerError::Config(format!(
                "reveal_margin = {}: keep at least {} blocks for a reveal",
                config.reveal_margin,
                crate::spotcheck::REVEAL_MARGIN
            )));
        }
        if let Some(addr) = config.metrics_listen.filter(|a| !a.ip().is_loopback()) {
            return Err(WorkerError::Config(format!(
                "metrics_listen = {addr}: serve metrics on a loopback address (127.0.0.1:PORT)"
            )));
        }
        Ok(config)
    }
}

/// Why the executor stopped, or a job could not go on.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The worker config is invalid.
    #[error("worker config: {0}")]
    Config(String),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A job's spec, dataset or game is not what it must be.
    #[error(transparent)]
    Spec(#[from] crate::job::JobSpecError),
    /// Training or reading the run failed.
    #[error(transparent)]
    Compute(#[from] iollm_compute::Error),
    /// Publishing the output failed.
    #[error(transparent)]
    Content(#[from] iollm_content::Error),
    /// Adding a package failed.
    #[error(transparent)]
    Artifact(#[from] iollm_artifacts::ArtifactError),
    /// A dispute game could not be played.
    #[error(transparent)]
    Play(crate::player::PlayError),
    /// A spot check was not made.
    #[error(transparent)]
    SpotCheck(#[from] crate::spotcheck::SpotCheckError),
    /// The finished run is not a result of the job.
    #[error(transparent)]
    Submission(#[from] crate::SubmissionError),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Why a job is left for now: the worker already runs `max_jobs`.
const BUSY: &str = "max_jobs busy";

/// The longest a job waits before trying a failed stage again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkerError {
    let what = what.into();
    move |source| WorkerError::Io { what, source }
}

/// A worker, ready to [`Worker::run`].
pub struct Worker<S> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    /// The state directory's lock, held while the worker lives.
    _lock: std::fs::File,
    market: MarketClient,
    conn: Connection,
    signer: Signer,
    store: S,
    state: State,
    config: WorkerConfig,
    /// Threads and device of training and replays.
    runtime: iollm_compute::Runtime,
    metrics: Arc<crate::metrics::Metrics>,
    /// Bound at open (a taken port fails there), served by [`Worker::run`].
    metrics_listener: std::sync::Mutex<Option<std::net::TcpListener>>,
    /// Held by the scrape being answered.
    scraping: tokio::sync::Mutex<()>,
    /// Held while a job looked at is counted against `max_jobs` and recorded, so that jobs
    /// looked at side by side never take more.
    taking: tokio::sync::Mutex<()>,
    /// A dishonest worker's alteration of its runs ([`Worker::with_fault`]; tests only).
    fault: std::sync::OnceLock<iollm_compute::game::Fault>,
}

impl<S: ContentStore + Send + Sync + 'static> Worker<S> {
    /// An executor signing with `signer`, fetching and publishing through `store`, training and
    /// replaying on `runtime`; opens (or creates) its state in `config.state_dir`.
    pub async fn open(
        mut conn: Connection,
        signer: Signer,
        store: S,
        config: WorkerConfig,
        runtime: iollm_compute::Runtime,
    ) -> Result<Worker<S>, WorkerError> {
        // A device named but missing fails here, not at the first job.
        runtime.exec()?;
        let metrics = crate::metrics::Metrics::new(&runtime.backend.to_string());
        conn.chain = conn.chain.with_send_observer(metrics.observer());
        let metrics_listener = match config.metrics_listen {
            Some(addr) if !addr.ip().is_loopback() => {
                return Err(WorkerError::Config(format!(
                    "metrics_listen = {addr}: serve metrics on a loopback address (127.0.0.1:PORT)"
                )))
            }
            Some(addr) => {
                let listener = std::net::TcpListener::bind(addr)
                    .map_err(io(format!("serving metrics on {addr}")))?;
                listener.set_nonblocking(true).map_err(io("the metrics listener"))?;
                Some(listener)
            }
            None => None,
        };
        let dir = &config.state_dir;
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        // It holds the verifier's secrets before their reveal: its owner's alone.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(format!("restricting {}", dir.display())))?;
        // One worker per state directory: two would claim and sign for the same jobs.
        let lock = iollm_content::fsutil::lock_exclusive(&dir.join("lock"))?.ok_or_else(|| {
            WorkerError::Config(format!(
                "state directory {} is in use by another worker; give each worker its own",
                dir.display()
            ))
        })?;
        let state = State::open(&config.state_file()).await?;
        let market = conn.market()?;
        state.bind(conn.chain.genesis_hash(), market.address().0, signer.account().0).await?;
        let inner = Inner {
            _lock: lock,
            market,
            conn,
            signer,
            store,
            state,
            config,
            runtime,
            metrics,
            metrics_listener: std::sync::Mutex::new(metrics_listener),
            scraping: tokio::sync::Mutex::new(()),
            taking: tokio::sync::Mutex::new(()),
            fault: std::sync::OnceLock::new(),
        };
        Ok(Worker { inner: Arc::new(inner) })
    }

    /// For tests, this worker made dishonest: every trainer it makes alters `fault`'s element
    /// ([`iollm_compute::Trainer::with_fault`]), so as executor it trains, publishes, submits
    /// and plays its games on one consistent wrong run (as verifier it replays wrongly too).
    /// Switched on for this worker alone, at run time (never a cargo feature, which would
    /// switch it on for every build); the first fault set stays.
    pub fn with_fault(self, fault: iollm_compute::game::Fault) -> Self {
        if self.inner.fault.set(fault).is_err() {
            tracing::warn!(target: "worker::executor", "A fault was set already; keeping it");
        }
        self
    }

    /// Where its `/metrics` are served, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        let listener = self.inner.metrics_listener.lock().unwrap_or_else(|e| e.into_inner());
        listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Its state (to inspect).
    pub fn state(&self) -> &State {
        &self.inner.state
    }

    /// Runs until `stop` is cancelled: the jobs in flight go on from their stages, then each
    /// finalized block's `JobPosted` events are looked at, each job in a task of its own, so
    /// that one whose checks take long (a large model's initial state, a base model's proofs)
    /// holds up no other. On the first start it also looks at every job still open. A job left
    /// for want of capacity (`max_jobs` busy) is looked at again at every block until taken or
    /// no longer open. An error of one job
    /// is noted on it and retried ([`MAX_BACKOFF`]), never ends the worker; the chain being
    /// away is waited out.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), WorkerError> {
        let me = &self.inner;
        let poll = Duration::from_millis(me.config.poll_ms);
        let mut tasks = tokio::task::JoinSet::new();
        let listener = me.metrics_listener.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut metrics_task = None;
        if let Some(listener) = listener {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(io("serving metrics"))?;
            let (inner, stop) = (Arc::clone(&self.inner), stop.clone());
            metrics_task = Some(tokio::spawn(async move {
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move |headers: axum::http::HeaderMap| {
                        let inner = Arc::clone(&inner);
                        async move { inner.scrape(&headers).await }
                    }),
                );
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await });
                if let Err(e) = served.await {
                    tracing::error!(target: "worker::metrics", error = %e, "Serving metrics failed");
                }
            }));
        }
        for record in me.state.in_flight().await? {
            tracing::info!(target: "worker::executor", job = record.id, stage = record.stage.as_str(), "Resuming");
            tasks.spawn(Arc::clone(&self.inner).carry(record.id, stop.clone()));
        }
        let mut deferred = std::collections::BTreeSet::new();
        // Jobs being looked at, each in a task of its own (its checks fetch and compute: a
        // large model's initial state, a base model's proofs), with the block whose events
        // named it: the cursor stays at the first of those until its look has ended, so a
        // worker stopped mid-look looks at the job again.
        let mut looks = Looks::new();
        let from = match me.state.cursor().await? {
            Some(next) => next,
            None => {
                let head = me.conn.chain.finalized_head().await?;
                for job in 1..=me.market.job_count().await? {
                    looks.start(&self.inner, job, head);
                }
                head + 1
            }
        };
        let mut follower = me.conn.chain.follow_finalized(from, poll);
        // What ended jobs left on chain is released by a sweep on a clock of its own: a job's
        // stage may end after the last block (a dev node seals blocks only for transactions).
        let mut sweep: Option<tokio::task::JoinHandle<()>> = None;
        let mut sweeps = tokio::time::interval(poll.saturating_mul(SWEEP_POLLS));
        sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let block = tokio::select! {
                () = stop.cancelled() => break,
                Some((job, found)) = looks.next(), if !looks.tasks.is_empty() => {
                    match found {
                        Look::Take => {
                            tasks.spawn(Arc::clone(&self.inner).carry(job, stop.clone()));
                        }
                        Look::Later => {
                            deferred.insert(job);
                        }
                        Look::Leave => {}
                    }
                    continue;
                }
                _ = sweeps.tick() => {
                    if sweep.as_ref().is_none_or(|s| s.is_finished()) {
                        let inner = Arc::clone(&self.inner);
                        sweep = Some(tokio::spawn(async move {
                            if let Err(e) = inner.release_ended().await {
                                tracing::warn!(target: "worker::executor", error = %e, "Releasing finished jobs failed; trying again");
                            }
                        }));
                    }
                    continue;
                }
                // Cancel-safe: the follower moves on only when it returns a block.
                block = follower.next() => block,
            };
            let block = match block {
                Ok(block) => block,
                Err(e) => {
                    tracing::warn!(target: "worker::executor", error = %e, "Reading the chain failed; retrying");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            for job in std::mem::take(&mut deferred) {
                looks.start(&self.inner, job, block.number);
            }
            for decoded in block.decoded(&me.conn.deployment) {
                use iollm_types::market::events::Event::JobPosted;
                if let Ok(iollm_chain::Decoded::Market(JobPosted(posted))) = decoded {
                    looks.start(&self.inner, posted.job, block.number);
                }
            }
            let cursor =
                looks.earliest().map_or(follower.position(), |b| b.min(follower.position()));
            me.state.set_cursor(cursor).await?;
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(target: "worker::executor", error = %e, "A job's task panicked");
                }
            }
        }
        // Each job's task stops at its next step or stage, its progress recorded.
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(target: "worker::executor", error = %e, "A job's task panicked");
            }
        }
        if let Some(task) = sweep {
            task.abort();
        }
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        Ok(())
    }
}

/// The jobs being looked at, each in a task of its own ([`Inner::look`], at most
/// [`MAX_LOOKS`] at once), with the block whose events named it.
struct Looks {
    tasks: tokio::task::JoinSet<(u64, Look)>,
    blocks: std::collections::BTreeMap<u64, u32>,
    jobs: std::collections::HashMap<tokio::task::Id, u64>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// Jobs looked at at once (each may fetch and compute a model's initial state).
const MAX_LOOKS: usize = 4;

impl Looks {
    fn new() -> Looks {
        Looks {
            tasks: tokio::task::JoinSet::new(),
            blocks: std::collections::BTreeMap::new(),
            jobs: std::collections::HashMap::new(),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_LOOKS)),
        }
    }

    /// Starts looking at `job` (named in block `block`), unless it is being looked at.
    fn start<S: ContentStore + Send + Sync + 'static>(
        &mut self,
        inner: &Arc<Inner<S>>,
        job: u64,
        block: u32,
    ) {
        if self.blocks.insert(job, block).is_none() {
            let (inner, permits) = (Arc::clone(inner), Arc::clone(&self.permits));
            let task = self.tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                inner.look(job).await
            });
            self.jobs.insert(task.id(), job);
        }
    }

    /// The look that ended next: its job and what it found (a look that panicked is looked at
    /// again later).
    async fn next(&mut self) -> Option<(u64, Look)> {
        let (id, ended) = match self.tasks.join_next_with_id().await? {
            Ok((id, ended)) => (id, ended),
            Err(e) => {
                tracing::error!(target: "worker::executor", error = %e, "A look at a job panicked");
                let job = self.jobs.get(&e.id()).copied().unwrap_or_default();
                (e.id(), (job, Look::Later))
            }
        };
        self.jobs.remove(&id);
        self.blocks.remove(&ended.0);
        Some(ended)
    }

    /// The first block whose events named a job still looked at.
    fn earliest(&self) -> Option<u32> {
        self.blocks.values().min().copied()
    }
}

/// What a look at a job found ([`Inner::look`]).
enum Look {
    /// Recorded: carry it in its own task.
    Take,
    /// Left for now (`max_jobs` busy, or looking at it failed): looked at again next block.
    Later,
    /// Not one to take, or already taken.
    Leave,
}

impl<S: ContentStore + Send + Sync + 'static> Inner<S> {
    /// Looks at job `id`: whether it is one to take, and if so records it (first, so that
    /// a crash never takes it twice). Runs in a task of its own; only counting it against
    /// `max_jobs` and recording it are done one job at a time.
    async fn look(self: Arc<Self>, id: u64) -> (u64, Look) {
        match self.look_at(id).await {
            Ok(outcome) => (id, outcome),
            Err(e) => {
                tracing::warn!(target: "worker::executor", job = id, error = %e, "Cannot look at the job now");
                (id, Look::Later)
            }
        }
    }

    async fn look_at(&self, id: u64) -> Result<Look, WorkerError> {
        if self.state.job(id).await?.is_some() {
            return Ok(Look::Leave);
        }
        let Some(job) = self.market.job(id).await? else { return Ok(Look::Leave) };
        // A job whose h_0 is forged is challenged, whatever its fee or sign-ups: taken without
        // a sign-up (none may be left, or the result may be in already).
        if self.config.role == Role::Verifier && self.forged(&job, id).await? {
            tracing::info!(target: "worker::verifier", job = id, "Its h_0 is not its initial state: challenging it once its result is in");
            let begun =
                self.state.begin(id, self.config.role.as_str(), Stage::Forged, None).await?;
            return Ok(if begun { Look::Take } else { Look::Leave });
        }
        let declined = |why: &'static str| {
            tracing::info!(target: "worker::executor", job = id, why, "Leaving the job");
            if why == BUSY {
                Look::Later
            } else {
                Look::Leave
            }
        };
        if let Some(why) = self.declines(id, &job).await? {
            return Ok(declined(why));
        }
        if let Err(e) = crate::job::check_before_claim(&self.market, &self.store, id).await {
            tracing::warn!(target: "worker::executor", job = id, error = %e, "Not taking it");
            return Ok(Look::Leave);
        }
        let (stage, secret) = match self.config.role {
            Role::Executor => (Stage::Claiming, None),
            Role::Verifier => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| WorkerError::Io {
                    what: "drawing a spot-check secret".into(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                (Stage::SigningUp, Some(secret))
            }
        };
        // Counted again, with every job taken meanwhile, and recorded, one job at a time.
        let _taking = self.taking.lock().await;
        if let Some(why) = self.declines(id, &job).await? {
            return Ok(declined(why));
        }
        let begun = self.state.begin(id, self.config.role.as_str(), stage, secret).await?;
        Ok(if begun { Look::Take } else { Look::Leave })
    }

    /// Whether job `id` (`job`) is one whose committed `h_0` is not the initial state of its
    /// config and seed or base ([`crate::initial_root`]), that this
    /// account may still challenge: not a party to it, its result not yet decided.
    async fn forged(&self, job: &Job, id: u64) -> Result<bool, WorkerError> {
        let me = self.signer.account_bytes();
        let open = matches!(job.state, JobState::Open | JobState::Claimed | JobState::Submitted);
        if !open || job.poster == me || job.executor == Some(me) {
            return Ok(false);
        }
        let Some(game) = self.market.job_terms(id).await?.and_then(|t| t.game) else {
            return Ok(false);
        };
        match crate::initial_root(&self.store, &game).await {
            Ok(root) => Ok(root != game.h0),
            // No `h_0` of it is honest: its executor cannot answer at the unprovable chunk.
            Err(crate::job::JobSpecError::UnprovableBase { .. }) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Why the worker leaves job `id` to others, if it does.
    async fn declines(&self, id: u64, job: &Job) -> Result<Option<&'static str>, WorkerError> {
        if job.kind != JobKind::Train {
            return Ok(Some("not a training job"));
        }
        let busy = self.state.in_flight().await?.into_iter().filter(|j| j.stage.is_busy()).count();
        if busy >= self.config.max_jobs {
            return Ok(Some(BUSY));
        }
        if self.conn.chain.best_block().await? >= job.deadline {
            return Ok(Some("its deadline has passed"));
        }
        let me = self.signer.account_bytes();
        if self.config.role == Role::Verifier {
            let open = matches!(job.state, JobState::Open | JobState::Claimed);
            let why = if !open {
                Some("its result is in: sign-ups are closed")
            } else if job.verification.verifier_fee < u128::from(self.config.min_fee) {
                Some("verifier fee below min_fee")
            } else if job.verification.challenge_window <= self.config.reveal_margin {
                // It would reveal without a check at once: a bond locked for nothing.
                Some("its window leaves no block for a check")
            } else if job.sign_ups >= iollm_types::spotcheck::MAX_SIGN_UPS {
                Some("no sign-up left")
            } else if job.poster == me || job.executor == Some(me) {
                Some("a party to it")
            } else {
                None
            };
            return Ok(why);
        }
        if job.state != JobState::Open {
            return Ok(Some("not open"));
        }
        if job.reward < u128::from(self.config.min_reward) {
            return Ok(Some("reward below min_reward"));
        }
        let terms = self.market.job_terms(id).await?;
        let allowed = terms.as_ref().map(|t| t.executors.clone()).unwrap_or_default();
        if !allowed.is_empty() && !allowed.contains(&self.signer.account_bytes()) {
            return Ok(Some("another executor is named"));
        }
        // What the contract's claim checks of the pledge, checked first (a claim it refuses at
        // the dry-run costs nothing, but the job would be looked at for nothing).
        let Some(pledge) = self.market.pledge_of(me).await? else {
            return Ok(Some("this account has no pledge (iollm pledge)"));
        };
        Ok(unfit(job, &pledge))
    }

    /// The metrics, refreshed: jobs by stage from the state database and what the market
    /// owes, both within 2 s (else the last values), one scrape at a time (another gets 503,
    /// so scrapes cannot crowd the worker's own use of its database). A request naming a host
    /// other than a loopback one (a web page, by DNS rebinding) is refused.
    async fn scrape(&self, headers: &axum::http::HeaderMap) -> axum::response::Response {
        use axum::http::StatusCode;
        use axum::response::IntoResponse as _;
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
        let name = host.map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name));
        let name = name.map(|n| n.trim_start_matches('[').trim_end_matches(']'));
        let loopback = name.is_none_or(|n| {
            n.eq_ignore_ascii_case("localhost")
                || n.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        });
        if !loopback {
            return (StatusCode::FORBIDDEN, "metrics answer loopback hosts only\n").into_response();
        }
        let Ok(_one) = self.scraping.try_lock() else {
            return (StatusCode::SERVICE_UNAVAILABLE, "a scrape is in progress\n").into_response();
        };
        let refresh = async {
            if let Ok(jobs) = self.state.jobs().await {
                self.metrics.set_jobs(&jobs);
            }
            if let Ok(owed) = self.market.balance_of(self.signer.account_bytes()).await {
                self.metrics.owed.set(owed as f64);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), refresh).await;
        let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(axum::http::header::CONTENT_TYPE, kind)], self.metrics.render()).into_response()
    }

    /// Carries job `id` from its recorded stage to the end, or until `stop` (between two
    /// steps of training, or two stages). An error (IPFS away, a refusal it did not expect)
    /// is logged and noted on the job, and the stage is tried again after a backoff that
    /// doubles up to [`MAX_BACKOFF`].
    async fn carry(self: Arc<Self>, id: u64, stop: CancellationToken) {
        use tracing::Instrument as _;
        // Everything logged for the job, here and below, carries its `job_id`.
        let span = tracing::info_span!("job", job_id = id, role = self.config.role.as_str());
        self.carry_in_span(id, stop).instrument(span).await
    }

    async fn carry_in_span(self: Arc<Self>, id: u64, stop: CancellationToken) {
        let (mut backoff, mut failed_at) = (Duration::from_secs(1), None);
        loop {
            let Err(e) = self.advance(id, &stop).await else { return };
            self.metrics.job_failures.inc();
            // A stage failing for the first time starts from the shortest backoff.
            let stage = self.state.job(id).await.ok().flatten().map(|j| j.stage);
            if stage != failed_at {
                (backoff, failed_at) = (Duration::from_secs(1), stage);
            }
            tracing::error!(target: "worker::executor", job = id, error = %e, retry_in_s = backoff.as_secs(), "The job stopped; trying again");
            let why = format!("stopped: {e}");
            if let Err(e) = self.state.note(id, &why).await {
                tracing::error!(target: "worker::executor", job = id, error = %e, "Cannot record why");
            }
            // A verifier still to reveal is woken when the window reaches its last blocks,
            // however long its backoff: then it reveals, whatever failed.
            let margin = self.config.reveal_margin;
            let reveal_due = self.config.role == Role::Verifier
                && matches!(
                    crate::spotcheck::window_closes_soon(&self.market, id, margin).await,
                    Ok(false)
                );
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
                () = crate::spotcheck::window_closing(&self.market, id, margin), if reveal_due => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn advance(&self, id: u64, stop: &CancellationToken) -> Result<(), WorkerError> {
        self.keep_base(id).await?;
        loop {
            if stop.is_cancelled() {
                return Ok(());
            }
            let Some(JobRecord { stage, output_cid, role, secret, .. }) =
                self.state.job(id).await?
            else {
                return Ok(());
            };
            let secret = || {
                secret.ok_or_else(|| {
                    StateError::Corrupt(format!("job {id}: a sign-up without its secret"))
                })
            };
            tracing::debug!(target: "worker::executor", job = id, stage = stage.as_str(), "Stage");
            match stage {
                Stage::SigningUp => self.sign_up(id, secret()?).await?,
                Stage::Claiming => self.claim(id).await?,
                Stage::SignedUp => self.check_published(id, secret()?, stop).await?,
                Stage::Forged => self.challenge_forged(id, stop).await?,
                Stage::Running if role == Role::Verifier.as_str() => {
                    self.run_for_check(id, secret()?, stop).await?
                }
                Stage::Claimed | Stage::Running => {
                    if self.train(id, stop).await? {
                        self.state.set_stage(id, Stage::Trained, None).await?;
                    }
                }
                Stage::Trained if role == Role::Verifier.as_str() => {
                    self.check(id, secret()?, stop).await?
                }
                Stage::Challenging => self.challenge(id).await?,
                Stage::Challenged => self.play_challenge(id, stop).await?,
                Stage::Attested => self.watch_attested(id, stop).await?,
                Stage::Defending => self.play_defence(id, stop).await?,
                Stage::Trained => {
                    let (uploaded, dir) = self.publish(id).await?;
                    let run_dir = self.job_dir(id).join("run");
                    let run = uploaded.run.as_deref().map(|cid| (cid, run_dir.as_path()));
                    self.state.published(id, &uploaded.output, &dir, run).await?;
                }
                Stage::Published | Stage::Submitting => {
                    let cid = output_cid.ok_or_else(|| {
                        StateError::Corrupt(format!("job {id} is published without a CID"))
                    })?;
                    self.submit(id, &cid, stage == Stage::Submitting).await?;
                }
                Stage::Submitted => self.conclude(id, stop).await?,
                Stage::Finalized | Stage::Checked | Stage::Lost => return Ok(()),
            }
        }
    }

    fn job_dir(&self, id: u64) -> PathBuf {
        job_dir(&self.config.state_dir, id)
    }

    /// Releases what each finished job left on chain for this account (a sign-up, a result,
    /// a settled challenge, a ledger entry: `release`), so their storage deposits come back,
    /// once the job has ended with no game of it still played. A release frees a bounded
    /// amount a call (and stops at a defence still played), so it is sent again until the
    /// market refuses; the job is recorded released only once the chain holds no sign-up or
    /// challenge of this account's on it, else it is tried again at the next sweep. A job
    /// that fails (the chain away) does not hold up the others.
    async fn release_ended(&self) -> Result<(), WorkerError> {
        for id in self.state.unreleased().await? {
            if let Err(e) = self.release_job(id).await {
                tracing::warn!(target: "worker::executor", job = id, error = %e, "Releasing the job's records failed; trying again");
            }
        }
        Ok(())
    }

    /// [`Inner::release_ended`] for job `id`.
    async fn release_job(&self, id: u64) -> Result<(), WorkerError> {
        // An executor's claim race lost with nothing sent: nothing of this account's on chain,
        // and no need to watch a job that may never end.
        let record = self.state.job(id).await?;
        let raced =
            record.is_some_and(|j| j.stage == Stage::Lost && j.role == Role::Executor.as_str());
        if raced && self.state.transactions(id).await?.is_empty() {
            return self.released(id).await;
        }
        let Some(job) = self.market.job(id).await? else {
            return self.released(id).await;
        };
        if !job.state.is_terminal() || job.open_games > 0 || job.accused > 0 {
            return Ok(());
        }
        for _ in 0..RELEASES_A_SWEEP {
            match self.market.release(&self.signer, id).await {
                Ok(call) => {
                    let included = call.included;
                    self.state
                        .transaction(id, "release", included.tx_hash, included.block, None)
                        .await?;
                }
                Err(ChainError::ContractRefused { .. }) => {
                    if !self.holds_records(id, &job).await? {
                        tracing::info!(target: "worker::executor", job = id, "Released what the job left on chain");
                        self.released(id).await?;
                    }
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Records job `id` released, once what this worker pinned for it (a verifier's output
    /// package, to defend its attestation; a job's base model package, to answer its initial
    /// games) is unpinned: no game of the job is left to prove them in. A daemon away (or any
    /// other failure) leaves the job to the next sweep; a pin already gone (a person removed
    /// it) is not waited for.
    async fn released(&self, id: u64) -> Result<(), WorkerError> {
        let pins: Vec<String> = match self.state.job(id).await? {
            Some(job) => [job.pinned, job.base_pinned].into_iter().flatten().collect(),
            None => Vec::new(),
        };
        for cid in pins {
            let cid = iollm_content::parse_cid(&cid)?;
            match self.store.unpin(&cid).await {
                Ok(()) => {
                    tracing::info!(target: "worker::executor", job = id, %cid, "Unpinned what it pinned for the job")
                }
                // Kubo's answer for a pin already gone (a person removed it).
                Err(iollm_content::Error::Api(e)) if e.contains("not pinned") => {
                    tracing::warn!(target: "worker::executor", job = id, %cid, error = %e, "What it pinned is no longer pinned")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.state.set_released(id).await?)
    }

    /// Pins the base model package of job `id`, if it is from one, unless it is pinned already
    /// (by this worker, recorded; or by someone else on its IPFS daemon, not this worker's to
    /// remove): an initial game of the job is answered with proofs of the base's blocks, which
    /// must not be collected while the job can be challenged. Not for a job being challenged
    /// as forged (its challenger needs no proof).
    async fn keep_base(&self, id: u64) -> Result<(), WorkerError> {
        let Some(record) = self.state.job(id).await? else { return Ok(()) };
        if record.base_pinned.is_some() || record.stage == Stage::Forged || record.stage.is_final()
        {
            return Ok(());
        }
        let game = self.market.job_terms(id).await?.and_then(|t| t.game);
        let Some(base) = game.and_then(|g| g.base) else { return Ok(()) };
        let cid = iollm_content::parse_cid(&String::from_utf8_lossy(&base))?;
        if self.store.pins().await?.contains(&cid) {
            return Ok(());
        }
        self.store.pin(&cid).await?;
        tracing::info!(target: "worker::executor", job = id, %cid, "Pinned the job's base model");
        Ok(self.state.pinned(id, crate::state::Pin::Base, &cid.to_string()).await?)
    }

    /// Whether job `id` still holds a sign-up or a challenge of this account's on chain.
    async fn holds_records(&self, id: u64, job: &Job) -> Result<bool, WorkerError> {
        let me = self.signer.account_bytes();
        for index in 0..job.sign_ups {
            if self.market.sign_up_of(id, index).await?.is_some_and(|s| s.verifier == me) {
                return Ok(true);
            }
        }
        for index in 0..job.challenges {
            if self.market.game_of(id, index).await?.is_some_and(|c| c.challenger == me) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn chain_job(&self, id: u64) -> Result<Job, WorkerError> {
        Ok(self.market.job(id).await?.ok_or(ChainError::MissingEvent("job"))?)
    }

    fn mine(&self, job: &Job) -> bool {
        job.executor == Some(self.signer.account_bytes())
    }

    /// The job's trainer (its spec and dataset fetched into a temporary directory), shared
    /// with the blocking threads its replays run on.
    async fn trainer(&self, id: u64) -> Result<Arc<iollm_compute::Trainer>, WorkerError> {
        let dir = self.job_dir(id);
        std::fs::create_dir_all(&dir).map_err(io("creating the job's directory"))?;
        let fetched = tempfile::tempdir_in(&dir).map_err(io("creating a temporary directory"))?;
        let cfg = crate::job::config_of_job(&self.market, &self.store, id, fetched.path()).await?;
        Ok(Arc::new(self.trainer_of(&cfg)?))
    }

    /// A trainer of `cfg` on this worker's runtime (dishonest if the worker is:
    /// [`Worker::with_fault`]).
    fn trainer_of(
        &self,
        cfg: &iollm_compute::TrainConfig,
    ) -> Result<iollm_compute::Trainer, WorkerError> {
        let trainer = iollm_compute::Trainer::new(cfg, &self.runtime)?;
        Ok(match self.fault.get() {
            Some(fault) => trainer.with_fault(*fault),
            None => trainer,
        })
    }

    /// The job's trainer in `slot`, made ([`Worker::trainer`]) the first time it is needed.
    async fn trainer_in<'a>(
        &self,
        id: u64,
        slot: &'a mut Option<Arc<iollm_compute::Trainer>>,
    ) -> Result<&'a Arc<iollm_compute::Trainer>, WorkerError> {
        let trainer = match slot.take() {
            Some(trainer) => trainer,
            None => self.trainer(id).await?,
        };
        Ok(slot.insert(trainer))
    }
}

/// What a job's task makes once and keeps for every game of the job it plays: the job's
/// trainer (its spec and dataset fetched first), and the `h_0` it plays in an initial game,
/// which needs neither.
#[derive(Default)]
struct Kit {
    trainer: Option<Arc<iollm_compute::Trainer>>,
    start: Option<crate::player::Start>,
}

/// Why a provider with `pledge` cannot take `job`, as the market's claim would refuse it: its
/// capacity does not fit the job's need, the job's reward does not cover the provider's price
/// for its units (its joint-mining discount taken off) and the verifiers' fees, or its free
/// stake cannot lock the job's collateral.
pub fn unfit(job: &Job, pledge: &iollm_types::market::Pledge) -> Option<&'static str> {
    use iollm_types::escrow;
    if !pledge.capacity.fits(&job.need) {
        return Some("it needs more capacity than this worker pledged");
    }
    let discount = if job.joint_mining { pledge.discount_bps } else { 0 };
    let v = &job.verification;
    let covered = escrow::ask(pledge.price_per_unit, job.units, discount, job.value)
        .ok()
        .and_then(|ask| ask.ask.checked_add(ask.forgone))
        .is_some_and(|asked| {
            escrow::check_covers(job.reward, asked, v.verifiers, v.verifier_fee).is_ok()
        });
    if !covered {
        return Some("its reward does not cover this worker's price");
    }
    if pledge.free() < v.collateral {
        return Some("its collateral is more than this worker's free stake");
    }
    None
}

/// Where the executor keeps job `id` under `state_dir`: its dataset (`data/`), its run
/// (`run/`, the `iollm train --out` layout) and its output package (`output/`).
pub fn job_dir(state_dir: &Path, id: u64) -> PathBuf {
    state_dir.join("jobs").join(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider takes a job only as the market's claim would let it: capacity, price (its
    /// discount counted only with joint mining) and free stake each rule it out alone.
    #[test]
    fn a_job_the_claim_would_refuse_is_left() {
        use iollm_types::market::{Capacity, Pledge, Verification};
        let gpu = Capacity { accelerator: 1, memory_gib: 24, throughput: 10 };
        let verification =
            Verification { challenge_window: 10, verifiers: 1, collateral: 500, verifier_fee: 10 };
        let job = Job {
            poster: [1; 32],
            kind: JobKind::Train,
            artifact: 1,
            bounty: None,
            units: 50,
            need: gpu,
            reward: 1_000,
            deadline: 100,
            verification,
            state: JobState::Open,
            executor: None,
            ask: 0,
            forgone: 0,
            submitted_at: 0,
            attestations: 0,
            sign_ups: 0,
            challenges: 0,
            open_games: 0,
            verified: false,
            value: 1_000,
            joint_mining: false,
            submit_by: 0,
            submit_blocks: 20,
            accused: 0,
            accusations: 0,
        };
        let pledge = Pledge {
            capacity: gpu,
            price_per_unit: 19,
            discount_bps: 0,
            stake: 600,
            locked: 100,
            unbonding: 0,
            unbonding_until: 0,
        };
        assert_eq!(unfit(&job, &pledge), None, "50 × 19 + 10 = 960 ≤ 1 000; 500 free");
        let small = Capacity { memory_gib: 16, ..gpu };
        assert!(unfit(&job, &Pledge { capacity: small, ..pledge }).unwrap().contains("capacity"));
        let dear = Pledge { price_per_unit: 20, ..pledge };
        assert!(unfit(&job, &dear).unwrap().contains("does not cover"), "1 000 + 10 > 1 000");
        // A discount splits the price between pay and share units: the reward covers it all.
        let discounted = Pledge { discount_bps: 5_000, ..dear };
        assert!(unfit(&job, &discounted).is_some());
        let locked = Pledge { locked: 101, ..pledge };
        assert!(unfit(&job, &locked).unwrap().contains("free stake"));
    }

    #[test]
    fn the_example_config_parses_and_typos_are_refused() {
        let example = include_str!("../../examples/worker.toml");
        let config = WorkerConfig::parse(example).expect("the example parses");
        assert_eq!(config.max_jobs, 1);
        assert!(config.finalize);
        assert_eq!(config.metrics_listen, Some("127.0.0.1:9616".parse().unwrap()));
        assert_eq!(WorkerConfig::parse("state_dir = \"s\"\n").unwrap().metrics_listen, None);
        let open = "state_dir = \"s\"\nmetrics_listen = \"0.0.0.0:9616\"\n";
        let err = WorkerConfig::parse(open).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        let verifier =
            WorkerConfig::parse("role = \"verifier\"\nstate_dir = \"s\"\n").expect("a verifier");
        assert_eq!(verifier.role, Role::Verifier);
        assert!(WorkerConfig::parse("role = \"judge\"\nstate_dir = \"s\"\n").is_err());
        let minimal = WorkerConfig::parse("state_dir = \"s\"\n").expect("defaults");
        assert_eq!(minimal.role, Role::Executor);
        assert_eq!(minimal.poll_ms, 500);
        assert_eq!(minimal.output_license, "Apache-2.0");
        assert_eq!(minimal.reveal_margin, crate::spotcheck::REVEAL_MARGIN);
        let err = WorkerConfig::parse("state_dir = \"s\"\nreveal_margin = 1\n").unwrap_err();
        assert!(err.to_string().contains("at least 2 blocks"), "{err}");
        let err = WorkerConfig::parse("state_dir = \"s\"\nmax_job = 2\n").unwrap_err();
        assert!(err.to_string().contains("max_job"), "{err}");
        let err = WorkerConfig::parse("state_dir = \"s\"\nmin_reward = -1\n").unwrap_err();
        assert!(err.to_string().starts_with("worker config:"), "{err}");
    }
}
