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
//!   (trace and checkpoints; `provenance.run` of the output package): it fetches the one
//!   checkpoint its draw names and replays that segment. A segment that does not replay to
//!   its committed checkpoint it challenges at once with a claim about that segment alone
//!   (`player::segment_claim`). When the run is missing or not the committed one, it runs the
//!   job itself, then attests when its run is the committed one (revealing without a check
//!   when only the executor's checks are wrong), or challenges with its own run; either way it
//!   plays the challenger's side to the verdict and its settlement. An attester whose result's
//!   executor then loses a game (perhaps thrown) defends the result in a game of its own
//!   against each such game's claim; a challenger that won plays every such
//!   defence against its claim and settles the accused attesters.
//!
//! Crash safety: every stage is recorded in [`State`] before the step after it starts; after a
//! restart, each job in flight goes on from its stage (training resumes from the last
//! checkpoint; a claim, sign-up, submission or challenge whose landing is unknown is looked up
//! on chain first), so nothing is sent twice.

use crate::state::{JobRecord, Stage, State, StateError};
use iollm_chain::market::MarketClient;
use iollm_chain::{ChainError, Connection, Signer};
use iollm_content::manifest::{
    Accelerator, CidOptions, Format, Interface, Manifest, Parent, Provenance, Relation, Runtime,
    WeightFormat,
};
use iollm_content::{AddOptions, ContentStore};
use iollm_types::market::{Job, JobKind, JobState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a worker does with the training jobs it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Claims them, trains, publishes, submits, defends, finalizes.
    Executor,
    /// Signs up to spot-check them (bonded), replays one segment from the executor's published
    /// run and attests, or challenges that segment; a run missing or not the committed one, it
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
    /// The license its output packages carry (SPDX).
    #[serde(default = "apache")]
    pub output_license: String,
    /// Where to serve Prometheus `/metrics` (a loopback address, e.g. `127.0.0.1:9616`; port
    /// 0 picks a free one); none when absent.
    #[serde(default)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

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
        };
        Ok(Worker { inner: Arc::new(inner) })
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
    /// finalized block's `JobPosted` events are considered in order. On the first start it
    /// also considers every job still open. A job left for want of capacity (`max_jobs` busy)
    /// is considered again at every block until taken or no longer open. An error of one job
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
        let from = match me.state.cursor().await? {
            Some(next) => next,
            None => {
                let head = me.conn.chain.finalized_head().await?;
                for job in 1..=me.market.job_count().await? {
                    if self.consider(job, &mut tasks, &stop).await {
                        deferred.insert(job);
                    }
                }
                head + 1
            }
        };
        let mut follower = me.conn.chain.follow_finalized(from, poll);
        loop {
            let block = tokio::select! {
                () = stop.cancelled() => break,
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
                if self.consider(job, &mut tasks, &stop).await {
                    deferred.insert(job);
                }
            }
            for event in block.events.iter().filter(|e| e.contract == *me.market.address()) {
                let Some(topic) = event.topics.first() else { continue };
                let decoded = iollm_types::market::events::Event::decode(topic, &event.data);
                if let Some(Ok(iollm_types::market::events::Event::JobPosted(posted))) = decoded {
                    if self.consider(posted.job, &mut tasks, &stop).await {
                        deferred.insert(posted.job);
                    }
                }
            }
            me.state.set_cursor(follower.position()).await?;
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
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        Ok(())
    }

    /// Takes job `id` if it is one to take: recorded first, then carried in its own task.
    /// `true` when it is left for now, because `max_jobs` are busy or looking at it failed
    /// (the node or the state database away): it is looked at again at the next block.
    async fn consider(
        &self,
        id: u64,
        tasks: &mut tokio::task::JoinSet<()>,
        stop: &CancellationToken,
    ) -> bool {
        match self.take(id, tasks, stop).await {
            Ok(left_for_now) => left_for_now,
            Err(e) => {
                tracing::warn!(target: "worker::executor", job = id, error = %e, "Cannot look at the job now");
                true
            }
        }
    }

    async fn take(
        &self,
        id: u64,
        tasks: &mut tokio::task::JoinSet<()>,
        stop: &CancellationToken,
    ) -> Result<bool, WorkerError> {
        let me = &self.inner;
        if me.state.job(id).await?.is_some() {
            return Ok(false);
        }
        let Some(job) = me.market.job(id).await? else { return Ok(false) };
        if let Some(why) = me.declines(id, &job).await? {
            tracing::info!(target: "worker::executor", job = id, why, "Leaving the job");
            return Ok(why == BUSY);
        }
        if let Err(e) = crate::job::check_before_claim(&me.market, &me.store, id).await {
            tracing::warn!(target: "worker::executor", job = id, error = %e, "Not taking it");
            return Ok(false);
        }
        let secret = match me.config.role {
            Role::Executor => None,
            Role::Verifier => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| WorkerError::Io {
                    what: "drawing a spot-check secret".into(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                Some(secret)
            }
        };
        if me.state.begin(id, me.config.role.as_str(), secret).await? {
            tasks.spawn(Arc::clone(&self.inner).carry(id, stop.clone()));
        }
        Ok(false)
    }
}

