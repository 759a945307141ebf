//! Job specs, `iollm-job-v1`: what a posted job asks its executor to do, as a JSON document on
//! IPFS whose CID is the job's `spec_cid` on chain. A training job names the numerics profile,
//! its base model (by its package's CID; none: initialised from the seed), its dataset (a split
//! of an SMIP dataset package, by the package's CID: no local paths), the model shape, the
//! training loop with its checkpoint interval, and the optimizer. The schema
//! (`worker/schema/iollm-job-v1.schema.json`) is generated from these types and committed (a
//! test refuses a stale one; regenerate with `IOLLM_BLESS=1 cargo test -p iollm-worker job`);
//! it fixes the shape, [`JobDocument::parse`] also the values (ranges the schema does not
//! state, such as a checkpoint interval that divides the steps).
//! `iollm job post --spec FILE` validates a spec and adds it to IPFS with the game spec its job
//! commits ([`publish`]); an executor or verifier reads a job's config back by its spec CID on
//! chain ([`config_of_job`]), and an executor checks before claiming that the committed game
//! spec is the spec's ([`check_before_claim`]): the chain cannot read IPFS.

use iollm_chain::market::MarketClient;
use iollm_compute::data::DataConfig;
use iollm_compute::optim::AdamW;
use iollm_compute::train::TrainSection;
use iollm_compute::{GptConfig, TrainConfig};
use iollm_content::{parse_cid, ContentStore};
use iollm_types::market::{GameSpec, JobId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The committed JSON Schema of [`JobDocument`].
pub const SCHEMA_V1: &str = include_str!("../schema/iollm-job-v1.schema.json");

/// The version this crate reads and writes.
pub const JOB_VERSION: u32 = 1;

/// The largest spec fetched (a spec is a few hundred bytes).
pub const MAX_SPEC_BYTES: u64 = 64 << 10;

/// The largest dataset fetched when no game spec says its length (the trainer holds the
/// corpus in memory; a game's corpus is shorter than 2^32 bytes).
pub const MAX_DATASET_BYTES: u64 = (4 << 30) - 1;

/// A job spec, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "iollm job spec, version 1")]
pub struct JobDocument {
    /// Always `1` for this schema.
    pub job_version: u32,
    /// What the job is.
    pub kind: JobKind,
    /// The numerics profile the run is bit-reproducible under (`repops-v4`).
    pub profile: String,
    /// The model to start from: the CID of its SMIP package (a registered model's package, of
    /// this shape; the job is then posted for that artifact, whose fine-tune its output is);
    /// `null`: initialised from the seed.
    pub base_model: Option<String>,
    /// The training bytes.
    pub dataset: Dataset,
    /// Model shape.
    pub model: GptConfig,
    /// Seed, steps, batch size and the checkpoint interval (which must divide the steps).
    pub train: TrainSection,
    /// AdamW.
    pub optimizer: AdamW,
}

/// Kinds of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Train a model: the result is a checkpoint trace the dispute game can decide.
    Train,
    /// Evaluate a path of models: reserved for the path evaluator (refused until it exists).
    EvalPath,
}

/// Where the training bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dataset {
    /// The synthetic arithmetic task, generated from the seed (`iollm_compute::data`).
    Arithmetic {
        /// Lines to generate (1 to 10 000 000).
        lines: usize,
    },
    /// A split of an SMIP dataset package (`smip-dataset.json`) on IPFS, read as bytes; the
    /// split's file is checked against the package's manifest and every byte against its CID
    /// when fetched.
    Package {
        /// The package's CID (CIDv0 `Qm…` or CIDv1 base32 `b…`).
        cid: String,
        /// The split's name in the manifest, e.g. `train`.
        split: String,
    },
    /// A file on IPFS, read as bytes, every byte checked against its CID: read for jobs
    /// posted before dataset packages; `iollm job post` refuses it (publish the dataset as a
    /// package: `iollm model publish DIR --kind dataset`).
    Ipfs {
        /// The file's CID.
        cid: String,
    },
}

