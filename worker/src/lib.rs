//! `iollm-worker`: the GPU provider's worker (issue 15). Job specs ([`job`]: what a posted job
//! asks its executor to do, a versioned JSON schema, published, read back and checked before a
//! claim); the worker daemon ([`daemon`], `iollm worker run`: as executor it claims, trains,
//! publishes, submits, defends, finalizes and withdraws; as verifier it signs up, runs the job,
//! attests or challenges and plays the game; its progress in a SQLite [`state`] so a crash
//! loses nothing, its [`metrics`] on a loopback `/metrics`); what an executor submits for a finished run ([`submission`]); a verifier's
//! spot check ([`spotcheck`]), how it judges its replay of a segment ([`judge_replay`]) and
//! what it checks of the output package before it attests ([`output`]); and
//! the part that plays the dispute game ([`player`]): given where a game stands, the move its
//! side makes, answered from its own run of the job by replaying one step at a time.

pub mod daemon;
pub mod job;
pub mod metrics;
pub mod output;
pub mod player;
pub mod spotcheck;
pub mod state;

use iollm_compute::{TrainConfig, Trainer};
use iollm_types::game::GameConfig;
use iollm_types::market::GameSpec;
use iollm_types::package::{self, OutputCommit};

/// What a training job commits for the dispute game when it is posted: `cfg`'s step, config
/// hash, corpus root, checkpoint layout and initial state root (`trainer` is `cfg`'s), what
/// its output package holds besides the weights, and the blocks a side has per move; no base
/// model (a job from one names its package: `job::publish`).
pub fn game_spec(trainer: &Trainer, cfg: &TrainConfig, move_blocks: u32) -> GameSpec {
    let o = &cfg.optimizer;
    let initial = trainer.initial_state();
    let (header, config_json) = iollm_compute::io::weights_header_and_config(&cfg.model)
        .expect("a valid model config exports");
    let output = output_commit(&header, initial.params.len(), &config_json);
    GameSpec {
        config: GameConfig {
            n_layer: cfg.model.n_layer as u32,
            n_head: cfg.model.n_head as u32,
            n_embd: cfg.model.n_embd as u32,
            n_ctx: cfg.model.n_ctx as u32,
            batch: cfg.train.batch_size as u32,
            corpus_len: trainer.corpus().len() as u64,
            optimizer: [o.lr, o.beta1, o.beta2, o.eps, o.weight_decay].map(f32::to_bits),
            warmup_steps: o.warmup_steps,
            seed: cfg.train.seed,
        },
        config_hash: trainer.config_hash(),
        corpus_root: iollm_compute::data::corpus_root(trainer.corpus()),
        every: cfg.train.checkpoint_every as u32,
        checkpoints: cfg.n_checkpoints() as u32,
        h0: initial.hash(&trainer.config_hash()),
        move_blocks,
        output,
        base: None,
    }
}

/// The state a game with terms `terms` says its job starts from, worked out from what the job
/// committed alone, off the async executor: its config's initial state for its seed
/// (`iollm_repops::init`), or its base model's weights read from `store` as the referee reads
/// them. A job whose `h_0` is not this one's root was posted with a forged start: no honest
/// executor claims it, and a verifier challenges it in an initial game, which the referee
/// decides the same way.
pub async fn initial_start<S: iollm_content::ContentStore>(
    store: &S,
    terms: &iollm_types::game::Terms,
) -> Result<player::Start, job::JobSpecError> {
    let cid = |bytes: &[u8]| iollm_content::Cid::try_from(bytes).ok();
    let cid_text = terms
        .base
        .as_deref()
        .map(|bytes| cid(bytes).map_or_else(|| format!("{bytes:02x?}"), |c| c.to_string()));
    let cid_text = cid_text.unwrap_or_default();
    let failed = |reason: String| job::JobSpecError::Base { cid: cid_text.clone(), reason };
    let base_error = |e: player::BaseError| match e {
        player::BaseError::Unprovable { chunk, .. } => job::JobSpecError::UnprovableBase {
            cid: cid_text.clone(),
            chunk,
            reason: e.to_string(),
        },
        player::BaseError::Fetch(_) => failed(e.to_string()),
    };
    let base = match terms.base.as_deref() {
        None => None,
        Some(bytes) => {
            let cid = cid(bytes).ok_or_else(|| failed("not a CID".into()))?;
            let weights = player::BaseWeights::fetch(store, &cid, &terms.output).await;
            Some(weights.map_err(base_error)?)
        }
    };
    let (config, config_hash) = (terms.config.clone(), terms.config_hash);
    let build = move || match base {
        None => Ok(player::Start::of_seed(&config, &config_hash)),
        Some(base) => player::Start::of_base(&config, &config_hash, base),
    };
    let built = tokio::task::spawn_blocking(build).await;
    let built = built.map_err(|e| job::JobSpecError::Local(format!("initial state: {e}")))?;
    built.map_err(base_error)
}

/// [`initial_start`], or for a job whose base model has a chunk nobody can prove, what a
/// challenger plays against it ([`player::Start::unprovable`]): what a worker plays an initial
/// game from.
pub async fn initial_player_start<S: iollm_content::ContentStore>(
    store: &S,
    terms: &iollm_types::game::Terms,
) -> Result<player::Start, job::JobSpecError> {
    match initial_start(store, terms).await {
        Err(job::JobSpecError::UnprovableBase { chunk, .. }) => {
            Ok(player::Start::unprovable(chunk))
        }
        start => start,
    }
}