impl<S: ContentStore + Send + Sync + 'static> Inner<S> {
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
        Ok(None)
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
        let mut backoff = Duration::from_secs(1);
        loop {
            let Err(e) = self.advance(id, &stop).await else { return };
            self.metrics.job_failures.inc();
            tracing::error!(target: "worker::executor", job = id, error = %e, retry_in_s = backoff.as_secs(), "The job stopped; trying again");
            let why = format!("stopped: {e}");
            if let Err(e) = self.state.note(id, &why).await {
                tracing::error!(target: "worker::executor", job = id, error = %e, "Cannot record why");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn advance(&self, id: u64, stop: &CancellationToken) -> Result<(), WorkerError> {
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
                    let (cid, dir) = self.publish(id).await?;
                    self.state.published(id, &cid, &dir).await?;
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

    async fn chain_job(&self, id: u64) -> Result<Job, WorkerError> {
        Ok(self.market.job(id).await?.ok_or(ChainError::MissingEvent("job"))?)
    }

    fn mine(&self, job: &Job) -> bool {
        job.executor == Some(self.signer.account_bytes())
    }

    /// Claims, unless the chain shows the claim already landed (a restart) or someone else's did.
    async fn claim(&self, id: u64) -> Result<(), WorkerError> {
        let job = self.chain_job(id).await?;
        if self.mine(&job) {
            return Ok(self.state.set_stage(id, Stage::Claimed, None).await?);
        }
        if job.state != JobState::Open {
            return Ok(self.state.set_stage(id, Stage::Lost, Some("claimed by another")).await?);
        }
        match self.market.claim(&self.signer, id).await {
            Ok(call) => {
                tracing::info!(target: "worker::executor", job = id, block = call.included.block, "Claimed");
                self.state
                    .transaction(id, "claim", call.included.tx_hash, call.included.block, None)
                    .await?;
                Ok(self.state.set_stage(id, Stage::Claimed, None).await?)
            }
            // Another provider was faster (refused at the dry-run, or reverted when its claim
            // landed first), or the job changed: normal, not an error. A refusal of a job still
            // open (its capacity, collateral or deadline rule this worker out) is final too:
            // retrying it would only hold a slot.
            Err(e) => {
                let job = self.chain_job(id).await?;
                if self.mine(&job) {
                    return Ok(self.state.set_stage(id, Stage::Claimed, None).await?);
                }
                if let (JobState::Open, ChainError::ContractRefused { message, .. }) =
                    (job.state, &e)
                {
                    tracing::warn!(target: "worker::executor", job = id, why = %message, "Claim refused");
                    return Ok(self.state.set_stage(id, Stage::Lost, Some(message)).await?);
                }
                if job.state == JobState::Open {
                    return Err(e.into());
                }
                tracing::info!(target: "worker::executor", job = id, why = %e, "Lost the claim");
                let note = format!("claimed by another: {e}");
                Ok(self.state.set_stage(id, Stage::Lost, Some(&note)).await?)
            }
        }
    }

    /// Trains the job's spec into its run directory, from the last checkpoint if a run is
    /// there, on a blocking thread, progress in the log; `false` when `stop` stopped it (its
    /// checkpoints stay for the next start).
    async fn train(&self, id: u64, stop: &CancellationToken) -> Result<bool, WorkerError> {
        let dir = self.job_dir(id);
        let run = dir.join("run");
        if iollm_compute::run_result(&run).is_ok() {
            return Ok(true);
        }
        // The spec and dataset, fetched again (every byte checked) into a fresh `data/`.
        let data = dir.join("data");
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(io("clearing the dataset directory"))?;
        }
        let cfg = crate::job::config_of_job(&self.market, &self.store, id, &data).await?;
        let started = run.join("checkpoints").is_dir();
        let (runtime, stop, metrics) = (self.runtime, stop.clone(), Arc::clone(&self.metrics));
        let span = tracing::Span::current();
        let trained = tokio::task::spawn_blocking(move || {
            let _job = span.enter();
            let mut log = |p: &iollm_compute::Progress| {
                metrics.steps.inc();
                metrics.tokens_per_second.set(p.tokens_per_sec);
                if let Some((checkpoint, _)) = p.checkpoint {
                    tracing::info!(target: "worker::executor", job = id, step = p.step, of = p.total_steps, checkpoint, loss = p.loss, "Training");
                }
                if stop.is_cancelled() {
                    iollm_compute::Flow::Break(())
                } else {
                    iollm_compute::Flow::Continue(())
                }
            };
            if started {
                iollm_compute::resume_latest(&cfg, &run, &runtime, &mut log)
            } else {
                iollm_compute::train(&cfg, &run, &runtime, &mut log)
            }
        })
        .await
        .map_err(|e| WorkerError::Io {
            what: "the training thread".into(),
            source: std::io::Error::other(e),
        })?;
        match trained {
            Ok(outcome) => {
                tracing::info!(target: "worker::executor", job = id, trace_root = %outcome.trace_root_hex(), "Trained");
                Ok(true)
            }
            Err(iollm_compute::Error::Stopped { step }) => {
                tracing::info!(target: "worker::executor", job = id, step, "Training stopped; it resumes at the next start");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Builds job `id`'s output package from its run and adds it to IPFS
    /// ([`publish_output`]); its CID and directory.
    async fn publish(&self, id: u64) -> Result<(String, PathBuf), WorkerError> {
        let dir = self.job_dir(id);
        let fetched = tempfile::tempdir_in(&dir).map_err(io("creating a temporary directory"))?;
        let cfg = crate::job::config_of_job(&self.market, &self.store, id, fetched.path()).await?;
        let output = Output {
            job: id,
            artifact: self.chain_job(id).await?.artifact,
            license: self.config.output_license.clone(),
            created_by: self.signer.account().to_string(),
            memory_bytes: iollm_compute::estimate_memory(&cfg),
        };
        let out = dir.join("output");
        let cid = publish_output(&self.store, &output, &dir.join("run"), &out).await?;
        Ok((cid, out))
    }

    /// Submits the result, unless the chain shows it landed already (`unsure`: a restart
    /// found the submission in flight).
    async fn submit(&self, id: u64, cid: &str, unsure: bool) -> Result<(), WorkerError> {
        let job = self.chain_job(id).await?;
        if unsure && job.state != JobState::Claimed {
            // Its submission landed before a restart (the job may even be final by now).
            let stage = match (self.mine(&job), job.state) {
                (true, JobState::Submitted) => Stage::Submitted,
                (true, JobState::Finalized) => Stage::Finalized,
                _ => Stage::Lost,
            };
            return Ok(self
                .state
                .set_stage(id, stage, Some("found on chain after a restart"))
                .await?);
        }
        if job.state != JobState::Claimed || !self.mine(&job) {
            return Ok(self
                .state
                .set_stage(id, Stage::Lost, Some("no longer claimed by this worker"))
                .await?);
        }
        let game = self
            .market
            .job_terms(id)
            .await?
            .and_then(|t| t.game)
            .ok_or(crate::job::JobSpecError::NoSpec(id))?;
        let (commitment, last) = crate::submission(&self.job_dir(id).join("run"), &game, cid, 0)?;
        self.state.set_stage(id, Stage::Submitting, None).await?;
        let call = match self.market.submit_result(&self.signer, id, &commitment, Some(&last)).await
        {
            Ok(call) => call,
            // Refused at the dry-run (nothing sent): its submit-by block passed, say. Final.
            Err(ChainError::ContractRefused { message, .. }) => {
                return Ok(self.state.set_stage(id, Stage::Lost, Some(&message)).await?);
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(target: "worker::executor", job = id, block = call.included.block, "Submitted");
        self.state
            .transaction(id, "submit_result", call.included.tx_hash, call.included.block, None)
            .await?;
        Ok(self.state.set_stage(id, Stage::Submitted, None).await?)
    }

    /// Defends the result until it is final: plays the executor's side of every game about
    /// it ([`Inner::defend`]); once the challenge window has closed and no game is open,
    /// finalizes (when configured to; else waits for someone to). A job finalized by someone
    /// else, or rejected, ends here too.
    async fn conclude(&self, id: u64, stop: &CancellationToken) -> Result<(), WorkerError> {
        let poll = Duration::from_millis(self.config.poll_ms);
        let mut trainer = None;
        while !stop.is_cancelled() {
            let job = self.chain_job(id).await?;
            match job.state {
                JobState::Finalized => {
                    return Ok(self.state.set_stage(id, Stage::Finalized, None).await?)
                }
                JobState::Rejected | JobState::Expired => {
                    return Ok(self
                        .state
                        .set_stage(id, Stage::Lost, Some("rejected or expired"))
                        .await?)
                }
                _ => {}
            }
            if job.open_games > 0 {
                self.defend_result(id, &job, &mut trainer).await?;
            }
            let closes = job.submitted_at.saturating_add(job.verification.challenge_window);
            let open = job.open_games > 0 || self.conn.chain.best_block().await? <= closes;
            if self.config.finalize && !open {
                match self.market.finalize(&self.signer, id).await {
                    Ok(call) => {
                        tracing::info!(target: "worker::executor", job = id, block = call.included.block, "Finalized");
                        self.state
                            .transaction(
                                id,
                                "finalize",
                                call.included.tx_hash,
                                call.included.block,
                                None,
                            )
                            .await?;
                        if self.config.withdraw {
                            self.withdraw(id).await?;
                        }
                        return Ok(self.state.set_stage(id, Stage::Finalized, None).await?);
                    }
                    Err(ChainError::ContractRefused { message, .. }) => {
                        tracing::debug!(target: "worker::executor", job = id, why = %message, "Not final yet");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// Withdraws the account's market balance after job `id` (nothing to withdraw is fine).
    /// A crash before it leaves the balance in the market, where the next job's withdrawal (or
    /// `iollm withdraw`) takes it.
    async fn withdraw(&self, id: u64) -> Result<(), WorkerError> {
        match self.market.withdraw(&self.signer).await {
            Ok(call) => {
                tracing::info!(target: "worker::executor", job = id, amount = call.value, "Withdrew");
                let included = call.included;
                let amount = Some(call.value);
                Ok(self
                    .state
                    .transaction(id, "withdraw", included.tx_hash, included.block, amount)
                    .await?)
            }
            Err(ChainError::ContractRefused { message, .. }) => {
                tracing::info!(target: "worker::executor", job = id, why = %message, "Nothing withdrawn");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifier: signs up with the recorded secret; a refusal because it already did (the
    /// sign-up landed before a restart) counts as signed up.
    async fn sign_up(&self, id: u64, secret: [u8; 32]) -> Result<(), WorkerError> {
        let me = self.signer.account_bytes();
        let commit = iollm_types::spotcheck::commitment::<iollm_compute::merkle::Sha>(&me, &secret);
        match self.market.sign_up(&self.signer, id, commit).await {
            Ok(call) => {
                tracing::info!(target: "worker::verifier", job = id, block = call.included.block, "Signed up");
                let included = call.included;
                self.state
                    .transaction(id, "sign_up", included.tx_hash, included.block, None)
                    .await?;
                Ok(self.state.set_stage(id, Stage::SignedUp, None).await?)
            }
            Err(ChainError::ContractRefused { message, .. })
                if message == iollm_types::market::Error::AlreadyActed.message() =>
            {
                Ok(self
                    .state
                    .set_stage(id, Stage::SignedUp, Some("signed up before a restart"))
                    .await?)
            }
            Err(ChainError::ContractRefused { message, .. }) => {
                Ok(self.state.set_stage(id, Stage::Lost, Some(&message)).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifier, signed up: waits for the result, then spot-checks it from the executor's
    /// published run — its trace and the one checkpoint the draw names, every byte checked
    /// against the CIDs and the trace against the committed roots — replaying one segment.
    /// A run that is not published, not the committed one, or whose segment does not replay
    /// to the committed checkpoint sends it to run the whole job itself ([`Stage::Running`]),
    /// to attest from or challenge with its own run.
    async fn check_published(
        &self,
        id: u64,
        secret: [u8; 32],
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let Some(result) = self.await_result(id, stop).await? else { return Ok(()) };
        if self.our_challenge(id).await?.is_some() {
            // Its challenge landed before a restart: play it.
            return Ok(self.state.set_stage(id, Stage::Challenged, None).await?);
        }
        let started = std::time::Instant::now();
        let dir = self.job_dir(id).join("published");
        let checked = match self.fetch_published(id, &result, &secret, &dir).await {
            Ok(trainer) => {
                let (market, signer) = (&self.market, &self.signer);
                crate::spotcheck::spot_check(market, signer, id, &secret, &trainer, &dir).await
            }
            Err(why) => Err(crate::spotcheck::SpotCheckError::Run { path: dir, reason: why }),
        };
        match checked {
            Ok((call, found)) => {
                let seconds = started.elapsed().as_secs_f64();
                tracing::info!(target: "worker::verifier", job = id, seconds, "Spot-checked from the published run (fetch, replay and reveal)");
                self.record_spot_check(id, &call, found, " (replayed from the published run)").await
            }
            Err(crate::spotcheck::SpotCheckError::Chain(e)) => self.refused_reveal(id, e).await,
            Err(crate::spotcheck::SpotCheckError::WrongResult {
                segment,
                reached,
                committed,
                ..
            }) => self.challenge_segment(id, &committed, segment, reached).await,
            Err(e) => {
                tracing::warn!(target: "worker::verifier", job = id, why = %e, "The published run does not serve a spot check: running the job");
                // A claim kept from an attempt that never landed is not this job's story.
                match std::fs::remove_file(self.job_dir(id).join(CLAIM_FILE)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io("removing a stale claim")(e));
                    }
                    _ => {}
                }
                let note = e.to_string();
                Ok(self.state.set_stage(id, Stage::Running, Some(&note)).await?)
            }
        }
    }

    /// Verifier, its replay of segment `segment` from the executor's published run (its
    /// checkpoints `committed`, checked against the trace root) reaching `reached`, not the
    /// committed next checkpoint: challenges at once with a one-segment claim
    /// ([`crate::player::segment_claim`]), without running the job. The claim is kept in the
    /// job's `claim.json` before it is sent, so a restart plays the same one.
    async fn challenge_segment(
        &self,
        id: u64,
        committed: &[[u8; 32]],
        segment: u64,
        reached: [u8; 32],
    ) -> Result<(), WorkerError> {
        let game = self.market.job_terms(id).await?.and_then(|t| t.game);
        let h0 =
            game.map(|g| g.h0).ok_or_else(|| StateError::Corrupt(format!("job {id}: no game")))?;
        let claim = crate::player::segment_claim(h0, committed, segment as usize, reached);
        write_claim(&self.job_dir(id), &claim)?;
        if self.our_challenge(id).await?.is_none() {
            let proof = |i: usize| iollm_compute::merkle::proof(&claim, i).unwrap_or_default();
            let (root, n) = (iollm_compute::merkle::root(&claim), claim.len() - 1);
            let (first, last) = (proof(0), proof(n));
            let call = self.market.challenge(&self.signer, id, root, &first, claim[n], &last);
            match call.await {
                Ok(call) => {
                    let included = call.included;
                    self.state
                        .transaction(id, "challenge", included.tx_hash, included.block, None)
                        .await?;
                }
                Err(error @ ChainError::ContractRefused { .. }) => {
                    // Refused (the window closed, say): what the chain holds decides, and a
                    // sign-up still unrevealed reveals without a check (its bond back).
                    std::fs::remove_file(self.job_dir(id).join(CLAIM_FILE))
                        .map_err(io("removing the refused claim"))?;
                    return self.refused_reveal(id, error).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let note = format!("segment {segment} does not replay to its checkpoint: challenged it");
        tracing::info!(target: "worker::verifier", job = id, segment, "Challenged with a one-segment claim");
        Ok(self.state.set_stage(id, Stage::Challenged, Some(&note)).await?)
    }

    /// Verifier: waits until job `id` has a result, and returns it (`None` if stopped first, or
    /// if the job expired without one, which is recorded as lost).
    async fn await_result(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<Option<iollm_types::market::Commitment>, WorkerError> {
        let poll = Duration::from_millis(self.config.poll_ms);
        while !stop.is_cancelled() {
            match self.chain_job(id).await?.state {
                JobState::Open | JobState::Claimed => tokio::time::sleep(poll).await,
                JobState::Expired => {
                    let note = "expired without a result";
                    self.state.set_stage(id, Stage::Lost, Some(note)).await?;
                    return Ok(None);
                }
                _ => {
                    let result = self.market.result(id).await?;
                    return Ok(Some(result.ok_or(ChainError::MissingEvent("result"))?));
                }
            }
        }
        Ok(None)
    }

    /// Records a spot check's reveal: an attestation (`how` says from what run) is watched to
    /// its end ([`Stage::Attested`]), a reveal without a check is done.
    async fn record_spot_check(
        &self,
        id: u64,
        call: &iollm_chain::contract::Executed<()>,
        found: crate::spotcheck::SpotCheck,
        how: &str,
    ) -> Result<(), WorkerError> {
        let (stage, note) = match found {
            crate::spotcheck::SpotCheck::Attested { segment } => {
                (Stage::Attested, format!("attested segment {segment}{how}"))
            }
            crate::spotcheck::SpotCheck::Revealed { segment } => (
                Stage::Checked,
                format!(
                    "revealed without a check (segment {segment}: the executor's check is wrong)"
                ),
            ),
        };
        tracing::info!(target: "worker::verifier", job = id, %note, "Checked");
        self.state
            .transaction(id, "attest", call.included.tx_hash, call.included.block, None)
            .await?;
        Ok(self.state.set_stage(id, stage, Some(&note)).await?)
    }

    /// Fetches into `dir` what a spot check of job `id`'s result needs from the executor's
    /// published run (named in the output package's `smip.json`): `trace.json`, the completion
    /// marker and the checkpoint that starts the segment `secret` draws. Returns the job's
    /// trainer; a reason in words when anything is missing or malformed.
    async fn fetch_published(
        &self,
        id: u64,
        result: &iollm_types::market::Commitment,
        secret: &[u8; 32],
        dir: &Path,
    ) -> Result<iollm_compute::Trainer, String> {
        use iollm_content::{fetch_file_verified, parse_cid, resolve_path};
        let text = |e: &dyn std::fmt::Display| e.to_string();
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| text(&e))?;
        }
        std::fs::create_dir_all(dir.join("checkpoints")).map_err(|e| text(&e))?;
        let package = std::str::from_utf8(&result.output_cid).map_err(|e| text(&e))?;
        let package = parse_cid(package).map_err(|e| text(&e))?;
        let store = &self.store;
        let manifest_cid = resolve_path(store, &package, iollm_content::manifest::MANIFEST_FILE)
            .await
            .map_err(|e| text(&e))?;
        let manifest_path = dir.join("smip.json");
        let limit = iollm_content::manifest::MAX_MANIFEST_BYTES as u64;
        fetch_file_verified(store, &manifest_cid, &manifest_path, limit)
            .await
            .map_err(|e| text(&e))?;
        let manifest = std::fs::read(&manifest_path).map_err(|e| text(&e))?;
        let manifest = iollm_content::manifest::parse(&manifest).map_err(|e| text(&e))?;
        let run = manifest.provenance.and_then(|p| p.run).ok_or("the output names no run")?;
        let run = parse_cid(&run).map_err(|e| text(&e))?;
        for (file, limit) in [("trace.json", 16 << 20), (iollm_compute::train::COMPLETE_FILE, 4096)]
        {
            let cid = resolve_path(store, &run, file).await.map_err(|e| text(&e))?;
            fetch_file_verified(store, &cid, &dir.join(file), limit).await.map_err(|e| text(&e))?;
        }
        let trace = iollm_compute::read_trace(dir).map_err(|e| text(&e))?;
        let draw =
            iollm_types::spotcheck::draw::<iollm_compute::merkle::Sha>(secret, &result.trace_root);
        let segment = iollm_types::spotcheck::segment(&draw, trace.checks.len() as u64)
            .ok_or("the published trace holds no checks")?;
        let trainer = self.trainer(id).await.map_err(|e| text(&e))?;
        let path = iollm_compute::train::checkpoint_path(dir, segment as usize);
        let name = path.strip_prefix(dir).map_err(|e| text(&e))?.to_string_lossy().into_owned();
        let cid = resolve_path(store, &run, &name).await.map_err(|e| text(&e))?;
        let limit = iollm_compute::estimate_memory(trainer.config()).saturating_add(1 << 20);
        fetch_file_verified(store, &cid, &path, limit).await.map_err(|e| text(&e))?;
        Ok(trainer)
    }

    /// Fetches every checkpoint of the executor's published run into `published/`, beside the
    /// trace its spot check fetched and checked against the committed root, and checks each
    /// against its committed hash: what a defence answers from without running the job. A
    /// reason in words when it cannot.
    async fn fetch_all_published(&self, id: u64) -> Result<(), String> {
        use iollm_content::{fetch_file_verified, parse_cid, resolve_path};
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let dir = self.job_dir(id).join("published");
        let trace = iollm_compute::read_trace(&dir).map_err(|e| text(&e))?;
        let manifest = std::fs::read(dir.join("smip.json")).map_err(|e| text(&e))?;
        let manifest = iollm_content::manifest::parse(&manifest).map_err(|e| text(&e))?;
        let run = manifest.provenance.and_then(|p| p.run).ok_or("the output names no run")?;
        let run = parse_cid(&run).map_err(|e| text(&e))?;
        let trainer = self.trainer(id).await.map_err(|e| text(&e))?;
        let limit = iollm_compute::estimate_memory(trainer.config()).saturating_add(1 << 20);
        for (i, hash) in trace.hashes.iter().enumerate() {
            let path = iollm_compute::train::checkpoint_path(&dir, i);
            if !path.exists() {
                let name = path.strip_prefix(&dir).map_err(|e| text(&e))?;
                let name = name.to_string_lossy();
                let cid = resolve_path(&self.store, &run, &name).await.map_err(|e| text(&e))?;
                fetch_file_verified(&self.store, &cid, &path, limit).await.map_err(|e| text(&e))?;
            }
            let (state, _) = trainer.load_checkpoint(&path).map_err(|e| text(&e))?;
            if iollm_compute::train::hex(&state.hash(&trainer.config_hash())) != *hash {
                return Err(format!("published checkpoint {i} is not the committed h_{i}"));
            }
        }
        Ok(())
    }

    /// Verifier, its own run of the job done: waits for the result, then spot-checks it from
    /// that run (attests, or reveals without a check when only the executor's checks are
    /// wrong) when it is the committed run, or moves on to challenge it when it is not.
    async fn check(
        &self,
        id: u64,
        secret: [u8; 32],
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let Some(result) = self.await_result(id, stop).await? else { return Ok(()) };
        let run = self.job_dir(id).join("run");
        let ours = iollm_compute::run_result(&run)?;
        if ours.trace_root != result.trace_root {
            tracing::info!(target: "worker::verifier", job = id, "The committed trace is not the job's run: challenging");
            return Ok(self.state.set_stage(id, Stage::Challenging, None).await?);
        }
        if ours.checks_root != result.checks_root {
            let call = match self.market.attest(&self.signer, id, secret, &None).await {
                Ok(call) => call,
                Err(e) => return self.refused_reveal(id, e).await,
            };
            self.state
                .transaction(id, "reveal", call.included.tx_hash, call.included.block, None)
                .await?;
            let note = "revealed without a check: the executor's checks are not the run's";
            return Ok(self.state.set_stage(id, Stage::Checked, Some(note)).await?);
        }
        let trainer = self.trainer(id).await?;
        let (market, signer) = (&self.market, &self.signer);
        match crate::spotcheck::spot_check(market, signer, id, &secret, &trainer, &run).await {
            Ok((call, found)) => self.record_spot_check(id, &call, found, "").await,
            Err(crate::spotcheck::SpotCheckError::Chain(e)) => self.refused_reveal(id, e).await,
            Err(e) => Err(e.into()),
        }
    }

    /// This worker's sign-up on job `id`: its index and where its check stands.
    async fn our_sign_up(
        &self,
        id: u64,
        job: &Job,
    ) -> Result<Option<(u8, iollm_types::market::Check)>, WorkerError> {
        for index in 0..job.sign_ups {
            if let Some(s) = self.market.sign_up_of(id, index).await? {
                if s.verifier == self.signer.account_bytes() {
                    return Ok(Some((index, s.check)));
                }
            }
        }
        Ok(None)
    }

    /// Verifier, attested: waits for the job to end. A job rejected with its attesters
    /// accused (the executor lost a game, perhaps thrown) is defended against every
    /// accusation ([`Worker::play_defence`]), answered from its own run of the job or else
    /// from every checkpoint the executor published (each checked against the committed trace
    /// first; when they are not all there, it runs the job before defending).
    async fn watch_attested(&self, id: u64, stop: &CancellationToken) -> Result<(), WorkerError> {
        use iollm_types::market::Check;
        let poll = Duration::from_millis(self.config.poll_ms);
        while !stop.is_cancelled() {
            let job = self.chain_job(id).await?;
            if job.state == JobState::Submitted {
                tokio::time::sleep(poll).await;
                continue;
            }
            let check = self.our_sign_up(id, &job).await?.map(|(_, check)| check);
            if !matches!(check, Some(Check::Accused { .. })) {
                let note = format!("attested; the job ended {:?}", job.state);
                return Ok(self.state.set_stage(id, Stage::Checked, Some(&note)).await?);
            }
            let own_run = iollm_compute::run_result(&self.job_dir(id).join("run")).is_ok();
            if !own_run {
                // A defence answers from every checkpoint: the executor's published ones,
                // each checked against the committed trace, else its own run of the job.
                if let Err(why) = self.fetch_all_published(id).await {
                    tracing::warn!(target: "worker::verifier", job = id, %why, "Accused, without the published checkpoints: running the job to defend it");
                    return Ok(self.state.set_stage(id, Stage::Running, Some(&why)).await?);
                }
            }
            return Ok(self.state.set_stage(id, Stage::Defending, None).await?);
        }
        Ok(())
    }

    /// Verifier, accused: defends the result it attested against every accusation (a game
    /// of its own about each lost game's claim, opened as accusations come), plays the
    /// executor's side of each from its own run until decided, and settles once everything
    /// is (whoever settles first: a refusal is fine).
    async fn play_defence(&self, id: u64, stop: &CancellationToken) -> Result<(), WorkerError> {
        use iollm_types::market::Check;
        let poll = Duration::from_millis(self.config.poll_ms);
        let dispute = self.conn.dispute()?;
        let mut trainer = None;
        while !stop.is_cancelled() {
            let job = self.chain_job(id).await?;
            match self.our_sign_up(id, &job).await? {
                Some((index, Check::Accused { .. })) => {
                    let now = self.conn.chain.best_block().await?;
                    let mut undecided = false;
                    for k in 0..job.accusations {
                        let game = match self.market.defence_of(id, index, k).await? {
                            Some(game) => game,
                            None => {
                                let open = self.market.accusation_of(id, k).await?;
                                if open.is_none_or(|a| now > a.until) {
                                    continue;
                                }
                                match self.market.defend(&self.signer, id, k).await {
                                    Ok(call) => {
                                        tracing::info!(target: "worker::verifier", job = id, accusation = k, game = call.value, "Defending the attested result");
                                        let included = call.included;
                                        self.state
                                            .transaction(
                                                id,
                                                "defend",
                                                included.tx_hash,
                                                included.block,
                                                None,
                                            )
                                            .await?;
                                        call.value
                                    }
                                    Err(ChainError::ContractRefused { message, .. }) => {
                                        tracing::warn!(target: "worker::verifier", job = id, accusation = k, %message, "Defence refused");
                                        continue;
                                    }
                                    Err(e) => return Err(e.into()),
                                }
                            }
                        };
                        if !is_over(dispute.game(game).await?.as_ref(), now) {
                            undecided = true;
                            let trainer = self.trainer_in(id, &mut trainer).await?;
                            self.play_side(id, game, trainer).await?;
                        }
                    }
                    // A game of the job decided (or late) but not settled would hold the bond
                    // and the accusation it may add: anyone settles it, so this worker does.
                    if job.open_games > 0 {
                        self.settle_decided_games(id, &job).await?;
                    }
                    // Each defence won is settled as it comes: the first attester settled past
                    // a claim is paid half its challenger's bond.
                    if !undecided {
                        match self.market.settle_attester(&self.signer, id, index).await {
                            Ok(_) | Err(ChainError::ContractRefused { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Some((_, Check::Settled { upheld })) => {
                    let note = if upheld {
                        "attested; defended the result against every accusation and won: bond back"
                    } else {
                        "attested; lost a defence of the result: bond slashed"
                    };
                    tracing::info!(target: "worker::verifier", job = id, note, "Defence settled");
                    return Ok(self.state.set_stage(id, Stage::Checked, Some(note)).await?);
                }
                _ => {
                    let note = "no accused attestation of this worker's on the job";
                    return Ok(self.state.set_stage(id, Stage::Lost, Some(note)).await?);
                }
            }
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// Settles every challenge of job `id` whose game is decided, or whose side to move is
    /// late (the dispute contract decides it first); a refusal (settled meanwhile) is fine.
    async fn settle_decided_games(&self, id: u64, job: &Job) -> Result<(), WorkerError> {
        let dispute = self.conn.dispute()?;
        let now = self.conn.chain.best_block().await?;
        for index in 0..job.challenges {
            let Some(challenge) = self.market.game_of(id, index).await? else { continue };
            if challenge.settled {
                continue;
            }
            if !is_over(dispute.game(challenge.game).await?.as_ref(), now) {
                continue;
            }
            match self.market.settle_challenge(&self.signer, id, index).await {
                Ok(_) => {
                    tracing::info!(target: "worker::verifier", job = id, challenge = index, "Settled a decided game")
                }
                Err(ChainError::ContractRefused { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Verifier, its challenge won: plays the challenger's side of every attester's defence
    /// against its claim (each accusation that is its game) and settles each accused attester
    /// it may (a defence against its claim decided, or not made in time), which pays it half
    /// of each bond slashed on its accusation. Whether every accused attester is settled (or
    /// none is its to answer).
    async fn answer_defences(
        &self,
        id: u64,
        trainer: &mut Option<iollm_compute::Trainer>,
    ) -> Result<bool, WorkerError> {
        use iollm_types::market::Check;
        let job = self.chain_job(id).await?;
        if job.accused == 0 {
            return Ok(true);
        }
        let mut mine = Vec::new();
        for k in 0..job.accusations {
            let Some(accusation) = self.market.accusation_of(id, k).await? else { continue };
            let accuser = self.market.game_of(id, accusation.by).await?;
            if accuser.is_some_and(|c| c.challenger == self.signer.account_bytes()) {
                mine.push((k, accusation));
            }
        }
        if mine.is_empty() {
            return Ok(true);
        }
        let dispute = self.conn.dispute()?;
        let now = self.conn.chain.best_block().await?;
        for index in 0..job.sign_ups {
            let Some(sign_up) = self.market.sign_up_of(id, index).await? else { continue };
            if !matches!(sign_up.check, Check::Accused { .. }) {
                continue;
            }
            let mut settle = false;
            for (k, accusation) in &mine {
                match self.market.defence_of(id, index, *k).await? {
                    Some(game) => {
                        let decided = is_over(dispute.game(game).await?.as_ref(), now);
                        if !decided {
                            let trainer = self.trainer_in(id, trainer).await?;
                            self.play_side(id, game, trainer).await?;
                        }
                        settle |= decided;
                    }
                    None => settle |= now > accusation.until,
                }
            }
            if settle {
                match self.market.settle_attester(&self.signer, id, index).await {
                    Ok(_) => {
                        tracing::info!(target: "worker::verifier", job = id, sign_up = index, "Settled an accused attester")
                    }
                    Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(false)
    }

    /// A reveal (`attest`) that failed: refused because this worker already revealed (the
    /// reveal landed before a restart) it is done; refused otherwise (the window closed, the
    /// job ended) it is over, noted; any other failure is retried.
    async fn refused_reveal(&self, id: u64, error: ChainError) -> Result<(), WorkerError> {
        use iollm_types::market::Check;
        let ChainError::ContractRefused { message, .. } = error else { return Err(error.into()) };
        // What the chain holds decides, whatever the refusal (a reveal that landed before a
        // restart is refused as `AlreadyActed`, or as `WrongState` once the job was rejected).
        let job = self.chain_job(id).await?;
        let check = self.our_sign_up(id, &job).await?.map(|(_, check)| check);
        let (stage, note) = match check {
            // Attested: it still watches to defend what it attested.
            Some(Check::Checked { .. } | Check::Accused { .. }) => {
                (Stage::Attested, "attested (its reveal landed before a restart)".to_string())
            }
            Some(Check::Committed) if job.state == JobState::Submitted => {
                // Its check was refused (say, a checks tree of another shape than the job's):
                // a reveal without one still brings the bond back.
                match self.market.attest(&self.signer, id, self.secret_of(id).await?, &None).await {
                    Ok(call) => {
                        let included = call.included;
                        self.state
                            .transaction(id, "reveal", included.tx_hash, included.block, None)
                            .await?;
                        (Stage::Checked, format!("check refused ({message}); revealed without one"))
                    }
                    Err(ChainError::ContractRefused { message, .. }) => (Stage::Lost, message),
                    Err(e) => return Err(e.into()),
                }
            }
            Some(Check::Committed) => (Stage::Lost, message),
            _ => (Stage::Checked, "revealed (before a restart)".to_string()),
        };
        Ok(self.state.set_stage(id, stage, Some(&note)).await?)
    }

    /// The secret job `id`'s sign-up was made with.
    async fn secret_of(&self, id: u64) -> Result<[u8; 32], WorkerError> {
        let secret = self.state.job(id).await?.and_then(|j| j.secret);
        Ok(secret.ok_or_else(|| StateError::Corrupt(format!("job {id}: no secret")))?)
    }

    /// This worker's unsettled challenge of job `id`: its index and record.
    async fn our_challenge(
        &self,
        id: u64,
    ) -> Result<Option<(u16, iollm_types::market::Challenge)>, WorkerError> {
        let job = self.chain_job(id).await?;
        for index in 0..job.challenges {
            if let Some(challenge) = self.market.game_of(id, index).await? {
                if challenge.challenger == self.signer.account_bytes() && !challenge.settled {
                    return Ok(Some((index, challenge)));
                }
            }
        }
        Ok(None)
    }

    /// Verifier: challenges the result with its own run as the claim (unless the chain shows
    /// it already did, before a restart).
    async fn challenge(&self, id: u64) -> Result<(), WorkerError> {
        if self.our_challenge(id).await?.is_some() {
            return Ok(self.state.set_stage(id, Stage::Challenged, None).await?);
        }
        let run = self.job_dir(id).join("run");
        let c = crate::challenge_claim(&run).map_err(iollm_compute::Error::CorruptCheckpoint)?;
        let claimed = self.market.challenge(
            &self.signer,
            id,
            c.trace_root,
            &c.first_path,
            c.last,
            &c.last_path,
        );
        match claimed.await {
            Ok(call) => {
                tracing::info!(target: "worker::verifier", job = id, index = call.value, "Challenged");
                self.state
                    .transaction(id, "challenge", call.included.tx_hash, call.included.block, None)
                    .await?;
                Ok(self.state.set_stage(id, Stage::Challenged, None).await?)
            }
            // Refused (the window closed, the claim does not prove): reveal without a check
            // instead, so the sign-up's bond comes back.
            Err(ChainError::ContractRefused { message, .. }) => {
                tracing::warn!(target: "worker::verifier", job = id, why = %message, "Challenge refused; revealing instead");
                match self.market.attest(&self.signer, id, self.secret_of(id).await?, &None).await {
                    Ok(call) => {
                        let included = call.included;
                        self.state
                            .transaction(id, "reveal", included.tx_hash, included.block, None)
                            .await?;
                        let note =
                            format!("challenge refused ({message}); revealed without a check");
                        Ok(self.state.set_stage(id, Stage::Checked, Some(&note)).await?)
                    }
                    Err(e) => self.refused_reveal(id, e).await,
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifier: plays the challenger's side of its game until it is decided, then settles it.
    async fn play_challenge(&self, id: u64, stop: &CancellationToken) -> Result<(), WorkerError> {
        let poll = Duration::from_millis(self.config.poll_ms);
        let dispute = self.conn.dispute()?;
        let mut trainer = None;
        while !stop.is_cancelled() {
            let Some((index, challenge)) = self.our_challenge(id).await? else {
                if !self.answer_defences(id, &mut trainer).await? {
                    tokio::time::sleep(poll).await;
                    continue;
                }
                // Its records freed: the game's storage deposit comes back, and its claim's
                // bond, staked while it accused attesters.
                match self.market.release(&self.signer, id).await {
                    Ok(_) | Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                return Ok(self
                    .state
                    .set_stage(id, Stage::Checked, Some("its challenge is settled"))
                    .await?);
            };
            let now = self.conn.chain.best_block().await?;
            let game = dispute.game(challenge.game).await?;
            if is_over(game.as_ref(), now) {
                let verdict = game.and_then(|g| g.verdict());
                tracing::info!(target: "worker::verifier", job = id, ?verdict, "Its game ended; settling it");
                match self.market.settle_challenge(&self.signer, id, index).await {
                    Ok(_) | Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                // Settled: next round answers the defences of the attesters it accused.
                continue;
            }
            let trainer = self.trainer_in(id, &mut trainer).await?;
            self.play_side(id, challenge.game, trainer).await?;
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// The job's trainer (its spec and dataset fetched into a temporary directory).
    async fn trainer(&self, id: u64) -> Result<iollm_compute::Trainer, WorkerError> {
        let dir = self.job_dir(id);
        std::fs::create_dir_all(&dir).map_err(io("creating the job's directory"))?;
        let fetched = tempfile::tempdir_in(&dir).map_err(io("creating a temporary directory"))?;
        let cfg = crate::job::config_of_job(&self.market, &self.store, id, fetched.path()).await?;
        Ok(iollm_compute::Trainer::new(&cfg, &self.runtime)?)
    }

    /// The job's trainer in `slot`, made ([`Worker::trainer`]) the first time it is needed.
    async fn trainer_in<'a>(
        &self,
        id: u64,
        slot: &'a mut Option<iollm_compute::Trainer>,
    ) -> Result<&'a iollm_compute::Trainer, WorkerError> {
        let trainer = match slot.take() {
            Some(trainer) => trainer,
            None => self.trainer(id).await?,
        };
        Ok(slot.insert(trainer))
    }

    /// The moves this worker's side of game `game` owes now, told from its own run (replays
    /// start at its checkpoints); a move the other side overtook
    /// (refused at the dry-run, or failing when it landed) is simply read again next round.
    async fn play_side(
        &self,
        id: u64,
        game: iollm_types::dispute::GameId,
        trainer: &iollm_compute::Trainer,
    ) -> Result<(), WorkerError> {
        let moved = |kind: &str, call: &iollm_chain::contract::Executed<()>| {
            self.metrics.moves.inc();
            tracing::info!(target: "worker::game", job = id, game, kind, block = call.included.block, "Moved");
        };
        // Its own run of the job (the executor's, or the verifier's), else the part of the
        // executor's published run it fetched: replays start from those checkpoints instead
        // of from h_0.
        let dir = self.job_dir(id);
        let runs = [dir.join("run"), dir.join("published")];
        // The checkpoint interval is the job's, never what a published trace.json says.
        let every = trainer.config().train.checkpoint_every;
        let run = runs.iter().find(|run| iollm_compute::read_trace(run).is_ok());
        let (run, every) = match run {
            Some(run) => (run.as_path(), Some(every)),
            None => (runs[0].as_path(), None),
        };
        // A one-segment claim it challenged with is its story at level 1, in a game about
        // that claim (its own, or a defence against it).
        let claim = match read_claim(&dir)? {
            Some(claim) => {
                let game = self.conn.dispute()?.game(game).await?;
                let terms = game.map(|g| g.terms.trace_roots[1]);
                Some(claim).filter(|claim| Some(iollm_compute::merkle::root(claim)) == terms)
            }
            None => None,
        };
        let story = |side| {
            let player = match every {
                Some(every) => crate::player::Player::from_run(side, trainer, run, every),
                None => crate::player::Player::new(side, trainer, None),
            };
            match &claim {
                Some(claim) if side == iollm_types::bisection::Side::Challenger => {
                    player.with_claim(claim.clone())
                }
                _ => player,
            }
        };
        match crate::player::play(&self.conn, &self.signer, game, story, false, moved).await {
            Ok(_) => Ok(()),
            Err(crate::player::PlayError::Chain(
                e @ (ChainError::ContractRefused { .. } | ChainError::Dispatch { .. }),
            )) => {
                tracing::info!(target: "worker::game", job = id, why = %e, "Move overtaken; reading the game again");
                Ok(())
            }
            Err(crate::player::PlayError::Chain(e)) => Err(e.into()),
            Err(e) => Err(WorkerError::Play(e)),
        }
    }

    /// One round of defence: in each unsettled game about job `id`, the moves the executor's
    /// side owes now, from the run the job's spec defines (recomputed step by step, its
    /// trainer built once); a decided game is settled (by whoever comes first: a refusal
    /// because another settled it is fine).
    async fn defend_result(
        &self,
        id: u64,
        job: &Job,
        trainer: &mut Option<iollm_compute::Trainer>,
    ) -> Result<(), WorkerError> {
        let dispute = self.conn.dispute()?;
        for index in 0..job.challenges {
            let Some(challenge) = self.market.game_of(id, index).await? else { continue };
            let Some(game) = dispute.game(challenge.game).await? else { continue };
            if game.verdict().is_some() {
                match self.market.settle_challenge(&self.signer, id, index).await {
                    Ok(_) => {
                        tracing::info!(target: "worker::executor", job = id, index, "Settled a decided game")
                    }
                    Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            let trainer = self.trainer_in(id, trainer).await?;
            self.play_side(id, challenge.game, trainer).await?;
        }
        Ok(())
    }
}

/// What an executor's output package says of itself besides its run.
pub struct Output {
    /// The market job it is the output of.
    pub job: u64,
    /// The artifact the job works for: the output's parent (a fine-tune of it), as the
    /// registry requires of a job's output.
    pub artifact: u64,
    /// Its licence (SPDX).
    pub license: String,
    /// Who made it (the executor's account).
    pub created_by: String,
    /// The memory a runtime needs to load it.
    pub memory_bytes: u64,
}

/// Builds an executor's output package in `out` from its finished run in `run` — the
/// weights, their config and an SMIP manifest naming the job, its artifact as parent, the
/// run's trace root and the published run — and adds it to `store`. Returns the package's CID. The run (its
/// `trace.json` and checkpoints, never the steps roots a spot check must replay to know) is
/// published first, best effort: without it verifiers run the job themselves, nothing is lost.
pub async fn publish_output<S: ContentStore>(
    store: &S,
    output: &Output,
    run: &Path,
    out: &Path,
) -> Result<String, WorkerError> {
    let id = output.job;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io("clearing the output directory"))?;
    }
    std::fs::create_dir_all(out).map_err(io("creating the output directory"))?;
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(run.join(file), out.join(file)).map_err(io(format!("copying {file}")))?;
    }
    let result = iollm_compute::run_result(run)?;
    let options = iollm_artifacts::package_options();
    let staging = out
        .with_file_name(format!("{}-run", out.file_name().unwrap_or_default().to_string_lossy()));
    let published_run = match publish_run(store, run, &staging, &options).await {
        Ok(cid) => Some(cid.to_string()),
        Err(e) => {
            tracing::warn!(target: "worker::executor", job = id, why = %e, "The run could not be published: verifiers will run the job themselves");
            None
        }
    };
    let manifest = Manifest {
        smip_version: 1,
        name: format!("iollm-job-{id}"),
        version: "1.0.0".into(),
        description: Some(format!(
            "The output of market job {id}, trained on reproducible numerics."
        )),
        license: output.license.clone(),
        format: Format {
            weights: WeightFormat::Safetensors,
            architecture: "iollm-gpt".into(),
            parameters: None,
        },
        cid_options: CidOptions::from_add_options(&options),
        files: Vec::new(),
        parents: vec![Parent {
            id: Some(output.artifact),
            cid: None,
            relation: Relation::Finetune,
        }],
        provenance: Some(Provenance {
            job_id: Some(id),
            trace_root: Some(iollm_compute::train::hex(&result.trace_root)),
            created_by: Some(output.created_by.clone()),
            run: published_run,
        }),
        runtime: Runtime {
            name: "iollm".into(),
            version: ">=0.1".into(),
            memory_bytes: output.memory_bytes,
            accelerator: Accelerator::Cpu,
        },
        interfaces: vec![Interface::Completion],
        evaluations: Vec::new(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| WorkerError::Io {
        what: "writing smip.json".into(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(out.join("smip.json"), json).map_err(io("writing smip.json"))?;
    let package = iollm_artifacts::add_package(store, out).await?;
    tracing::info!(target: "worker::executor", job = id, package = %package.package_cid, "Published the output");
    Ok(package.package_cid.to_string())
}

/// Publishes what a verifier replays a segment from: the run's `trace.json` and its
/// checkpoints, as a directory staged in `staging` (removed after). Returns its CID.
async fn publish_run<S: ContentStore>(
    store: &S,
    run: &Path,
    staging: &Path,
    options: &AddOptions,
) -> Result<iollm_content::Cid, WorkerError> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(io("clearing the published run"))?;
    }
    let checkpoints = staging.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).map_err(io("staging the published run"))?;
    for file in ["trace.json", iollm_compute::train::COMPLETE_FILE] {
        std::fs::copy(run.join(file), staging.join(file)).map_err(io(format!("staging {file}")))?;
    }
    let trace = iollm_compute::read_trace(run)?;
    for i in 0..trace.hashes.len() {
        let from = iollm_compute::train::checkpoint_path(run, i);
        let to = iollm_compute::train::checkpoint_path(staging, i);
        if from.exists() {
            std::fs::hard_link(&from, &to)
                .or_else(|_| std::fs::copy(&from, &to).map(|_| ()))
                .map_err(io(format!("staging checkpoint {i}")))?;
        }
    }
    let added = store.put_dir(staging, options).await;
    std::fs::remove_dir_all(staging).map_err(io("removing the staged run"))?;
    let added = added?;
    tracing::info!(target: "worker::executor", run = %added.cid, "Published the run's trace and checkpoints");
    Ok(added.cid)
}

/// Where a verifier keeps the one-segment claim it challenged a job with, in the job's
/// directory (the trace's hashes in hex, as `trace.json` has them).
const CLAIM_FILE: &str = "claim.json";

/// Writes a one-segment claim into job directory `dir` (whole and synced, or not at all).
fn write_claim(dir: &Path, claim: &[[u8; 32]]) -> Result<(), WorkerError> {
    let hex: Vec<String> = claim.iter().map(|h| iollm_compute::train::hex(h)).collect();
    let json = serde_json::to_vec(&hex).expect("strings serialise");
    let partial = dir.join(format!("{CLAIM_FILE}.partial"));
    std::fs::create_dir_all(dir).map_err(io("creating the job's directory"))?;
    let write = |json: &[u8]| {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(json)?;
        file.sync_all()
    };
    write(&json).map_err(io("writing the claim"))?;
    std::fs::rename(&partial, dir.join(CLAIM_FILE)).map_err(io("writing the claim"))
}

/// The one-segment claim kept in job directory `dir`, if it challenged with one.
fn read_claim(dir: &Path) -> Result<Option<Vec<[u8; 32]>>, WorkerError> {
    let text = match std::fs::read(dir.join(CLAIM_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading the claim")(e)),
    };
    let hex: Vec<String> = serde_json::from_slice(&text)
        .map_err(|e| StateError::Corrupt(format!("{}: {e}", dir.join(CLAIM_FILE).display())))?;
    let claim: Option<Vec<[u8; 32]>> =
        hex.iter().map(|h| iollm_compute::train::parse_hash(h)).collect();
    claim.map(Some).ok_or_else(|| StateError::Corrupt(format!("{CLAIM_FILE}: a bad hash")).into())
}

/// Whether a game needs no more moves: decided, released (`None`), or with its side to move
/// past its deadline at block `now` (the dispute contract decides it against that side when it
/// is settled).
fn is_over(game: Option<&iollm_types::game::Game>, now: u32) -> bool {
    game.is_none_or(|g| g.verdict().is_some() || g.clone().timeout(now).is_some())
}

/// Where the executor keeps job `id` under `state_dir`: its dataset (`data/`), its run
/// (`run/`, the `iollm train --out` layout) and its output package (`output/`).
pub fn job_dir(state_dir: &Path, id: u64) -> PathBuf {
    state_dir.join("jobs").join(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_and_typos_are_refused() {
        let example = include_str!("../examples/worker.toml");
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
        let err = WorkerConfig::parse("state_dir = \"s\"\nmax_job = 2\n").unwrap_err();
        assert!(err.to_string().contains("max_job"), "{err}");
        let err = WorkerConfig::parse("state_dir = \"s\"\nmin_reward = -1\n").unwrap_err();
        assert!(err.to_string().starts_with("worker config:"), "{err}");
    }
}