/// Why a job spec is refused: one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum JobSpecError {
    /// The job has no spec on chain (released by its poster).
    #[error(
        "job {0} has no spec on chain (its poster released it): give its training config by \
         hand (--config FILE)"
    )]
    NoSpec(JobId),
    /// The game spec the job committed is not the one its spec gives.
    #[error(
        "job {0}: its committed game spec is not the one its spec gives (another config, \
         corpus or checkpoint layout): an honest run of it could lose its games, do not claim or \
         verify it"
    )]
    NotItsGame(JobId),
    /// The job commits an `h_0` that is not its config's initial state.
    #[error(
        "job {0}: its committed h_0 is not the initial state of its config and seed: an \
         executor would lose its initial game, do not claim it (a verifier challenges it)"
    )]
    ForgedStart(JobId),
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] iollm_chain::ChainError),
    /// A local file, directory or the trainer failed.
    #[error("{0}")]
    Local(String),
    /// Not JSON of the schema (the path of the offending field first).
    #[error("not an iollm-job-v1 spec: {0}")]
    Schema(String),
    /// Valid JSON of the schema, but a value is refused.
    #[error("{0}")]
    Invalid(String),
    /// The spec could not be fetched or did not match its CID.
    #[error("job spec {cid}: {reason}")]
    Fetch {
        /// The spec's CID.
        cid: String,
        /// What went wrong.
        reason: String,
    },
    /// Chunk `chunk` of the base model's weights has no proof the referee reads: a job from
    /// it has no honest `h_0` (challenged as a forged start, never claimed).
    #[error("base model {cid}: {reason}")]
    UnprovableBase {
        /// The base package's CID.
        cid: String,
        /// The chunk.
        chunk: u64,
        /// Why.
        reason: String,
    },
    /// The base model could not be fetched, or is not a model of this shape laid out as
    /// packages are.
    #[error("base model {cid}: {reason}")]
    Base {
        /// The base package's CID.
        cid: String,
        /// What went wrong.
        reason: String,
    },
    /// The dataset's split could not be fetched, or did not match its package or CID.
    #[error("dataset {cid}: {reason}")]
    Dataset {
        /// The dataset package's CID.
        cid: String,
        /// What went wrong.
        reason: String,
    },
}

impl JobDocument {
    /// Fetches the spec `cid` names from `store` (into `dir/job.json`, every byte checked
    /// against the CID) and parses and checks it: what an executor or verifier of a job reads
    /// from the job's `spec_cid`.
    pub async fn fetch<S: ContentStore>(
        store: &S,
        cid: &str,
        dir: &Path,
    ) -> Result<JobDocument, JobSpecError> {
        let failed = |reason: String| JobSpecError::Fetch { cid: cid.to_owned(), reason };
        let parsed = parse_cid(cid).map_err(|e| failed(e.to_string()))?;
        let path = dir.join("job.json");
        iollm_content::fetch_file_verified(store, &parsed, &path, MAX_SPEC_BYTES)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let bytes = std::fs::read(&path).map_err(|e| failed(e.to_string()))?;
        JobDocument::parse(&bytes).map_err(|e| failed(e.to_string()))
    }

