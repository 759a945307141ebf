//! SMIP manifests (`smip.json`): what a model package is, in a versioned, validated, canonical
//! JSON document.
//!
//! A model package is a UnixFS directory laid out like a Hugging Face repository
//! (`config.json`, `model.safetensors`, tokenizer files, …) plus `smip.json`. The manifest names
//! the format and architecture, every file with size, CID and sha256, parents and their
//! relation, license, provenance (job id, trace root), the runtime it needs, its interfaces and
//! evaluation results.
//!
//! - **Schema**: [`Manifest`] (serde) is the definition; `schema/smip-v1.schema.json` is the
//!   published JSON Schema generated from it (a test keeps the two equal).
//! - **Versioning**: `smip_version` is `1`. A manifest with another version is refused with
//!   [`ManifestError`] naming the version, before any other check.
//! - **Validation** ([`parse`], [`Manifest::validate`]): strict — unknown fields, wrong types,
//!   bad CIDs/hashes/paths, duplicates — and every problem is reported with its field path
//!   (`files[2].sha256: …`).
//! - **Canonical encoding** ([`Manifest::to_canonical_json`]): object keys sorted, two-space
//!   indentation, files sorted by path, one trailing newline; so the same package always gives
//!   the same `smip.json` bytes and hence the same CIDs.
//! - **Packages** ([`build_package_manifest`], [`prepare_package`], [`verify_package`]): fill
//!   `files` from a directory, write the manifest, compute the package CID; after a pull, check
//!   every file against the manifest.
//!
//! What goes on chain: the *package* CID (the directory, `smip.json` included); the manifest's
//! own CID is returned too.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dag::{add_path_with, FileBuilder, NullSink};
use crate::error::{Error, Result};
use crate::options::{parse_cid, AddOptions};

/// The SMIP version this crate reads and writes.
pub const SMIP_VERSION: u32 = 1;
/// The manifest's file name inside a package.
pub const MANIFEST_FILE: &str = "smip.json";
/// Largest accepted manifest (bytes).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// The published JSON Schema of version 1.
pub const SCHEMA_V1: &str = include_str!("../schema/smip-v1.schema.json");

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
    fn extensions(self) -> &'static [&'static str] {
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

fn one(path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidManifest(ManifestErrors(vec![ManifestError {
        path: path.into(),
        reason: reason.into(),
    }]))
}

/// Parses and validates `smip.json` bytes.
pub fn parse(bytes: &[u8]) -> Result<Manifest> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(one(
            "$",
            format!(
                "manifest is {} bytes, more than the {MAX_MANIFEST_BYTES} allowed",
                bytes.len()
            ),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| one("$", format!("not JSON: {e}")))?;
    match value.get("smip_version") {
        None => return Err(one("smip_version", "missing (this iollm reads SMIP version 1)")),
        Some(v) if v.as_u64() != Some(u64::from(SMIP_VERSION)) => {
            return Err(one(
                "smip_version",
                format!("unsupported SMIP version {v} (this iollm reads version {SMIP_VERSION})"),
            ))
        }
        Some(_) => {}
    }
    let m: Manifest = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        one(&path, e.into_inner().to_string())
    })?;
    m.validate()?;
    Ok(m)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Why a package-relative path is unacceptable, if it is.
fn bad_path(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("empty path");
    }
    if p.starts_with('/') {
        return Some("absolute path; paths are relative to the package");
    }
    if p.contains('\\') || p.contains('\0') {
        return Some("paths use '/' and contain no backslash or NUL");
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Some("empty, '.' or '..' path segment");
    }
    if p.split('/').any(|s| s.starts_with('.')) {
        return Some("hidden files are not part of packages (ipfs add -r skips them)");
    }
    if p == MANIFEST_FILE {
        return Some("smip.json does not list itself");
    }
    None
}

