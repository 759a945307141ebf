//! What a verifier checks of a job's output package before it attests: that the package the
//! result names is the run the trace proves. The dispute game proves the trace `h_0..h_n`; the
//! chain cannot read IPFS, so nothing on chain ties the submitted output CID to `h_n`. An
//! attestation does: a verifier attests only an output whose `smip.json` states the job's
//! lineage (a fine-tune of the job's artifact, the job's id, the committed trace root) and
//! whose `config.json` and `model.safetensors` are the job's model with exactly the weights of
//! the committed last state, bit for bit. Otherwise it reveals without a check: its bond back,
//! no fee, and a job short of attestations ends unverified, so the output cannot be
//! registered as its verified result (`register_from_job`).
//!
//! What it is not: a check of the trace (that is the spot check's replay) or of anything the
//! package holds beyond the model (extra files are the executor's business).

use iollm_artifacts::Lineage;
use iollm_compute::{TrainState, Trainer};
use iollm_content::ContentStore;
use iollm_types::market::JobId;
use iollm_types::registry::{ArtifactId, Parent, Relation};

/// What job `job`'s output must be: a fine-tune of `artifact`, proven by the trace with root
/// `trace_root`, holding the weights of `last` (the committed `h_n`, replayed or checked
/// against it) under `trainer`'s model config.
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    /// The job.
    pub job: JobId,
    /// The job's artifact (the output's one parent).
    pub artifact: ArtifactId,
    /// The committed trace root.
    pub trace_root: [u8; 32],
    /// The job's trainer (its model config).
    pub trainer: &'a Trainer,
    /// The committed last state.
    pub last: &'a TrainState,
}

/// Why an output package is not the job's proven run: one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The result's output CID does not parse.
    #[error("the output CID {cid:?} is not a CID: {reason}")]
    BadCid {
        /// The CID as submitted.
        cid: String,
        /// Why.
        reason: String,
    },
    /// The package could not be fetched, or its bytes do not match its CIDs.
    #[error("the output package cannot be fetched whole: {0}")]
    Fetch(#[source] iollm_content::Error),
    /// Its `smip.json` states another lineage than the job's output has.
    #[error("the output states {stated}, not a fine-tune of the job's artifact ({expected})")]
    Lineage {
        /// The lineage it states (or why it states none).
        stated: String,
        /// The job's.
        expected: String,
    },
    /// Its `smip.json` names another trace root than the committed one.
    #[error("the output names trace root {stated}, not the committed {committed}")]
    TraceRoot {
        /// The root it names (`none` when it names none).
        stated: String,
        /// The committed root.
        committed: String,
    },
    /// Its model files cannot be read as a model.
    #[error("the output's model cannot be read: {0}")]
    Model(#[source] iollm_compute::Error),
    /// Its `config.json` is not the job's model.
    #[error("the output's config.json is not the job's model")]
    Config,
    /// Its weights are not the committed last state's.
    #[error(
        "the output's weights are not the committed last state's: {differing} of {total} \
         parameters differ, the first at index {first}"
    )]
    Weights {
        /// How many parameters differ.
        differing: usize,
        /// How many the model has.
        total: usize,
        /// The first that differs.
        first: usize,
    },
}

impl OutputError {
    /// Whether the failure is this machine's (its IPFS daemon unreachable, a local file),
    /// not the package's: retry rather than refuse the output.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            OutputError::Fetch(
                iollm_content::Error::Unreachable { .. } | iollm_content::Error::Io { .. }
            )
        )
    }
}

/// Checks the output package `output_cid` names against what job `expected.job`'s output
/// must be ([`Expected`]): the lineage first (from `smip.json` alone), then the model, pulled
/// into a temporary directory with every byte checked against its CID.
pub async fn check_output<S: ContentStore>(
    store: &S,
    output_cid: &[u8],
    expected: &Expected<'_>,
) -> Result<(), OutputError> {
    let text = String::from_utf8_lossy(output_cid).into_owned();
    let cid = iollm_content::parse_cid(&text)
        .map_err(|e| OutputError::BadCid { cid: text.clone(), reason: e.to_string() })?;
    let manifest =
        iollm_content::read_package_manifest(store, &cid).await.map_err(OutputError::Fetch)?;
    let wanted = Lineage {
        parents: vec![Parent { id: expected.artifact, relation: Relation::Finetune }],
        job: Some(expected.job),
    };
    match iollm_artifacts::lineage(&manifest) {
        Ok(stated) if stated == wanted => {}
        Ok(stated) => {
            return Err(OutputError::Lineage {
                stated: stated.to_string(),
                expected: wanted.to_string(),
            })
        }
        Err(e) => {
            return Err(OutputError::Lineage {
                stated: e.to_string(),
                expected: wanted.to_string(),
            })
        }
    }
    let committed = iollm_compute::train::hex(&expected.trace_root);
    let stated = manifest.provenance.as_ref().and_then(|p| p.trace_root.clone());
    if stated.as_deref() != Some(committed.as_str()) {
        let stated = stated.unwrap_or_else(|| "none".into());
        return Err(OutputError::TraceRoot { stated, committed });
    }
    let scratch = tempfile::tempdir()
        .map_err(|e| OutputError::Fetch(iollm_content::Error::io(std::env::temp_dir(), e)))?;
    let dest = scratch.path().join("output");
    let config = expected.trainer.config();
    let limit = iollm_content::PullOptions {
        max_bytes: iollm_compute::estimate_memory(config).saturating_add(1 << 20),
    };
    iollm_content::pull_package_with(store, &cid, &dest, &limit)
        .await
        .map_err(OutputError::Fetch)?;
    let (model, params) = iollm_compute::io::load_model(&dest).map_err(OutputError::Model)?;
    if model != config.model {
        return Err(OutputError::Config);
    }
    let last = &expected.last.params;
    let total = last.len();
    if params.len() != total {
        return Err(OutputError::Config);
    }
    let differ: Vec<usize> =
        (0..total).filter(|&i| params[i].to_bits() != last[i].to_bits()).collect();
    match differ.first() {
        None => Ok(()),
        Some(&first) => Err(OutputError::Weights { differing: differ.len(), total, first }),
    }
}