    /// Parses and checks a spec's bytes: the schema (unknown fields refused), the version, the
    /// kind (training), the profile, the base model (none yet), the dataset's CID and every
    /// value of the training config.
    pub fn parse(bytes: &[u8]) -> Result<JobDocument, JobSpecError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let doc: JobDocument = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!("at {path}: ") };
            JobSpecError::Schema(format!("{at}{}", e.inner()))
        })?;
        // One document, nothing after it: a spec has one encoding up to whitespace.
        de.end().map_err(|e| JobSpecError::Schema(e.to_string()))?;
        doc.check()?;
        Ok(doc)
    }

    fn check(&self) -> Result<(), JobSpecError> {
        let invalid = |m: String| Err(JobSpecError::Invalid(m));
        if self.job_version != JOB_VERSION {
            return invalid(format!(
                "job_version {} is not {JOB_VERSION}: this iollm reads iollm-job-v1 specs",
                self.job_version
            ));
        }
        if self.kind != JobKind::Train {
            return invalid(
                "eval_path jobs are reserved for the path evaluator, which does not \
                            exist yet: post a train job"
                    .into(),
            );
        }
        if self.profile != iollm_compute::PROFILE {
            return invalid(format!(
                "profile {:?} is not {:?}, the numerics profile this iollm trains under",
                self.profile,
                iollm_compute::PROFILE
            ));
        }
        if let Some(cid) = &self.base_model {
            parse_cid(cid).map_err(|e| JobSpecError::Invalid(format!("base_model: {e}")))?;
        }
        if let Dataset::Package { cid, .. } | Dataset::Ipfs { cid } = &self.dataset {
            parse_cid(cid).map_err(|e| JobSpecError::Invalid(format!("dataset.cid: {e}")))?;
        }
        if let Dataset::Package { split, .. } = &self.dataset {
            if !iollm_content::manifest::is_split_name(split) {
                return invalid(format!(
                    "dataset.split {split:?}: name a split of the package (1-64 lower-case \
                     letters, digits, '_' or '-', e.g. \"train\")"
                ));
            }
        }
        // A fetched split is a file; its bytes are whatever its package lists.
        let data = match self.dataset {
            Dataset::Arithmetic { lines } => DataConfig::Arithmetic { lines },
            Dataset::Package { .. } | Dataset::Ipfs { .. } => {
                DataConfig::File { path: "dataset".into() }
            }
        };
        let base = self.base_model.as_ref().map(|_| BASE_FILE.into());
        self.config_with(data, base).validate().map_err(|e| JobSpecError::Invalid(e.to_string()))
    }

    fn config_with(&self, data: DataConfig, base: Option<std::path::PathBuf>) -> TrainConfig {
        TrainConfig {
            model: self.model.clone(),
            train: self.train.clone(),
            optimizer: self.optimizer.clone(),
            data,
            base,
        }
    }

    /// The training config this spec runs, its dataset made local (generated, or its split
    /// fetched from `store` into `dir/dataset`, checked against its package's manifest and
    /// every byte against its CID; a split of more than `max_bytes` is refused before anything
    /// is written) and
    /// its base model's weights file fetched into `dir/base.safetensors` the same way (at
    /// most the size of a weights file of its shape).
    pub async fn train_config<S: ContentStore>(
        &self,
        store: &S,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<TrainConfig, JobSpecError> {
        let data = match &self.dataset {
            Dataset::Arithmetic { lines } => DataConfig::Arithmetic { lines: *lines },
            Dataset::Package { cid, split } => {
                let failed = |e: String| JobSpecError::Dataset { cid: cid.clone(), reason: e };
                let parsed = parse_cid(cid).map_err(|e| failed(e.to_string()))?;
                let path = dir.join("dataset");
                iollm_content::fetch_split(store, &parsed, split, &path, max_bytes)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                DataConfig::File { path }
            }
            Dataset::Ipfs { cid } => {
                let failed = |e: String| JobSpecError::Dataset { cid: cid.clone(), reason: e };
                let parsed = parse_cid(cid).map_err(|e| failed(e.to_string()))?;
                let path = dir.join("dataset");
                iollm_content::fetch_file_verified(store, &parsed, &path, max_bytes)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                DataConfig::File { path }
            }
        };
        let base = match &self.base_model {
            None => None,
            Some(cid) => Some(self.fetch_base(store, cid, &dir.join(BASE_FILE)).await?),
        };
        Ok(self.config_with(data, base))
    }

    /// Fetches the weights file of base package `cid` into `path`, every byte checked.
    async fn fetch_base<S: ContentStore>(
        &self,
        store: &S,
        cid: &str,
        path: &Path,
    ) -> Result<std::path::PathBuf, JobSpecError> {
        let failed = |e: String| JobSpecError::Base { cid: cid.to_owned(), reason: e };
        let (header, _) = iollm_compute::io::weights_header_and_config(&self.model)
            .map_err(|e| failed(e.to_string()))?;
        let params = iollm_compute::model::Layout::new(&self.model).total as u64;
        let package = parse_cid(cid).map_err(|e| failed(e.to_string()))?;
        let weights = iollm_compute::io::WEIGHTS_FILE;
        let file = iollm_content::resolve_path(store, &package, weights)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let size = header.len() as u64 + 4 * params;
        iollm_content::fetch_file_verified(store, &file, path, size)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(path.to_owned())
    }

    /// The spec's canonical bytes (pretty JSON, newline-terminated): what is added to IPFS.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a job spec serialises");
        out.push(b'\n');
        out
    }
}

/// Where a job's base model's weights file is fetched to, in its directory.
const BASE_FILE: &str = "base.safetensors";

/// The JSON Schema generated from [`JobDocument`] (what [`SCHEMA_V1`] must equal).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(JobDocument);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    s.push('\n');
    s
}