impl Manifest {
    /// Checks everything serde cannot: versions, names, paths, hashes, CIDs, duplicates.
    /// Reports every problem found, each with its field path.
    pub fn validate(&self) -> Result<()> {
        let mut errs = Vec::new();
        let mut err = |path: String, reason: String| errs.push(ManifestError { path, reason });
        if self.smip_version != SMIP_VERSION {
            err("smip_version".into(), format!("unsupported SMIP version {}", self.smip_version));
        }
        if self.name.is_empty()
            || self.name.len() > 128
            || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        {
            err("name".into(), "1-128 characters of letters, digits, '.', '_', '-', '/'".into());
        }
        for (field, v) in [
            ("version", &self.version),
            ("license", &self.license),
            ("format.architecture", &self.format.architecture),
            ("runtime.name", &self.runtime.name),
            ("runtime.version", &self.runtime.version),
        ] {
            if v.trim().is_empty() {
                err(field.into(), "must not be empty".into());
            }
        }
        if let Err(e) = self.cid_options.to_add_options() {
            err("cid_options".into(), e.to_string());
        }
        if self.files.is_empty() {
            err("files".into(), "a package has at least one file".into());
        }
        let mut seen = BTreeSet::new();
        for (i, f) in self.files.iter().enumerate() {
            if let Some(r) = bad_path(&f.path) {
                err(format!("files[{i}].path"), format!("{:?}: {r}", f.path));
            }
            if !seen.insert(f.path.as_str()) {
                err(format!("files[{i}].path"), format!("duplicate path {:?}", f.path));
            }
            if let Err(e) = parse_cid(&f.cid) {
                err(format!("files[{i}].cid"), e.to_string());
            }
            if !is_hex64(&f.sha256) {
                err(format!("files[{i}].sha256"), "expected 64 lower-case hex digits".into());
            }
        }
        // A file that is also a directory prefix of another ("a" and "a/b").
        for f in &self.files {
            let dir = format!("{}/", f.path);
            if seen.iter().any(|n| n.starts_with(dir.as_str())) {
                err("files".into(), format!("{:?} is both a file and a directory", f.path));
            }
        }
        let exts = self.format.weights.extensions();
        if !self
            .files
            .iter()
            .any(|f| f.path.rsplit_once('.').is_some_and(|(_, e)| exts.contains(&e)))
        {
            err(
                "format.weights".into(),
                format!("no weight file (*.{}) among files", exts.join(", *.")),
            );
        }
        for (i, p) in self.parents.iter().enumerate() {
            if p.id.is_none() && p.cid.is_none() {
                err(format!("parents[{i}]"), "needs an id or a cid".into());
            }
            if let Some(c) = &p.cid {
                if let Err(e) = parse_cid(c) {
                    err(format!("parents[{i}].cid"), e.to_string());
                }
            }
        }
        if let Some(t) = self.provenance.as_ref().and_then(|p| p.trace_root.as_ref()) {
            if !is_hex64(t) {
                err("provenance.trace_root".into(), "expected 64 lower-case hex digits".into());
            }
        }
        if self.runtime.memory_bytes == 0 {
            err("runtime.memory_bytes".into(), "must be more than 0".into());
        }
        if self.interfaces.is_empty() {
            err("interfaces".into(), "list at least one interface".into());
        }
        let mut ifs = BTreeSet::new();
        for (i, x) in self.interfaces.iter().enumerate() {
            if !ifs.insert(x) {
                err(format!("interfaces[{i}]"), format!("duplicate interface {x:?}"));
            }
        }
        for (i, e) in self.evaluations.iter().enumerate() {
            if !e.value.is_finite() {
                err(format!("evaluations[{i}].value"), "must be a finite number".into());
            }
            if e.benchmark.trim().is_empty() || e.metric.trim().is_empty() {
                err(format!("evaluations[{i}]"), "benchmark and metric must not be empty".into());
            }
            if let Some(c) = &e.dataset_cid {
                if let Err(er) = parse_cid(c) {
                    err(format!("evaluations[{i}].dataset_cid"), er.to_string());
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidManifest(ManifestErrors(errs)))
        }
    }

    /// The canonical `smip.json` bytes: keys sorted, files sorted by path, interfaces sorted,
    /// two-space indentation, trailing newline.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        let mut m = self.clone();
        m.files.sort_by(|a, b| a.path.cmp(&b.path));
        m.interfaces.sort();
        // serde_json's Map is a BTreeMap (no `preserve_order`): going through Value sorts keys.
        let v = serde_json::to_value(&m)?;
        let mut out = serde_json::to_vec_pretty(&v)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// The JSON Schema generated from [`Manifest`] (what `schema/smip-v1.schema.json` must equal).
pub fn json_schema() -> Result<String> {
    let schema = schemars::schema_for!(Manifest);
    let v = serde_json::to_value(&schema)?;
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s)
}

/// Reads one file once, computing its size, sha256 and CID together.
fn describe_file(path: &Path, rel: &str, opts: &AddOptions) -> Result<FileEntry> {
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut b = FileBuilder::new(*opts, NullSink)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; opts.chunk_size];
    let mut size = 0u64;
    loop {
        let mut n = 0;
        while n < buf.len() {
            let k = f.read(&mut buf[n..]).map_err(|e| Error::io(path, e))?;
            if k == 0 {
                break;
            }
            n += k;
        }
        if n > 0 {
            h.update(&buf[..n]);
            b.push_chunk(&buf[..n])?;
            size += n as u64;
        }
        if n < buf.len() {
            break;
        }
    }
    let cid = b.finish()?.cid;
    Ok(FileEntry {
        path: rel.to_owned(),
        size,
        cid: cid.to_string(),
        sha256: hex_lower(&h.finalize()),
    })
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Lists the package's files (`/`-separated relative paths) as `ipfs add -r` would add them,
/// refusing symlinks that leave the package, non-UTF-8 names and special files.
fn package_files(dir: &Path, opts: &AddOptions) -> Result<Vec<(String, PathBuf)>> {
    // Canonical, so `.` or `pkg/` name the package by its real directory name.
    let dir = &fs::canonicalize(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile(dir.to_owned())
        } else {
            Error::io(dir, e)
        }
    })?;
    let mut files = Vec::new();
    let mut symlinks = Vec::new();
    let base = dir.parent().unwrap_or(Path::new(""));
    let root_name = dir.file_name().map(PathBuf::from).unwrap_or_default();
    // Walks like `ipfs add -r` (same skips and checks), without storing anything.
    add_path_with(dir, opts, &mut NullSink, &mut |rel, _| {
        if let Ok(inner) = rel.strip_prefix(&root_name) {
            let abs = base.join(rel);
            if fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink()) {
                symlinks.push(abs);
            } else if abs.is_file() && !inner.as_os_str().is_empty() {
                let s = inner.to_string_lossy().replace('\\', "/");
                files.push((s, abs));
            }
        }
    })?;
    if let Some(link) = symlinks.into_iter().next() {
        return Err(Error::SymlinkInPackage(link));
    }
    files.retain(|(p, _)| p != MANIFEST_FILE);
    files.sort();
    Ok(files)
}

