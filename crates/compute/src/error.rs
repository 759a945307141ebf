//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong in `iollm-compute`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// A configuration file could not be parsed.
    #[error("cannot parse config {path}: {message}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Reading or writing a file failed. The OS error is the source (printed once by a report
    /// that prints the chain).
    #[error("{action} {path}")]
    Io {
        /// What we were doing ("read", "write", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is shorter or longer than its header says, or its header is wrong.
    #[error("corrupt checkpoint: {0}")]
    CorruptCheckpoint(String),
    /// A checkpoint's trailing SHA-256 does not match its contents.
    #[error("checkpoint checksum mismatch: expected {expected}, computed {actual}")]
    ChecksumMismatch {
        /// Stored checksum (hex).
        expected: String,
        /// Computed checksum (hex).
        actual: String,
    },
    /// A checkpoint was written for a different training config.
    #[error("checkpoint belongs to another config (config hash {found}, expected {expected})")]
    ConfigMismatch {
        /// Config hash expected (hex).
        expected: String,
        /// Config hash in the checkpoint (hex).
        found: String,
    },
    /// A checkpoint was written under another numerics profile.
    #[error("checkpoint uses numerics profile {found:?}, this build implements {expected:?}")]
    ProfileMismatch {
        /// Profile implemented here.
        expected: String,
        /// Profile in the file.
        found: String,
    },
    /// A tensor is missing from a weights file.
    #[error("tensor {0:?} missing from weights file")]
    MissingTensor(String),
    /// A tensor in a weights file has the wrong shape or dtype.
    #[error("tensor {name:?} has shape {actual:?} ({dtype}), expected {expected:?} (F32)")]
    ShapeMismatch {
        /// Tensor name.
        name: String,
        /// Shape the model config implies.
        expected: Vec<usize>,
        /// Shape in the file.
        actual: Vec<usize>,
        /// Dtype in the file.
        dtype: String,
    },
    /// A weights file holds a tensor the model does not know.
    #[error("unexpected tensor {0:?} in weights file")]
    UnexpectedTensor(String),
    /// A GGUF file is malformed or truncated.
    #[error("invalid GGUF file: {0}")]
    Gguf(String),
    /// A model this runtime does not run (architecture, quantization).
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The safetensors container itself is malformed.
    #[error("invalid safetensors file: {0}")]
    Safetensors(String),
    /// A `config.json` is malformed or describes an unsupported model.
    #[error("invalid model config.json: {0}")]
    ModelConfig(String),
    /// A checkpoint index is outside the trace.
    #[error("checkpoint {index} does not exist (the trace has checkpoints 0..={last})")]
    NoSuchCheckpoint {
        /// Requested index.
        index: usize,
        /// Last index.
        last: usize,
    },
    /// A segment's `h_i` or `h_{i+1}` is not in the committed trace (its proof does not lead
    /// to the committed root at that position).
    #[error("segment {index} is not part of the committed trace (root {root})")]
    NotInTrace {
        /// The segment index.
        index: usize,
        /// The committed root (hex).
        root: String,
    },
    /// The checkpoint handed to a replay is not the committed `h_i`.
    #[error("checkpoint {index} is not the one the trace commits to: its hash is {actual}, the trace says {expected}")]
    StartNotInTrace {
        /// The segment index.
        index: usize,
        /// `h_i` of the committed trace (hex).
        expected: String,
        /// The checkpoint's own hash (hex).
        actual: String,
    },
    /// `--out` holds something already (a run is never mixed into another's directory).
    #[error("{path} is not empty; choose a new --out, or continue the run in it with --resume")]
    OutputNotEmpty {
        /// The output directory.
        path: PathBuf,
    },
    /// The progress callback stopped the run; its checkpoints so far stay.
    #[error("the run was stopped after step {step}; continue it with --resume")]
    Stopped {
        /// The last step done.
        step: u64,
    },
    /// `--resume` found no usable checkpoint 0 for this config.
    #[error("{path} holds no checkpoint of this config to resume from; train into an empty --out")]
    NothingToResume {
        /// The output directory.
        path: PathBuf,
    },
    /// An output directory without the completion marker (the run did not finish).
    #[error("{path} holds no finished run (no COMPLETE marker); resume it with --resume")]
    IncompleteRun {
        /// The output directory.
        path: PathBuf,
    },
    /// A checkpoint file that does not decode or check (names the file).
    #[error("checkpoint {path}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// The config would need more memory than the machine has available.
    #[error("this config needs about {} MiB of memory, {} MiB are available; reduce batch_size, n_ctx or the model", needed >> 20, available >> 20)]
    InsufficientMemory {
        /// Estimated peak bytes.
        needed: u64,
        /// Bytes available (MemAvailable, or the cgroup limit).
        available: u64,
    },
    /// A token sequence is empty or longer than the model's context.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The CUDA backend is not available or failed.
    #[error("CUDA backend: {0}")]
    Cuda(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io { action, path: path.into(), source }
    }
}