/// Checks and canonicalises a spec's `bytes`, fetches its dataset into `dir` (at most
/// [`MAX_DATASET_BYTES`], every byte checked) to work out the game spec its job commits (with
/// `move_blocks` a move), and adds the canonical spec to `store`. Returns the spec's CID and
/// the game spec; nothing is added when the spec or its dataset is refused.
pub async fn publish<S: ContentStore>(
    store: &S,
    bytes: &[u8],
    move_blocks: u32,
    dir: &Path,
) -> Result<(String, GameSpec), JobSpecError> {
    // What executors read is the canonical encoding: the game spec is worked out from it.
    let canonical = JobDocument::parse(bytes)?.to_bytes();
    let doc = JobDocument::parse(&canonical)?;
    if let Dataset::Ipfs { .. } = doc.dataset {
        return Err(JobSpecError::Invalid(
            "dataset.source \"ipfs\" (a raw file) is read for old jobs only: publish the \
             dataset as a package (`iollm model publish DIR --kind dataset`) and name its split"
                .into(),
        ));
    }
    let cfg = doc.train_config(store, dir, MAX_DATASET_BYTES).await?;
    let game = game_of(&doc, &cfg, move_blocks)?;
    let file = dir.join("job.json");
    std::fs::write(&file, &canonical).map_err(|e| JobSpecError::Local(e.to_string()))?;
    let added = store
        .put_file(&file, &iollm_content::AddOptions::v1())
        .await
        .map_err(|e| JobSpecError::Local(format!("adding the spec to IPFS: {e}")))?;
    Ok((added.cid.to_string(), game))
}

/// The training config of job `job`: its spec fetched by the CID on chain (checked against
/// it), its dataset made local in `dir` (at most the corpus the job committed to); refused
/// when the game spec the job committed is not the one the spec gives, but for its `h_0`
/// (which [`check_before_claim`] checks, and a verifier challenges: [`crate::initial_root`]).
pub async fn config_of_job<S: ContentStore>(
    market: &MarketClient,
    store: &S,
    job: JobId,
    dir: &Path,
) -> Result<TrainConfig, JobSpecError> {
    let cid = market.job_spec(job).await?.ok_or(JobSpecError::NoSpec(job))?;
    let doc = JobDocument::fetch(store, &String::from_utf8_lossy(&cid), dir).await?;
    let game = market.job_terms(job).await?.and_then(|t| t.game);
    let max = game.as_ref().map_or(MAX_DATASET_BYTES, |g| g.config.corpus_len);
    let cfg = doc.train_config(store, dir, max).await?;
    if let Some(committed) = game {
        let ours = game_of(&doc, &cfg, committed.move_blocks)?;
        if (GameSpec { h0: committed.h0, ..ours }) != committed {
            return Err(JobSpecError::NotItsGame(job));
        }
    }
    Ok(cfg)
}

/// What an executor checks before it claims a training job: that its spec, dataset and base
/// model can be fetched and checked, that the game spec the job committed is the one they give
/// ([`config_of_job`]) and that its `h_0` is the initial state ([`crate::initial_root`]);
/// claiming a job whose games an honest run cannot win would cost it its collateral. An
/// evaluation job has nothing to check yet.
pub async fn check_before_claim<S: ContentStore>(
    market: &MarketClient,
    store: &S,
    job: JobId,
) -> Result<(), JobSpecError> {
    let Some(game) = market.job_terms(job).await?.and_then(|t| t.game) else { return Ok(()) };
    let dir = tempfile::tempdir().map_err(|e| JobSpecError::Local(e.to_string()))?;
    config_of_job(market, store, job, dir.path()).await?;
    if crate::initial_root(store, &game).await? != game.h0 {
        return Err(JobSpecError::ForgedStart(job));
    }
    Ok(())
}

/// The game spec a job of spec `doc` commits, `cfg` its config made local.
fn game_of(
    doc: &JobDocument,
    cfg: &TrainConfig,
    move_blocks: u32,
) -> Result<GameSpec, JobSpecError> {
    let base = doc.base_model.clone().map(String::into_bytes);
    Ok(GameSpec { base, ..crate::game_spec(&trainer(cfg)?, cfg, move_blocks) })
}

fn trainer(cfg: &TrainConfig) -> Result<iollm_compute::Trainer, JobSpecError> {
    iollm_compute::Trainer::new(cfg, &iollm_compute::Runtime::new(1))
        .map_err(|e| JobSpecError::Local(e.to_string()))
}