/// Fills `files` of the manifest template `dir/smip.json` from the directory and validates the
/// result. The template holds the descriptive fields; any `files` it lists are replaced.
pub fn build_package_manifest(dir: &Path, opts: &AddOptions) -> Result<Manifest> {
    let mpath = dir.join(MANIFEST_FILE);
    let bytes = match fs::read(&mpath) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingFile(mpath));
        }
        Err(e) => return Err(Error::io(mpath, e)),
    };
    // Parse the template leniently on `files` (it may be empty or stale), strictly elsewhere.
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| one("$", format!("not JSON: {e}")))?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("files".into(), serde_json::Value::Array(Vec::new()));
        obj.insert("cid_options".into(), serde_json::to_value(CidOptions::from_add_options(opts))?);
    }
    let template = serde_json::to_vec(&value)?;
    let mut m = match parse(&template) {
        Ok(m) => m,
        Err(Error::InvalidManifest(ManifestErrors(errs))) => {
            // Only file-related complaints are expected from an empty `files` list.
            let rest: Vec<_> = errs
                .into_iter()
                .filter(|e| e.path != "files" && e.path != "format.weights")
                .collect();
            if !rest.is_empty() {
                return Err(Error::InvalidManifest(ManifestErrors(rest)));
            }
            let mut m: Manifest = serde_json::from_value(value)?;
            m.files.clear();
            m
        }
        Err(e) => return Err(e),
    };
    for (rel, abs) in package_files(dir, opts)? {
        m.files.push(describe_file(&abs, &rel, opts)?);
    }
    m.validate()?;
    Ok(m)
}

/// A package ready to publish.
#[derive(Debug, Clone)]
pub struct Package {
    /// The manifest as written.
    pub manifest: Manifest,
    /// CID of `smip.json`.
    pub manifest_cid: cid::Cid,
    /// CID of the package directory (what goes on chain).
    pub package_cid: cid::Cid,
}

