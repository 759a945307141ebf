//! Job specs, `iollm-job-v1`: what a posted job asks its executor to do, as a JSON document on
//! IPFS whose CID is the job's `spec_cid` on chain. A training job names the numerics profile,
//! its base model (none: initialised from the seed), its dataset (by CID: no local paths), the
//! model shape, the training loop with its checkpoint interval, and the optimizer. The schema
//! (`worker/schema/iollm-job-v1.schema.json`) is generated from these types and committed (a
//! test refuses a stale one; regenerate with `IOLLM_BLESS=1 cargo test -p iollm-worker job`);
//! it fixes the shape, [`JobDocument::parse`] also the values (ranges the schema does not
//! state, such as a checkpoint interval that divides the steps).
//! `iollm job post --spec FILE` validates a spec ([`JobDocument::parse`]), fetches its dataset
//! with every byte checked against its CID ([`JobDocument::train_config`]) to commit the game
//! spec, adds the spec to IPFS and posts it; the executor reads it back the same way.

use iollm_compute::data::DataConfig;
use iollm_compute::optim::AdamW;
use iollm_compute::train::TrainSection;
use iollm_compute::{GptConfig, TrainConfig};
use iollm_content::{parse_cid, ContentStore};
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
/// corpus in memory).
pub const MAX_DATASET_BYTES: u64 = 4 << 30;

/// A job spec, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "iollm job spec, version 1")]
pub struct JobDocument {
    /// Always `1` for this schema.
    pub job_version: u32,
    /// What the job is.
    pub kind: JobKind,
    /// The numerics profile the run is bit-reproducible under (`repops-v3`).
    pub profile: String,
    /// Artifact id (on chain) of the model to start from; `null`: initialised from the seed.
    pub base_model: Option<u64>,
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
    /// A file on IPFS, used as raw bytes; every byte is checked against the CID when fetched.
    Ipfs {
        /// The file's CID (CIDv0 `Qm…` or CIDv1 base32 `b…`).
        cid: String,
    },
}

/// Why a job spec is refused: one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum JobSpecError {
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
    /// The dataset could not be fetched or did not match its CID.
    #[error("dataset {cid}: {reason}")]
    Dataset {
        /// The dataset's CID.
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
        if let Some(id) = self.base_model {
            return invalid(format!(
                "base_model {id}: training from a base model is not supported yet (the trainer \
                 initialises from the seed): set it to null"
            ));
        }
        if let Dataset::Ipfs { cid } = &self.dataset {
            parse_cid(cid).map_err(|e| JobSpecError::Invalid(format!("dataset.cid: {e}")))?;
        }
        // A fetched dataset is a file; its bytes are whatever its CID names.
        let data = match self.dataset {
            Dataset::Arithmetic { lines } => DataConfig::Arithmetic { lines },
            Dataset::Ipfs { .. } => DataConfig::File { path: "dataset".into() },
        };
        self.config_with(data).validate().map_err(|e| JobSpecError::Invalid(e.to_string()))
    }

    fn config_with(&self, data: DataConfig) -> TrainConfig {
        TrainConfig {
            model: self.model.clone(),
            train: self.train.clone(),
            optimizer: self.optimizer.clone(),
            data,
        }
    }

    /// The training config this spec runs, its dataset made local: generated, or fetched
    /// from `store` into `dir/dataset` with every byte checked against its CID; a dataset
    /// that is not one file of at most `max_bytes` is refused before anything is written.
    pub async fn train_config<S: ContentStore>(
        &self,
        store: &S,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<TrainConfig, JobSpecError> {
        let data = match &self.dataset {
            Dataset::Arithmetic { lines } => DataConfig::Arithmetic { lines: *lines },
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
        Ok(self.config_with(data))
    }

    /// The spec's canonical bytes (pretty JSON, newline-terminated): what is added to IPFS.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a job spec serialises");
        out.push(b'\n');
        out
    }
}

/// The JSON Schema generated from [`JobDocument`] (what [`SCHEMA_V1`] must equal).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(JobDocument);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    s.push('\n');
    s
}