/// The root of the state a job with game spec `game` starts from ([`initial_start`]): what
/// its `h_0` must be.
pub async fn initial_root<S: iollm_content::ContentStore>(
    store: &S,
    game: &GameSpec,
) -> Result<[u8; 32], job::JobSpecError> {
    let terms = game.terms([[0; 32]; 2], [[0; 32]; 2], Vec::new()).map_err(|e| {
        job::JobSpecError::Base {
            cid: String::from_utf8_lossy(game.base.as_deref().unwrap_or_default()).into_owned(),
            reason: format!("not a CID ({e:?})"),
        }
    })?;
    Ok(initial_start(store, &terms).await?.root())
}

/// What a job commits about its output package: the weights file's `header` (its first `D`
/// bytes, whole 32 KiB pieces), `params` and `config.json`'s bytes.
pub fn output_commit(header: &[u8], params: usize, config_json: &[u8]) -> OutputCommit {
    use iollm_compute::merkle::Sha;
    use iollm_repops::merkle::Hasher;
    OutputCommit {
        header_root: package::header_root::<Sha>(header).expect("the header is whole pieces"),
        header_len: header.len() as u64,
        params: params as u64,
        config_json: Sha::hash(&[config_json]),
    }
}

/// Why a run directory is not a result of a job.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// The run cannot be read (not finished, a checkpoint missing or corrupt).
    #[error(transparent)]
    Run(#[from] iollm_compute::Error),
    /// It is a run, but not of the job's game spec (another config, a run stopped short).
    #[error("it is not a run of this job: {}", .0.message())]
    NotThisJob(iollm_types::market::FinalStateError),
}

/// What an executor submits for the finished run in `run_dir` of a training job with game spec
/// `game`: the commitment (trace and checks roots, the last step's loss, `output_cid`, `score`)
/// and the proof of its last state, checked here as the market will check it. A diverged run
/// (its last loss NaN or infinite) reports `NOT_A_LOSS`: whether it is the honest run of the
/// job is the game's to decide.
pub fn submission(
    run_dir: &std::path::Path,
    game: &GameSpec,
    output_cid: &str,
    score: u64,
) -> Result<(iollm_types::market::Commitment, iollm_types::market::FinalState), SubmissionError> {
    use iollm_types::market::{loss_micros, Commitment, FinalState};
    let result = iollm_compute::run_result(run_dir)?;
    let commitment = Commitment {
        output_cid: output_cid.as_bytes().to_vec(),
        score,
        loss: loss_micros(result.loss.to_bits()),
        trace_root: result.trace_root,
        checks_root: result.checks_root,
    };
    let last =
        FinalState { state: result.last, path: result.last_path, first_path: result.first_path };
    last.check::<iollm_compute::merkle::Sha>(game, &commitment.trace_root, commitment.loss)
        .map_err(SubmissionError::NotThisJob)?;
    Ok((commitment, last))
}

/// What a challenger claims with its run of a job: its trace root, `h_0` with its path and
/// `h_n` with its path (the market's `challenge` arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeClaim {
    /// The Merkle root over the run's `h_0..h_n`.
    pub trace_root: [u8; 32],
    /// `h_0`'s path in it.
    pub first_path: Vec<[u8; 32]>,
    /// `h_n`.
    pub last: [u8; 32],
    /// `h_n`'s path in it.
    pub last_path: Vec<[u8; 32]>,
}

impl ChallengeClaim {
    /// The challenge of a claimed trace `hashes` (`h_0..h_n`); `None` when it holds none.
    pub fn of(hashes: &[[u8; 32]]) -> Option<ChallengeClaim> {
        let n = hashes.len().checked_sub(1)?;
        let path = |i: usize| iollm_compute::merkle::proof(hashes, i).unwrap_or_default();
        Some(ChallengeClaim {
            trace_root: iollm_compute::merkle::root(hashes),
            first_path: path(0),
            last: hashes[n],
            last_path: path(n),
        })
    }
}

/// The claim of the run in `run_dir` (its `trace.json`); why not, in words, when the trace
/// cannot be read or holds no hashes.
pub fn challenge_claim(run_dir: &std::path::Path) -> Result<ChallengeClaim, String> {
    let trace = iollm_compute::read_trace(run_dir).map_err(|e| e.to_string())?;
    let hashes = trace
        .hashes
        .iter()
        .map(|h| iollm_compute::train::parse_hash(h).ok_or_else(|| format!("bad hash {h:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    ChallengeClaim::of(&hashes).ok_or_else(|| "trace.json holds no hashes".to_owned())
}

/// What a verifier's replay of a segment says of the executor's commitments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The replay does not reach the trace's next checkpoint: the result is wrong.
    Wrong,
    /// It reaches it and its steps root is the executor's committed check: attest with it.
    Matches([u8; 32]),
    /// It reaches it, but the executor committed another check: reveal without one.
    WrongCheck,
}

/// Judges a replay's per-step roots `steps` against the executor's committed check leaf of the
/// segment and the trace's next checkpoint. The checkpoint comes first: an executor that
/// commits an honest check next to a forged checkpoint (say, a last state with another loss)
/// must not be attested because its check matches.
pub fn judge_replay(
    steps: &[[u8; 32]],
    committed_check: &[u8; 32],
    next_checkpoint: Option<&[u8; 32]>,
) -> Replay {
    if steps.last().is_none() || steps.last() != next_checkpoint {
        return Replay::Wrong;
    }
    let steps_root = iollm_compute::merkle::root(steps);
    if iollm_types::spotcheck::leaf::<iollm_compute::merkle::Sha>(&steps_root) == *committed_check {
        Replay::Matches(steps_root)
    } else {
        Replay::WrongCheck
    }
}