/// `build_package_manifest`, then writes the canonical `smip.json` (atomically) and computes
/// the manifest and package CIDs. Idempotent: running it twice gives the same CIDs.
pub fn prepare_package(dir: &Path, opts: &AddOptions) -> Result<Package> {
    let manifest = build_package_manifest(dir, opts)?;
    let bytes = manifest.to_canonical_json()?;
    let mpath = dir.join(MANIFEST_FILE);
    crate::fsutil::write_atomic(&mpath, &bytes)?;
    let manifest_cid = crate::dag::cid_of_bytes(&bytes, opts)?;
    let package_cid = crate::dag::cid_of_file(dir, opts)?;
    Ok(Package { manifest, manifest_cid, package_cid })
}

/// After a pull: reads and validates `dir/smip.json` and checks every listed file's size,
/// sha256 and CID (with the manifest's `cid_options`), and that the directory holds no file the
/// manifest does not list.
pub fn verify_package(dir: &Path) -> Result<Manifest> {
    let mpath = dir.join(MANIFEST_FILE);
    let bytes = fs::read(&mpath).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile(mpath.clone())
        } else {
            Error::io(&mpath, e)
        }
    })?;
    let m = parse(&bytes)?;
    let opts = &m.cid_options.to_add_options()?;
    let on_disk = package_files(dir, opts)?;
    let listed: BTreeSet<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    let mut errs = Vec::new();
    for (rel, _) in &on_disk {
        if !listed.contains(rel.as_str()) {
            errs.push(ManifestError {
                path: "files".into(),
                reason: format!("{rel:?} is in the package but not listed"),
            });
        }
    }
    for (i, f) in m.files.iter().enumerate() {
        let abs = dir.join(&f.path);
        if !abs.is_file() {
            errs.push(ManifestError {
                path: format!("files[{i}].path"),
                reason: format!("missing file {:?}", f.path),
            });
            continue;
        }
        let got = describe_file(&abs, &f.path, opts)?;
        if got.size != f.size {
            errs.push(ManifestError {
                path: format!("files[{i}].size"),
                reason: format!("{} on disk, {} in manifest", got.size, f.size),
            });
        }
        if got.sha256 != f.sha256 {
            errs.push(ManifestError {
                path: format!("files[{i}].sha256"),
                reason: format!("{} on disk", got.sha256),
            });
        }
        if parse_cid(&got.cid).ok() != parse_cid(&f.cid).ok() {
            errs.push(ManifestError {
                path: format!("files[{i}].cid"),
                reason: format!("{} on disk", got.cid),
            });
        }
    }
    if errs.is_empty() {
        Ok(m)
    } else {
        Err(Error::InvalidManifest(ManifestErrors(errs)))
    }
}

/// `iollm model publish`: builds and writes the manifest ([`prepare_package`]), adds the
/// directory to `store` and checks the node's CID equals ours. Register `package_cid` on chain.
pub async fn publish_package<S: crate::client::ContentStore>(
    store: &S,
    dir: &Path,
    opts: &AddOptions,
) -> Result<Package> {
    let (d, o) = (dir.to_owned(), *opts);
    let pkg = tokio::task::spawn_blocking(move || prepare_package(&d, &o))
        .await
        .map_err(|e| Error::Api(e.to_string()))??;
    // `put_dir` fails with CidMismatch if the node's root differs from the local one.
    let added = store.put_dir(dir, opts).await?;
    if added.cid != pkg.package_cid {
        return Err(Error::CidMismatch {
            expected: Box::new(pkg.package_cid),
            actual: Box::new(added.cid),
        });
    }
    tracing::info!(target: "iollm_content::manifest", package = %pkg.package_cid, manifest = %pkg.manifest_cid, name = %pkg.manifest.name, "Published package");
    Ok(pkg)
}

/// `iollm model pull` with the default limit: [`crate::pull::pull_package_with`].
pub async fn pull_package<S: crate::client::ContentStore>(
    store: &S,
    package_cid: &cid::Cid,
    dest: &Path,
) -> Result<Manifest> {
    crate::pull::pull_package_with(store, package_cid, dest, &crate::pull::PullOptions::default())
        .await
}
