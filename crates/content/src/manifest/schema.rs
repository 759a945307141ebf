//! The manifest's types: what `smip.json` holds (serde + JSON Schema), and its errors.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::options::AddOptions;

/// An SMIP manifest (`smip.json`), version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "SMIP model package manifest, version 1")]
pub struct Manifest {
    /// Always `1` for this schema.
    pub smip_version: u32,
    /// Package name, e.g. `tiny-gpt-2m` (1–128 characters: letters, digits, `.`, `_`, `-`, `/`).
    pub name: String,
    /// Package version chosen by its publisher, e.g. `1.0.0`.
    pub version: String,
    /// One-paragraph description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// SPDX license identifier or expression, e.g. `Apache-2.0`.
    pub license: String,
    /// Weight format and model architecture.
    pub format: Format,
    /// How the file CIDs (and the package CID) were computed: `ipfs add` options.
    pub cid_options: CidOptions,
    /// Every file of the package except `smip.json`, sorted by path.
    pub files: Vec<FileEntry>,
    /// Models this one was derived from.
    #[serde(default)]
    pub parents: Vec<Parent>,
    /// How it was produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// What it needs to run (the "universal environment").
    pub runtime: Runtime,
    /// Interfaces it serves.
    pub interfaces: Vec<Interface>,
    /// Evaluation results.
    #[serde(default)]
    pub evaluations: Vec<Evaluation>,
}

/// Weight format and architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// Weight file format.
    pub weights: WeightFormat,
    /// Architecture as in `config.json`'s `model_type` (`gpt2`, `llama`, `iollm-gpt`, …).
    pub architecture: String,
    /// Parameter count, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
}

/// Weight file formats and the file extension each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// `*.safetensors` (Hugging Face).
    Safetensors,
    /// `*.gguf` (llama.cpp, Ollama).
    Gguf,
    /// `*.onnx`.
    Onnx,
    /// `*.bin` / `*.pt` (PyTorch pickles).
    Pytorch,
}

impl WeightFormat {
    pub(super) fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Safetensors => &["safetensors"],
            Self::Gguf => &["gguf"],
            Self::Onnx => &["onnx"],
            Self::Pytorch => &["bin", "pt", "pth"],
        }
    }
}

/// The `ipfs add` options a package was built with (needed to re-check file CIDs after a pull).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CidOptions {
    /// `--cid-version`: 0 or 1.
    pub cid_version: u8,
    /// `--raw-leaves`.
    pub raw_leaves: bool,
    /// `--chunker`, e.g. `size-262144`.
    pub chunker: String,
}

impl CidOptions {
    /// From [`AddOptions`].
    pub fn from_add_options(o: &AddOptions) -> Self {
        Self {
            cid_version: match o.cid_version {
                crate::options::CidVersion::V0 => 0,
                crate::options::CidVersion::V1 => 1,
            },
            raw_leaves: o.raw_leaves,
            chunker: o.chunker(),
        }
    }

    /// To [`AddOptions`] (fails on values Kubo would refuse).
    pub fn to_add_options(&self) -> Result<AddOptions> {
        AddOptions::from_flags(Some(self.cid_version), Some(self.raw_leaves), Some(&self.chunker))
    }
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the package, `/`-separated, relative, UTF-8.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The file's CID as `ipfs add` computes it with the package's add options.
    pub cid: String,
    /// SHA-256 of the file's bytes, 64 lower-case hex digits.
    pub sha256: String,
}

/// A parent model and how this one relates to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parent {
    /// Registry id of the parent, if registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Package CID of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// How this model was derived.
    pub relation: Relation,
}

/// Lineage relations (the registry's, which route revenue upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// Fine-tuned from the parent.
    Finetune,
    /// An adapter (LoRA, …) on the parent.
    Adapter,
    /// A merge including the parent.
    Merge,
    /// A quantisation of the parent.
    Quantize,
    /// Distilled from the parent.
    Distill,
}

/// How the package was produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Market job id that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<u64>,
    /// Merkle root of the training-state trace, 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_root: Option<String>,
    /// Free-form: tool or person that built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// CID of the run behind it as its executor published it for verifiers: a directory of
    /// `trace.json` and `checkpoints/ckpt-NNNNNN.bin`, from which a spot check replays one
    /// segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// What the model needs to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// Runtime name: `iollm`, `llama.cpp`, `vllm`, `transformers`, `ollama`, …
    pub name: String,
    /// Version requirement, e.g. `>=0.1`.
    pub version: String,
    /// Memory needed to serve it, bytes.
    pub memory_bytes: u64,
    /// Accelerator.
    pub accelerator: Accelerator,
}

/// Accelerators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    /// CPU only.
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// Apple Metal.
    Metal,
    /// Any of them.
    Any,
}

/// Interfaces a model can serve.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// Text completion.
    Completion,
    /// Chat.
    Chat,
    /// Classification.
    Classification,
    /// Embeddings.
    Embedding,
}

/// One evaluation result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// Benchmark name.
    pub benchmark: String,
    /// Metric name (`accuracy`, `perplexity`, …).
    pub metric: String,
    /// The value (finite).
    pub value: f64,
    /// CID of the evaluation set, if on IPFS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_cid: Option<String>,
}

/// All problems found while validating a manifest, each with its field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors(pub Vec<ManifestError>);

/// One validation problem: where (a path like `files[2].sha256`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// Field path (`$` for the whole document).
    pub path: String,
    /// Reason.
    pub reason: String,
}

impl std::fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.path, e.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}
