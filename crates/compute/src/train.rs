//! The trainer and its verifiable checkpoint trace.
//!
//! Checkpoint `i` is the full training state after `i·checkpoint_every` steps: weights, AdamW
//! moments, the bias-correction powers, the step and the RNG state. Its state root `h_i` is the
//! Merkle root ([`crate::merkle`]) over the SHA-256 of its canonical header and the root of its
//! tensors, a Merkle root over their 4 KiB chunks (`iollm_repops::commit`, [`TrainState::hash`]),
//! so a single element can be proven against `h_i` ([`TrainState::prove_element`],
//! [`TrainState::prove_header`]); the trace root is the Merkle root over
//! `h_0..h_n`. The checkpoint file is the encoding ([`TrainState::encode`]) followed by `h_i`
//! itself, so corruption and truncation are detected on load.
//!
//! Layout of an output directory:
//! `checkpoints/ckpt-NNNNNN.bin`, `trace.json`, `model.safetensors`, `config.json`.

use crate::data::{self, DataConfig, Rng};
use crate::error::{Error, Result};
use crate::io::{atomic_write, read, save_model};
use crate::kernels::Simd;
use crate::merkle::{self, Hash, Sha};
use crate::model::{self, GptConfig, Layout, VOCAB};
use crate::ops::{self, Exec};
use crate::optim::AdamW;
use crate::repops::PROFILE;
use iollm_repops::commit::{self, spotcheck_leaf, Committed, Header, HeaderProof, StateProof};
use iollm_repops::step::{self, Program, StepConfig, HEADER_WORDS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tracing::{info, warn};

/// Training-loop settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Seed of weight init and data sampling.
    pub seed: u64,
    /// Optimizer steps.
    pub steps: u64,
    /// Sequences per step.
    pub batch_size: usize,
    /// Steps between checkpoints; must divide `steps`.
    pub checkpoint_every: u64,
}

/// A whole training job, as read from TOML (`[model]`, `[train]`, `[optimizer]`, `[data]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Model shape.
    pub model: GptConfig,
    /// Loop settings.
    pub train: TrainSection,
    /// AdamW.
    pub optimizer: AdamW,
    /// Training bytes.
    pub data: DataConfig,
    /// The model to start from: a safetensors file of this shape, in the canonical layout
    /// (`crate::io::weights_to_safetensors`, what every run writes), whose weights become the
    /// initial parameters, the AdamW moments `+0` (path relative to the config file); none:
    /// the parameters are drawn from the seed. Its bytes are bound into the config hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PathBuf>,
}

/// Largest accepted batch (`batch_size · n_ctx` tokens per step).
pub const MAX_TOKENS_PER_STEP: usize = 1 << 20;

impl TrainConfig {
    /// Parses TOML text; file paths in `[data]` are taken relative to `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<TrainConfig> {
        let mut cfg: TrainConfig = toml::from_str(text).map_err(|e| Error::ConfigParse {
            path: PathBuf::from("<string>"),
            message: e.to_string(),
        })?;
        if let DataConfig::File { path } = &mut cfg.data {
            if path.is_relative() {
                *path = base_dir.join(&*path);
            }
        }
        if let Some(path) = cfg.base.as_mut().filter(|p| p.is_relative()) {
            *path = base_dir.join(&*path);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a TOML config file.
    pub fn from_file(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, base).map_err(|e| match e {
            Error::ConfigParse { message, .. } => {
                Error::ConfigParse { path: path.to_owned(), message }
            }
            other => other,
        })
    }

    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let bad = |m: &str| Err(Error::InvalidConfig(m.to_string()));
        let t = &self.train;
        // The game spec counts checkpoints and steps per checkpoint in 32 bits.
        if t.steps == 0 || t.steps > u64::from(u32::MAX) {
            return bad("train.steps must be in 1..=4294967295");
        }
        if t.batch_size == 0 {
            return bad("train.batch_size must be at least 1");
        }
        if t.batch_size.saturating_mul(self.model.n_ctx) > MAX_TOKENS_PER_STEP {
            return bad("train.batch_size · model.n_ctx is larger than 2^20 tokens per step");
        }
        if t.checkpoint_every == 0 || !t.steps.is_multiple_of(t.checkpoint_every) {
            return bad("train.checkpoint_every must be at least 1 and divide train.steps");
        }
        let o = &self.optimizer;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad("optimizer.lr must be a positive number");
        }
        if !(0.0..1.0).contains(&o.beta1) || !(0.0..1.0).contains(&o.beta2) {
            return bad("optimizer.beta1 and optimizer.beta2 must be in [0, 1)");
        }
        if !(o.eps.is_finite() && o.eps > 0.0) {
            return bad("optimizer.eps must be a positive number");
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return bad("optimizer.weight_decay must be ≥ 0");
        }
        if let DataConfig::Arithmetic { lines } = self.data {
            if lines == 0 || lines > 10_000_000 {
                return bad("data.lines must be in 1..=10000000");
            }
        }
        Ok(())
    }

    /// Number of checkpoints after the initial one (`n` in `h_0..h_n`).
    pub fn n_checkpoints(&self) -> usize {
        (self.train.steps / self.train.checkpoint_every) as usize
    }

    /// Loads the training corpus.
    pub fn corpus(&self) -> Result<Vec<u8>> {
        let bytes = match &self.data {
            DataConfig::Arithmetic { lines } => data::arithmetic_corpus(*lines, self.train.seed),
            DataConfig::File { path } => read(path)?,
        };
        if bytes.len() <= self.model.n_ctx + 1 {
            return Err(Error::InvalidConfig(format!(
                "training data has {} bytes, fewer than model.n_ctx + 2 = {}",
                bytes.len(),
                self.model.n_ctx + 2
            )));
        }
        Ok(bytes)
    }
}

/// Where the model matmuls run. Never changes results. Written `cpu`, `cuda` or `cuda:N`
/// (in settings, flags and configs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Backend {
    /// The CPU (reference; always available).
    #[default]
    Cpu,
    /// A CUDA device (needs the `cuda` feature and a GPU; see `crate::cuda`).
    Cuda {
        /// Device ordinal.
        device: usize,
    },
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Backend> {
        let device = match s.trim() {
            "cpu" => return Ok(Backend::Cpu),
            "cuda" => Some(0),
            other => other.strip_prefix("cuda:").and_then(|n| n.parse().ok()),
        };
        device.map(|device| Backend::Cuda { device }).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "device {s:?}: write cpu, cuda or cuda:N (N a GPU's number)"
            ))
        })
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Cpu => f.write_str("cpu"),
            Backend::Cuda { device } => write!(f, "cuda:{device}"),
        }
    }
}

impl TryFrom<String> for Backend {
    type Error = Error;

    fn try_from(s: String) -> Result<Backend> {
        s.parse()
    }
}

impl From<Backend> for String {
    fn from(b: Backend) -> String {
        b.to_string()
    }
}

/// How to run: never changes results.
#[derive(Clone, Copy, Debug)]
pub struct Runtime {
    /// Worker threads (≥ 1).
    pub threads: usize,
    /// Kernel instruction set.
    pub simd: Simd,
    /// Device for the model matmuls.
    pub backend: Backend,
}

impl Runtime {
    /// `threads` workers, the best SIMD level of this CPU, CPU backend.
    pub fn new(threads: usize) -> Runtime {
        Runtime::on(threads, Backend::Cpu)
    }

    /// `threads` workers, the best SIMD level of this CPU, the model matmuls on `backend`.
    pub fn on(threads: usize, backend: Backend) -> Runtime {
        Runtime { threads, simd: Simd::detect(), backend }
    }

    /// The executor for this runtime (opens the GPU for `Backend::Cuda`).
    pub fn exec(&self) -> Result<Exec> {
        match self.backend {
            Backend::Cpu => Ok(Exec::cpu(self.simd)),
            #[cfg(feature = "cuda")]
            Backend::Cuda { device } => {
                Ok(Exec::with_device(self.simd, crate::cuda::CudaBackend::new(device)?))
            }
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda { .. } => Err(Error::Cuda(
                "this build has no CUDA support (enable the `cuda` feature)".into(),
            )),
        }
    }
}

/// Thread count: the one asked for, else all cores; checked to be in `1..=1024`.
pub fn resolve_threads(asked: Option<usize>) -> Result<usize> {
    let n = match asked {
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    if n == 0 || n > 1024 {
        return Err(Error::InvalidConfig(format!("thread count {n} is not in 1..=1024")));
    }
    Ok(n)
}

/// The full training state at a step boundary.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Steps done.
    pub step: u64,
    /// Data-sampling RNG.
    pub rng: Rng,
    /// `beta1^step`.
    pub b1pow: f32,
    /// `beta2^step`.
    pub b2pow: f32,
    /// The loss of the step that produced this state (`+0` before the first step): in the
    /// header, so a reported loss is proven against the trace.
    pub loss: f32,
    /// Weights (layout order).
    pub params: Vec<f32>,
    /// AdamW first moments.
    pub m: Vec<f32>,
    /// AdamW second moments.
    pub v: Vec<f32>,
}

/// The tensors' root of a state (`iollm_repops::commit::tensor_root` of `params ‖ m ‖ v`),
/// hashed from the encoded bytes: the chunks are the same 4 KiB of little-endian words.
fn tensors_root(tensors: &[u8]) -> Hash {
    let chunks: Vec<Hash> = tensors
        .chunks(4 * commit::CHUNK_WORDS)
        .map(|c| -> Hash { Sha256::digest(c).into() })
        .collect();
    merkle::root(&chunks)
}

/// The state root of an encoded state: header bytes, then tensor bytes.
fn state_root(header: &[u8], tensors: &[u8]) -> Hash {
    commit::state_root::<Sha>(header, &tensors_root(tensors))
}

impl TrainState {
    /// `params ‖ m ‖ v` as bits and the header words, as the step program reads them.
    pub fn step_inputs(&self) -> (Vec<u32>, [u32; HEADER_WORDS]) {
        let words = self.params.iter().chain(&self.m).chain(&self.v).map(|x| x.to_bits()).collect();
        let (step, rng) = (self.step, self.rng.state);
        let header = [
            step as u32,
            (step >> 32) as u32,
            rng as u32,
            (rng >> 32) as u32,
            self.b1pow.to_bits(),
            self.b2pow.to_bits(),
        ];
        (words, header)
    }

    /// The header's fields.
    pub fn header(&self, config_hash: &Hash) -> Header {
        Header {
            config_hash: *config_hash,
            step: self.step,
            rng: self.rng.state,
            b1pow: self.b1pow.to_bits(),
            b2pow: self.b2pow.to_bits(),
            loss: self.loss.to_bits(),
            params: self.params.len() as u64,
        }
    }

    /// A checkpoint file's bytes (the canonical encoding, then the state's hash as its
    /// checksum) and that hash.
    pub fn checkpoint_bytes(&self, config_hash: &Hash) -> (Vec<u8>, Hash) {
        let mut bytes = self.encode(config_hash);
        let h = state_root(&bytes[..TrainState::header_len()], &bytes[TrainState::header_len()..]);
        bytes.extend_from_slice(&h);
        (bytes, h)
    }

    /// Canonical encoding: the header ([`Header::encode`]) then params, m, v (f32 each,
    /// little-endian).
    pub fn encode(&self, config_hash: &Hash) -> Vec<u8> {
        let mut out = self.header(config_hash).encode(PROFILE);
        out.reserve(12 * self.params.len());
        for t in [&self.params, &self.m, &self.v] {
            for x in t.iter() {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    /// Length of the header in [`TrainState::encode`].
    fn header_len() -> usize {
        Header::len(PROFILE)
    }

    /// The state root `h` (`iollm_repops::commit::state_root`): the root over the header's hash
    /// and the tensors' root.
    pub fn hash(&self, config_hash: &Hash) -> Hash {
        let bytes = self.encode(config_hash);
        let (header, tensors) = bytes.split_at(Self::header_len());
        state_root(header, tensors)
    }

    /// Element `element` of `params ‖ m ‖ v` with its proof against [`TrainState::hash`]
    /// (`None` past the end).
    pub fn prove_element(&self, config_hash: &Hash, element: u64) -> Option<StateProof> {
        let (words, _) = self.step_inputs();
        let proof = Committed::new::<Sha>(&words).prove::<Sha>(element)?;
        let header_hash = Sha256::digest(self.header(config_hash).encode(PROFILE)).into();
        Some(StateProof { element: proof, header_hash })
    }

    /// The header (step, RNG state, optimizer counters, …) with its proof against
    /// [`TrainState::hash`].
    pub fn prove_header(&self, config_hash: &Hash) -> HeaderProof {
        let bytes = self.encode(config_hash);
        let (header, tensors) = bytes.split_at(Self::header_len());
        HeaderProof { header: header.to_vec(), tensors_root: tensors_root(tensors) }
    }

    /// Every level of the tree over `params ‖ m ‖ v`'s chunks (level 0: the leaf hashes), for
    /// a descent of the tensors (an initial game).
    pub fn tensor_tree(&self) -> Vec<Vec<Hash>> {
        let (words, _) = self.step_inputs();
        let chunks: Vec<Hash> =
            words.chunks(commit::CHUNK_WORDS).map(commit::chunk_hash::<Sha>).collect();
        iollm_repops::merkle::levels::<Sha>(&chunks)
    }

    /// Parses a checkpoint file (encoding + trailing state root), checking everything.
    /// Returns the state, its config hash and its state hash.
    pub fn decode_checkpoint(bytes: &[u8]) -> Result<(TrainState, Hash, Hash)> {
        let corrupt = |m: &str| Error::CorruptCheckpoint(m.to_string());
        if bytes.len() < 8 + 4 + 32 {
            return Err(corrupt("file is too short to be a checkpoint"));
        }
        if &bytes[..8] != commit::MAGIC {
            return Err(corrupt("not an iollm checkpoint (bad magic)"));
        }
        let body = &bytes[..bytes.len() - 32];
        let stored: Hash =
            bytes[bytes.len() - 32..].try_into().map_err(|_| corrupt("short hash"))?;
        let mut r = Reader { b: body, pos: 8 };
        let plen = r.u32()? as usize;
        if plen > 64 {
            return Err(corrupt("profile name too long"));
        }
        let profile = String::from_utf8_lossy(r.take(plen)?).into_owned();
        if profile != PROFILE {
            return Err(Error::ProfileMismatch { expected: PROFILE.into(), found: profile });
        }
        let config_hash: Hash = r.take(32)?.try_into().map_err(|_| corrupt("config hash"))?;
        let step = r.u64()?;
        let rng = Rng::new(r.u64()?);
        let b1pow = f32::from_le_bytes(r.take(4)?.try_into().map_err(|_| corrupt("b1pow"))?);
        let b2pow = f32::from_le_bytes(r.take(4)?.try_into().map_err(|_| corrupt("b2pow"))?);
        let loss = f32::from_le_bytes(r.take(4)?.try_into().map_err(|_| corrupt("loss"))?);
        let n = r.u64()? as usize;
        let remaining = body.len() - r.pos;
        if n.checked_mul(12) != Some(remaining) {
            return Err(corrupt(&format!(
                "header says {n} parameters but {remaining} bytes of tensors follow (truncated?)"
            )));
        }
        let actual = state_root(&body[..r.pos], &body[r.pos..]);
        if actual != stored {
            return Err(Error::ChecksumMismatch { expected: hex(&stored), actual: hex(&actual) });
        }
        let mut vecs = [(); 3].map(|_| Vec::with_capacity(n));
        for v in vecs.iter_mut() {
            for c in r.take(4 * n)?.chunks_exact(4) {
                v.push(f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            }
        }
        let [params, m, v] = vecs;
        Ok((TrainState { step, rng, b1pow, b2pow, loss, params, m, v }, config_hash, actual))
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| {
            Error::CorruptCheckpoint("file ends inside its header (truncated)".into())
        })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

/// Lower-case hex of a hash.
pub fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub fn parse_hash(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// One progress report (every step).
#[derive(Clone, Debug)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// Total steps of the run.
    pub total_steps: u64,
    /// Loss of the step just done.
    pub loss: f32,
    /// Training throughput since this call started.
    pub tokens_per_sec: f64,
    /// Set when this step wrote a checkpoint: its index and hash.
    pub checkpoint: Option<(usize, Hash)>,
}

/// What `trace.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Numerics profile.
    pub profile: String,
    /// SHA-256 of the canonical config encoding (hex).
    pub config_hash: String,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Total steps.
    pub steps: u64,
    /// `h_0..h_n` (hex).
    pub hashes: Vec<String>,
    /// Merkle root over the hashes (hex).
    pub root: String,
    /// The spot-check leaf of each segment `i → i+1` (hex): the hash of its steps root, which
    /// only a replay yields ([`Trainer::steps_root`]).
    pub checks: Vec<String>,
    /// Merkle root over the checks (hex): committed on chain with the result.
    pub checks_root: String,
}

/// Result of a finished run.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// Merkle root over `h_0..h_n`.
    pub trace_root: Hash,
    /// `h_0..h_n`.
    pub hashes: Vec<Hash>,
    /// Merkle root over the segments' spot-check leaves.
    pub checks_root: Hash,
    /// Loss of the last step.
    pub final_loss: f32,
    /// Mean tokens/s of this call.
    pub tokens_per_sec: f64,
    /// The output directory.
    pub out_dir: PathBuf,
    /// The device error after which the run continued on the CPU (same numerics), if any.
    pub device_failure: Option<String>,
}

impl TrainOutcome {
    /// The trace root as lower-case hex.
    pub fn trace_root_hex(&self) -> String {
        hex(&self.trace_root)
    }

    /// The checks root as lower-case hex.
    pub fn checks_root_hex(&self) -> String {
        hex(&self.checks_root)
    }
}

/// A configured trainer: config, corpus, thread pool. Cheap to build.
pub struct Trainer {
    cfg: TrainConfig,
    layout: Layout,
    corpus: Vec<u8>,
    /// The base model's weights, if it starts from one ([`TrainConfig::base`]).
    base: Option<Vec<f32>>,
    config_hash: Hash,
    ex: Exec,
    pub(crate) pool: rayon::ThreadPool,
    /// Created by the first step.
    workspace: Mutex<Option<Workspace>>,
    /// Weight decay runs over the flat parameters: tensors of rank ≥ 2 only.
    decay: Vec<(usize, bool)>,
    /// A dishonest trainer's alteration ([`Trainer::with_fault`]; tests only).
    fault: Option<crate::game::Fault>,
    /// Its last op-by-op replays of a step ([`Trainer::trace_step_as`]).
    pub(crate) traces: crate::game::KeptTraces,
}

/// The buffers one step works in (activations, their gradients, the parameter gradient: about
/// 100 MB for a 4×256 model), kept across steps: every step overwrites them, so none is
/// allocated or zeroed again.
struct Workspace {
    fw: model::Forward,
    bw: model::Backward,
    dlogits: Vec<f32>,
    grad: Vec<f32>,
}

/// The file written last into a finished output directory (holding the trace root).
pub const COMPLETE_FILE: &str = "COMPLETE";

/// Bytes a training run holds at its peak, estimated from the config: the activations and
/// their gradients of one step ([`model::Forward`], [`model::Backward`], the logits' gradient),
/// the attention probabilities once more for their backward, weights, gradient and both AdamW
/// moments, and a checkpoint's encoding while it is written.
pub fn estimate_memory(cfg: &TrainConfig) -> u64 {
    let (b, t) = (cfg.train.batch_size as u64, cfg.model.n_ctx as u64);
    let (c, l, h) = (cfg.model.n_embd as u64, cfg.model.n_layer as u64, cfg.model.n_head as u64);
    let n = b * t;
    let probs = b * h * t * t;
    let forward = l * (16 * n * c + probs + 4 * n) + 2 * n * c + 2 * n + n * VOCAB as u64;
    let backward = 18 * n * c + probs;
    let dlogits = n * VOCAB as u64;
    let p = Layout::new(&cfg.model).total as u64;
    let floats = forward + backward + dlogits + 4 * p;
    4 * floats + 12 * p
}

/// Memory this process may use: the smaller of `MemAvailable` and the cgroup's limit, when
/// they can be read.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let avail = meminfo.as_deref().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    match (avail, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// Refuses a config whose estimated peak memory exceeds what the machine has available.
fn check_memory(cfg: &TrainConfig) -> Result<()> {
    let needed = estimate_memory(cfg);
    match available_memory() {
        Some(available) if needed > available => {
            Err(Error::InsufficientMemory { needed, available })
        }
        _ => Ok(()),
    }
}

/// Path of checkpoint `i` in an output directory.
pub fn checkpoint_path(out_dir: &Path, i: usize) -> PathBuf {
    out_dir.join("checkpoints").join(format!("ckpt-{i:06}.bin"))
}

/// Where a run stopped between checkpoints ([`Flow::Break`]: a worker's SIGTERM) keeps its
/// state and the roots of its segment's steps so far, so that [`Trainer::resume_latest`] goes on
/// from that step, not from the checkpoint before it. Local only: not part of the trace, and
/// removed once the next checkpoint is written. Layout: the roots' count (`u32` LE), the roots,
/// the state's checkpoint bytes, and the SHA-256 of all that (a local file: the roots between
/// the first and the last are taken on that checksum, not recomputed).
pub fn stopped_path(out_dir: &Path) -> PathBuf {
    out_dir.join("checkpoints").join("stopped.bin")
}

/// Path of the spot-check leaf of the segment that ends at checkpoint `i` (written just before
/// the checkpoint, so that a resumed run finds it).
fn check_path(out_dir: &Path, i: usize) -> PathBuf {
    out_dir.join("checkpoints").join(format!("ckpt-{i:06}.check"))
}

impl Trainer {
    /// Validates the config, loads the data and starts the thread pool.
    pub fn new(cfg: &TrainConfig, rt: &Runtime) -> Result<Trainer> {
        Trainer::with_exec(cfg, rt.threads, rt.exec()?)
    }

    /// [`Trainer::new`] with an executor built by the caller (e.g. with its own
    /// [`crate::ops::MatmulDevice`]).
    pub fn with_exec(cfg: &TrainConfig, threads: usize, ex: Exec) -> Result<Trainer> {
        cfg.validate()?;
        check_memory(cfg)?;
        let corpus = cfg.corpus()?;
        let layout = Layout::new(&cfg.model);
        let base = cfg.base.as_deref().map(|path| read_base(&layout, path)).transpose()?;
        let base_hash = base.as_ref().map(|(_, hash)| hash);
        let config_hash = config_hash(cfg, &corpus, base_hash);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot start {threads} threads: {e}")))?;
        let decay =
            layout.entries.iter().map(|e| (e.offset + e.len(), e.shape.len() >= 2)).collect();
        Ok(Trainer {
            layout,
            decay,
            cfg: cfg.clone(),
            corpus,
            base: base.map(|(weights, _)| weights),
            config_hash,
            ex,
            pool,
            workspace: Mutex::new(None),
            fault: None,
            traces: Default::default(),
        })
    }

    /// This trainer made dishonest, for tests: every step it takes (training, replays, the
    /// op-by-op traces a player proves from) alters `fault`'s element, so its runs, checks and
    /// game moves tell one consistent wrong story. Switched on per trainer at run time.
    pub fn with_fault(mut self, fault: crate::game::Fault) -> Trainer {
        self.fault = Some(fault);
        self.traces = Default::default();
        self
    }

    /// Its alteration, if it is a dishonest trainer ([`Trainer::with_fault`]).
    pub fn fault(&self) -> Option<crate::game::Fault> {
        self.fault
    }

    /// The device error after which this trainer's matmuls moved to the CPU, if one happened.
    pub fn device_failure(&self) -> Option<&str> {
        self.ex.device_failure()
    }

    /// The config it trains.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The canonical config hash bound into every checkpoint.
    pub fn config_hash(&self) -> Hash {
        self.config_hash
    }

    /// The values a step's arithmetic depends on, as the step program takes them (floats as
    /// bits): the model, the batch, the corpus length and the optimizer.
    pub fn step_config(&self) -> StepConfig {
        let (m, o) = (&self.cfg.model, &self.cfg.optimizer);
        StepConfig {
            n_layer: m.n_layer,
            n_head: m.n_head,
            n_embd: m.n_embd,
            n_ctx: m.n_ctx,
            batch: self.cfg.train.batch_size,
            corpus_len: self.corpus.len(),
            lr: o.lr.to_bits(),
            beta1: o.beta1.to_bits(),
            beta2: o.beta2.to_bits(),
            eps: o.eps.to_bits(),
            weight_decay: o.weight_decay.to_bits(),
            warmup_steps: o.warmup_steps,
        }
    }

    /// The canonical op list of one step of this config (`iollm_repops::step`): what the
    /// dispute game bisects inside a step, and what [`Trainer::step`] computes faster with the
    /// same bits.
    pub fn step_program(&self) -> Program {
        step::program(&self.step_config())
    }

    /// The training corpus.
    pub fn corpus(&self) -> &[u8] {
        &self.corpus
    }

    /// State before the first step (checkpoint 0).
    pub fn initial_state(&self) -> TrainState {
        let n = self.layout.total;
        TrainState {
            step: 0,
            rng: Rng::new(self.cfg.train.seed),
            b1pow: 1.0,
            b2pow: 1.0,
            loss: 0.0,
            params: match &self.base {
                Some(weights) => weights.clone(),
                None => model::init_params(&self.layout, self.cfg.train.seed),
            },
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// One optimizer step; returns its loss.
    pub fn step(&self, st: &mut TrainState) -> f32 {
        ops::install_hot(&self.pool, || self.step_inner(st))
    }

    fn step_inner(&self, st: &mut TrainState) -> f32 {
        if self.fault.is_some_and(|f| f.step == st.step) {
            // The altered step, op by op from the step program's definitions (the same bits
            // as the fast kernels for every value the fault does not change).
            *st = self.trace_step(st).next_state();
            return st.loss;
        }
        let (b, t) = (self.cfg.train.batch_size, self.cfg.model.n_ctx);
        let (x, y) = data::sample_batch(&self.corpus, &mut st.rng, b, t);
        let mut guard = self.workspace.lock().unwrap_or_else(|e| e.into_inner());
        let Workspace { fw, bw, dlogits, grad } = guard.get_or_insert_with(|| Workspace {
            fw: model::Forward::new(&self.cfg.model, b, t),
            bw: model::Backward::new(&self.cfg.model, b, t),
            dlogits: vec![0.0; b * t * VOCAB],
            grad: vec![0.0; self.layout.total],
        });
        model::forward_into(&self.ex, &self.cfg.model, &self.layout, &st.params, &x, fw);
        let loss = ops::cross_entropy(&self.ex, &fw.logits, &y, VOCAB, dlogits);
        model::backward(
            &self.ex,
            &self.cfg.model,
            &self.layout,
            &st.params,
            &x,
            fw,
            dlogits,
            grad,
            bw,
        );
        let opt = &self.cfg.optimizer;
        st.b1pow *= opt.beta1;
        st.b2pow *= opt.beta2;
        let lr = opt.lr_at(st.step);
        opt.update(
            self.ex.simd,
            &mut st.params,
            grad,
            &mut st.m,
            &mut st.v,
            lr,
            st.b1pow,
            st.b2pow,
            &self.decay,
        );
        st.step += 1;
        st.loss = loss;
        loss
    }

    /// Runs steps until `st.step == until`, reporting each step and pushing the state root
    /// after it onto `steps`.
    fn run(
        &self,
        st: &mut TrainState,
        until: u64,
        steps: &mut Vec<Hash>,
        progress: &mut dyn FnMut(&Progress) -> Flow,
        start: Instant,
        first_step: u64,
    ) -> Result<f32> {
        let mut loss = st.loss;
        while st.step < until {
            loss = self.step(st);
            steps.push(st.hash(&self.config_hash));
            let flow = progress(&Progress {
                step: st.step,
                total_steps: self.cfg.train.steps,
                loss,
                tokens_per_sec: self.tokens_per_sec(st.step - first_step, start),
                checkpoint: None,
            });
            if flow.is_break() {
                return Err(Error::Stopped { step: st.step });
            }
        }
        Ok(loss)
    }

    fn write_checkpoint(&self, out_dir: &Path, i: usize, st: &TrainState) -> Result<Hash> {
        let (bytes, h) = st.checkpoint_bytes(&self.config_hash);
        atomic_write(&checkpoint_path(out_dir, i), &bytes)?;
        Ok(h)
    }

    /// Reads a checkpoint file, checking its checksum and that it belongs to this config.
    pub fn load_checkpoint(&self, path: &Path) -> Result<(TrainState, Hash)> {
        self.decode_checked(&read(path)?).map_err(|e| match e {
            e @ Error::Io { .. } => e,
            e => Error::BadCheckpoint { path: path.to_owned(), source: Box::new(e) },
        })
    }

    fn decode_checked(&self, bytes: &[u8]) -> Result<(TrainState, Hash)> {
        let (st, ch, h) = TrainState::decode_checkpoint(bytes)?;
        if ch != self.config_hash {
            return Err(Error::ConfigMismatch {
                expected: hex(&self.config_hash),
                found: hex(&ch),
            });
        }
        if st.params.len() != self.layout.total {
            return Err(Error::CorruptCheckpoint(format!(
                "{} parameters, the config has {}",
                st.params.len(),
                self.layout.total
            )));
        }
        Ok((st, h))
    }

    /// Continues from `st` to the end of the run, writing the checkpoints after `h_from`, the
    /// trace and the final model. `hashes` holds `h_0..=h_from`; `steps` the roots of the
    /// states from `h_from` to `st` (`[h_from]` when `st` is checkpoint `from`). Stopped between
    /// checkpoints, it writes [`stopped_path`] first.
    fn finish(
        &self,
        out_dir: &Path,
        mut st: TrainState,
        mut hashes: Vec<Hash>,
        mut steps: Vec<Hash>,
        progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<TrainOutcome> {
        let k = self.cfg.train.checkpoint_every;
        let start = Instant::now();
        let steps_before = st.step;
        let mut loss = st.loss;
        let mut checks = self.done_checks(out_dir, hashes.len() - 1)?;
        while st.step < self.cfg.train.steps || steps.len() > 1 {
            let next = st.step - (steps.len() as u64 - 1) + k;
            loss = match self.run(&mut st, next, &mut steps, progress, start, steps_before) {
                Err(Error::Stopped { step }) => {
                    // Not kept (a full disk, say), the run goes on from its last checkpoint.
                    if let Err(e) = self.write_stopped(out_dir, &st, &steps) {
                        warn!(target: "compute::train", step, error = %e, "The state it stopped at is not kept");
                    }
                    return Err(Error::Stopped { step });
                }
                done => done?,
            };
            let i = (st.step / k) as usize;
            let leaf = spotcheck_leaf::<Sha>(&merkle::root(&steps));
            atomic_write(&check_path(out_dir, i), hex(&leaf).as_bytes())?;
            checks.push(leaf);
            let h = self.write_checkpoint(out_dir, i, &st)?;
            remove_if_there(&stopped_path(out_dir))?;
            steps = vec![h];
            info!(target: "compute::train", checkpoint = i, step = st.step, loss, hash = %hex(&h), "Checkpoint written");
            let flow = progress(&Progress {
                step: st.step,
                total_steps: self.cfg.train.steps,
                loss,
                tokens_per_sec: self.tokens_per_sec(st.step - steps_before, start),
                checkpoint: Some((i, h)),
            });
            if flow.is_break() {
                return Err(Error::Stopped { step: st.step });
            }
            hashes.push(h);
        }
        let root = merkle::root(&hashes);
        let checks_root = merkle::root(&checks);
        save_model(out_dir, &self.cfg.model, &st.params)?;
        let trace = Trace {
            profile: PROFILE.into(),
            config_hash: hex(&self.config_hash),
            checkpoint_every: k,
            steps: self.cfg.train.steps,
            hashes: hashes.iter().map(|h| hex(h)).collect(),
            root: hex(&root),
            checks: checks.iter().map(|h| hex(h)).collect(),
            checks_root: hex(&checks_root),
        };
        let json =
            serde_json::to_vec_pretty(&trace).map_err(|e| Error::InvalidInput(e.to_string()))?;
        atomic_write(&out_dir.join("trace.json"), &json)?;
        // Last: only a directory with this marker holds a finished run.
        atomic_write(&out_dir.join(COMPLETE_FILE), format!("{}\n", hex(&root)).as_bytes())?;
        info!(target: "compute::train", root = %hex(&root), "Training finished");
        Ok(TrainOutcome {
            trace_root: root,
            hashes,
            checks_root,
            final_loss: loss,
            tokens_per_sec: self.tokens_per_sec(st.step - steps_before, start),
            out_dir: out_dir.to_owned(),
            device_failure: self.device_failure().map(String::from),
        })
    }

    fn tokens_per_sec(&self, steps: u64, start: Instant) -> f64 {
        (steps * (self.cfg.train.batch_size * self.cfg.model.n_ctx) as u64) as f64
            / start.elapsed().as_secs_f64().max(1e-9)
    }

    /// Re-executes segment `segment.index() → +1` from a checkpoint (file bytes) and returns
    /// the state root it reaches. This is what a verifier runs. The checkpoint must be the one
    /// the committed trace names: its root must be `h_i` of `segment`, whose `h_i` and
    /// `h_{i+1}` are proven against the committed trace root ([`Segment`]), so a forged
    /// checkpoint re-sealed with its own root is refused ([`Error::StartNotInTrace`]).
    pub fn replay_segment(&self, segment: &Segment, checkpoint: &[u8]) -> Result<Hash> {
        let mut st = self.segment_start(segment, checkpoint)?;
        let until = st.step + self.cfg.train.checkpoint_every;
        ops::install_hot(&self.pool, || {
            while st.step < until {
                self.step_inner(&mut st);
            }
        });
        Ok(st.hash(&self.config_hash))
    }

    /// The state root after every step of segment `segment.index() → +1`, replayed from its
    /// checkpoint as [`Trainer::replay_segment`] does: `checkpoint_every + 1` roots, the first
    /// `h_i`, the last the root the segment reaches. The dispute game's second level bisects
    /// over these (a player commits to their Merkle root when a segment is disputed).
    pub fn segment_step_roots(&self, segment: &Segment, checkpoint: &[u8]) -> Result<Vec<Hash>> {
        self.segment_step_roots_until(segment, checkpoint, &AtomicBool::new(false))
    }

    /// [`Trainer::segment_step_roots`], given up with [`Error::Stopped`] at the first step
    /// after `stop` is set (a caller that no longer waits for the replay sets it).
    pub fn segment_step_roots_until(
        &self,
        segment: &Segment,
        checkpoint: &[u8],
        stop: &AtomicBool,
    ) -> Result<Vec<Hash>> {
        let st = self.segment_start(segment, checkpoint)?;
        let until = st.step + self.cfg.train.checkpoint_every;
        self.step_roots(st, until, stop)
    }

    /// The state root of `st` and after every step from it until step `until`, unless `stop`
    /// is set first.
    fn step_roots(&self, mut st: TrainState, until: u64, stop: &AtomicBool) -> Result<Vec<Hash>> {
        let mut roots = vec![st.hash(&self.config_hash)];
        ops::install_hot(&self.pool, || {
            while st.step < until {
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Stopped { step: st.step });
                }
                self.step_inner(&mut st);
                roots.push(st.hash(&self.config_hash));
            }
            Ok(roots)
        })
    }

    /// The steps root of segment `segment.index() → +1` (the Merkle root over
    /// [`Trainer::segment_step_roots`]): what a spot check of that segment must report, and
    /// whose [`spotcheck_leaf`] the executor committed.
    pub fn steps_root(&self, segment: &Segment, checkpoint: &[u8]) -> Result<Hash> {
        Ok(merkle::root(&self.segment_step_roots(segment, checkpoint)?))
    }

    /// The spot-check leaves of segments `0..done` of a run being resumed: from the files
    /// written beside the checkpoints, or (a file lost) by replaying that segment.
    fn done_checks(&self, out_dir: &Path, done: usize) -> Result<Vec<Hash>> {
        let k = self.cfg.train.checkpoint_every;
        let mut checks = Vec::with_capacity(done);
        for i in 1..=done {
            let text = std::fs::read_to_string(check_path(out_dir, i)).unwrap_or_default();
            let leaf = match parse_hash(text.trim()) {
                Some(leaf) => leaf,
                None => {
                    let (st, _) = self.load_checkpoint(&checkpoint_path(out_dir, i - 1))?;
                    let roots = self.step_roots(st, i as u64 * k, &AtomicBool::new(false))?;
                    spotcheck_leaf::<Sha>(&merkle::root(&roots))
                }
            };
            checks.push(leaf);
        }
        Ok(checks)
    }

    /// The start state of `segment`: the checkpoint, checked to be the committed `h_i` at the
    /// segment's first step.
    fn segment_start(&self, segment: &Segment, checkpoint: &[u8]) -> Result<TrainState> {
        segment.check(self.cfg.n_checkpoints() + 1)?;
        let (st, h) = self.decode_checked(checkpoint)?;
        if h != segment.start {
            return Err(Error::StartNotInTrace {
                index: segment.index,
                expected: hex(&segment.start),
                actual: hex(&h),
            });
        }
        let k = self.cfg.train.checkpoint_every;
        if st.step != segment.index as u64 * k {
            return Err(Error::CorruptCheckpoint(format!(
                "checkpoint {} holds step {}, not {}",
                segment.index,
                st.step,
                segment.index as u64 * k
            )));
        }
        Ok(st)
    }
}

/// One segment `i → i+1` of a committed trace, as a verifier receives it: `h_i` and
/// `h_{i+1}`, each with its Merkle inclusion proof under the trace root committed on chain.
/// Replaying checks both proofs (at positions `i` and `i+1`) before anything runs, so neither
/// the start checkpoint nor the claimed end can be chosen by whoever hands over the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    root: Hash,
    index: usize,
    start: Hash,
    start_proof: Vec<Hash>,
    next: Hash,
    next_proof: Vec<Hash>,
}

impl Segment {
    /// A segment claim: `start = h_index`, `next = h_{index+1}`, with their proofs under the
    /// committed `root` (checked when it is replayed).
    pub fn new(
        root: Hash,
        index: usize,
        (start, start_proof): (Hash, Vec<Hash>),
        (next, next_proof): (Hash, Vec<Hash>),
    ) -> Segment {
        Segment { root, index, start, start_proof, next, next_proof }
    }

    /// Segment `index` of a full trace (`h_0..h_n`, e.g. from `trace.json`), against the root
    /// committed on chain: refused with [`Error::NotInTrace`] when the hashes do not make that
    /// root.
    pub fn from_hashes(root: &Hash, hashes: &[Hash], index: usize) -> Result<Segment> {
        let not_in = || Error::NotInTrace { index, root: hex(root) };
        if merkle::root(hashes) != *root {
            return Err(not_in());
        }
        let start = hashes.get(index).copied().ok_or_else(not_in)?;
        let next = hashes.get(index + 1).copied().ok_or_else(not_in)?;
        let sp = merkle::proof(hashes, index).ok_or_else(not_in)?;
        let np = merkle::proof(hashes, index + 1).ok_or_else(not_in)?;
        Ok(Segment::new(*root, index, (start, sp), (next, np)))
    }

    /// The segment's index `i`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// `h_{i+1}` as committed.
    pub fn next(&self) -> &Hash {
        &self.next
    }

    /// Both proofs verify, at positions `i` and `i+1` of a trace of `leaves` hashes.
    fn check(&self, leaves: usize) -> Result<()> {
        let ok = self.index + 1 < leaves
            && merkle::verify_at(&self.root, &self.start, self.index, leaves, &self.start_proof)
            && merkle::verify_at(&self.root, &self.next, self.index + 1, leaves, &self.next_proof);
        if ok {
            Ok(())
        } else {
            Err(Error::NotInTrace { index: self.index, root: hex(&self.root) })
        }
    }
}

/// SHA-256 of the canonical config encoding: JSON of `{profile, model, train, optimizer,
/// data_root}` (the data's bytes, not its path, are bound: `data_root` is
/// [`data::corpus_root`], so one training window can be proven against what `h_0` commits to),
/// and `base`, the SHA-256 of the base model's file (`base_file`), when it starts from one.
pub fn config_hash(cfg: &TrainConfig, corpus: &[u8], base_file: Option<&Hash>) -> Hash {
    #[derive(Serialize)]
    struct Canon<'a> {
        profile: &'a str,
        model: &'a GptConfig,
        train: &'a TrainSection,
        optimizer: &'a AdamW,
        data_root: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        base: Option<String>,
    }
    let c = Canon {
        profile: PROFILE,
        model: &cfg.model,
        train: &cfg.train,
        optimizer: &cfg.optimizer,
        data_root: hex(&data::corpus_root(corpus)),
        base: base_file.map(|h| hex(h)),
    };
    Sha256::digest(serde_json::to_vec(&c).expect("config serialises")).into()
}

/// A base model's weights for `layout`, read from the safetensors file at `path`, and the
/// file's SHA-256: refused unless the file is exactly the canonical encoding of those weights
/// (so its bytes after the header are the parameters in layout order, as the dispute game
/// reads a base: `iollm_types::package::base_chunk`).
fn read_base(layout: &Layout, path: &Path) -> Result<(Vec<f32>, Hash)> {
    let bytes = crate::io::read(path)?;
    let not_canonical = |why: String| {
        Error::InvalidConfig(format!(
            "base {}: {why}: give a model of this shape as a run writes it (model.safetensors)",
            path.display()
        ))
    };
    let weights = crate::io::weights_from_safetensors(layout, &bytes)
        .map_err(|e| not_canonical(e.to_string()))?;
    if crate::io::weights_to_safetensors(layout, &weights)? != bytes {
        return Err(not_canonical("not in the canonical layout".into()));
    }
    Ok((weights, Sha256::digest(&bytes).into()))
}

/// What a progress callback says after each step: go on ([`go_on`]), or stop the run
/// (`ControlFlow::Break`), which then ends with [`Error::Stopped`]; the checkpoints written so
/// far stay, and [`resume_latest`] continues from the last of them.
pub type Flow = std::ops::ControlFlow<()>;

/// A progress callback that ignores progress and never stops the run.
pub fn go_on(_: &Progress) -> Flow {
    Flow::Continue(())
}

/// Trains `cfg` from scratch into `out_dir` on `rt` ([`Trainer::train`]).
pub fn train(
    cfg: &TrainConfig,
    out_dir: &Path,
    rt: &Runtime,
    progress: &mut dyn FnMut(&Progress) -> Flow,
) -> Result<TrainOutcome> {
    Trainer::new(cfg, rt)?.train(out_dir, progress)
}

/// Resumes `cfg`'s run in `out_dir` from its checkpoint `from` on `rt` ([`Trainer::resume`]).
pub fn resume(
    cfg: &TrainConfig,
    out_dir: &Path,
    from: usize,
    rt: &Runtime,
    progress: &mut dyn FnMut(&Progress) -> Flow,
) -> Result<TrainOutcome> {
    Trainer::new(cfg, rt)?.resume(out_dir, from, progress)
}

/// `iollm train --resume`: `cfg`'s run in `out_dir` resumed on `rt` from its last good
/// checkpoint ([`Trainer::resume_latest`]).
pub fn resume_latest(
    cfg: &TrainConfig,
    out_dir: &Path,
    rt: &Runtime,
    progress: &mut dyn FnMut(&Progress) -> Flow,
) -> Result<TrainOutcome> {
    Trainer::new(cfg, rt)?.resume_latest(out_dir, progress)
}

impl Trainer {
    /// Trains from scratch into `out_dir`, which must be missing or empty
    /// ([`Error::OutputNotEmpty`] otherwise: continue a run with [`Trainer::resume_latest`]):
    /// checkpoints every `checkpoint_every` steps, the trace, the final model, and last
    /// [`COMPLETE_FILE`]. `progress` is called after every step and every checkpoint; it can
    /// stop the run ([`Flow`]).
    pub fn train(
        &self,
        out_dir: &Path,
        progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<TrainOutcome> {
        match std::fs::read_dir(out_dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::OutputNotEmpty { path: out_dir.to_owned() });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read directory", out_dir, e)),
        }
        let ck = out_dir.join("checkpoints");
        std::fs::create_dir_all(&ck).map_err(|e| Error::io("create directory", &ck, e))?;
        let threads = self.pool.current_num_threads();
        info!(target: "compute::train", threads, simd = ?self.ex.simd, out = %out_dir.display(), "Training started");
        let st = self.initial_state();
        let h0 = self.write_checkpoint(out_dir, 0, &st)?;
        let flow = progress(&Progress {
            step: 0,
            total_steps: self.cfg.train.steps,
            loss: f32::NAN,
            tokens_per_sec: 0.0,
            checkpoint: Some((0, h0)),
        });
        if flow.is_break() {
            return Err(Error::Stopped { step: 0 });
        }
        self.finish(out_dir, st, vec![h0], vec![h0], progress)
    }

    /// Resumes a run in `out_dir` from its checkpoint `from`, rewriting checkpoints after it,
    /// the trace and the model. Produces the same hashes as the uninterrupted run. The
    /// completion marker is removed first (and checkpoints past this run's last, left by a
    /// longer run), so an interrupted resume never leaves a directory that looks finished.
    pub fn resume(
        &self,
        out_dir: &Path,
        from: usize,
        progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<TrainOutcome> {
        self.resume_at(out_dir, from, None, progress)
    }

    /// [`Trainer::resume`], from the state a run stopped at after checkpoint `from` (with its
    /// segment's roots so far) when `stopped` is one.
    fn resume_at(
        &self,
        out_dir: &Path,
        from: usize,
        stopped: Option<(TrainState, Vec<Hash>)>,
        progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<TrainOutcome> {
        let n = self.cfg.n_checkpoints();
        if from > n {
            return Err(Error::NoSuchCheckpoint { index: from, last: n });
        }
        let mut hashes = Vec::with_capacity(n + 1);
        let mut state = None;
        for i in 0..=from {
            let (st, h) = self.load_checkpoint(&checkpoint_path(out_dir, i))?;
            hashes.push(h);
            if i == from {
                state = Some(st);
            }
        }
        let st = state.ok_or(Error::NoSuchCheckpoint { index: from, last: n })?;
        if st.step != from as u64 * self.cfg.train.checkpoint_every {
            let why = format!("checkpoint {from} holds step {}", st.step);
            return Err(Error::CorruptCheckpoint(why));
        }
        forget_completion(out_dir, n)?;
        let from_hash = hashes[from];
        let (st, steps) = match stopped {
            Some((stopped, steps)) if steps[0] == from_hash => (stopped, steps),
            // One it does not go on from is of no use any more.
            _ => (remove_if_there(&stopped_path(out_dir)).map(|()| st)?, vec![from_hash]),
        };
        info!(target: "compute::train", from, step = st.step, out = %out_dir.display(), "Training resumed");
        self.finish(out_dir, st, hashes, steps, progress)
    }

    /// Resumes from the last good checkpoint of `out_dir` — the highest `i` such that
    /// checkpoints `0..=i` all load and belong to this config — or from the state the run
    /// stopped at after it ([`stopped_path`]) when that one is whole and follows from it.
    pub fn resume_latest(
        &self,
        out_dir: &Path,
        progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<TrainOutcome> {
        let (n, every) = (self.cfg.n_checkpoints(), self.cfg.train.checkpoint_every);
        let mut last = None;
        for i in 0..=n {
            match self.load_checkpoint(&checkpoint_path(out_dir, i)) {
                Ok((st, _)) if st.step == i as u64 * every => last = Some(i),
                Ok(_) => break,
                Err(e) => {
                    info!(target: "compute::train", checkpoint = i, error = %e, "Resuming before this checkpoint");
                    break;
                }
            }
        }
        let from = last.ok_or_else(|| Error::NothingToResume { path: out_dir.to_owned() })?;
        let stopped = self.read_stopped(out_dir, from);
        self.resume_at(out_dir, from, stopped, progress)
    }

    /// Writes [`stopped_path`]: `st`, between checkpoints, and `steps`, the roots of its
    /// segment's states from the checkpoint before it to `st`.
    fn write_stopped(&self, out_dir: &Path, st: &TrainState, steps: &[Hash]) -> Result<()> {
        let (state, _) = st.checkpoint_bytes(&self.config_hash);
        let mut bytes = (steps.len() as u32).to_le_bytes().to_vec();
        steps.iter().for_each(|h| bytes.extend_from_slice(h));
        bytes.extend_from_slice(&state);
        let sum: Hash = Sha256::digest(&bytes).into();
        bytes.extend_from_slice(&sum);
        atomic_write(&stopped_path(out_dir), &bytes)?;
        info!(target: "compute::train", step = st.step, "Stopped between checkpoints; its state is kept");
        Ok(())
    }

    /// The state [`stopped_path`] holds and its segment's roots, if the file is whole, of this
    /// config, and goes on from checkpoint `from` (its first root `h_from`, its last the
    /// state's, one root a step, within the segment). Anything else is ignored (logged): the
    /// run goes on from the checkpoint.
    fn read_stopped(&self, out_dir: &Path, from: usize) -> Option<(TrainState, Vec<Hash>)> {
        let path = stopped_path(out_dir);
        let bytes = std::fs::read(&path).ok()?;
        let checked = || -> std::result::Result<(TrainState, Vec<Hash>), String> {
            let (body, sum) = bytes
                .split_at_checked(bytes.len().checked_sub(32).ok_or("short")?)
                .ok_or("short")?;
            if Sha256::digest(body).as_slice() != sum {
                return Err("its checksum does not match".into());
            }
            let (count, rest) = body.split_at_checked(4).ok_or("short")?;
            let count = u32::from_le_bytes(count.try_into().expect("four bytes")) as usize;
            let (roots, state) = rest
                .split_at_checked(count.checked_mul(32).ok_or("too many roots")?)
                .ok_or("short")?;
            let steps: Vec<Hash> =
                roots.chunks_exact(32).map(|r| r.try_into().expect("32 bytes")).collect();
            let (st, h) = self.decode_checked(state).map_err(|e| e.to_string())?;
            let k = self.cfg.train.checkpoint_every;
            let (first, last) = (from as u64 * k, st.step);
            let h_from =
                self.load_checkpoint(&checkpoint_path(out_dir, from)).map_err(|e| e.to_string())?.1;
            let follows = last > first
                && last <= first + k
                && steps.len() as u64 == last - first + 1
                && steps.first() == Some(&h_from)
                && steps.last() == Some(&h);
            if !follows {
                return Err(format!("step {last} does not follow checkpoint {from}"));
            }
            Ok((st, steps))
        };
        match checked() {
            Ok(stopped) => Some(stopped),
            Err(why) => {
                info!(target: "compute::train", path = %path.display(), why, "Not resuming from the stopped state");
                None
            }
        }
    }
}

/// Removes `path` if it is there.
fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Removes the completion marker (durably), checkpoints with an index above `last`, and
/// temporary files a killed run left in `checkpoints/`.
fn forget_completion(out_dir: &Path, last: usize) -> Result<()> {
    let marker = out_dir.join(COMPLETE_FILE);
    match std::fs::remove_file(&marker) {
        Ok(()) => {
            std::fs::File::open(out_dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io("sync directory", out_dir, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", &marker, e)),
    }
    let ck = out_dir.join("checkpoints");
    let entries = std::fs::read_dir(&ck).map_err(|e| Error::io("read directory", &ck, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io("read directory", &ck, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let index = name
            .strip_prefix("ckpt-")
            .and_then(|r| r.strip_suffix(".bin"))
            .and_then(|i| i.parse::<usize>().ok());
        // Also what a killed run left half-written: `atomic_write`'s `.NAME.tmp-PID-SEQ`.
        let temporary = name.starts_with('.') && name.contains(".tmp-");
        if temporary || index.is_some_and(|i| i > last) {
            std::fs::remove_file(e.path()).map_err(|err| Error::io("remove", e.path(), err))?;
        }
    }
    Ok(())
}

/// Verifier entry point: re-executes `segment` from the checkpoint file bytes (which must be
/// the committed `h_i`) and returns the state hash it reaches.
pub fn replay_segment(
    cfg: &TrainConfig,
    segment: &Segment,
    checkpoint: &[u8],
    rt: &Runtime,
) -> Result<Hash> {
    Trainer::new(cfg, rt)?.replay_segment(segment, checkpoint)
}

/// Verifier check: replays `segment` from `checkpoint` and compares the hash it reaches with
/// the committed `h_{i+1}`. `Ok(true)` means the segment is honest; a checkpoint that is not
/// the committed `h_i` is an error, not `false`.
pub fn verify_segment(
    cfg: &TrainConfig,
    segment: &Segment,
    checkpoint: &[u8],
    rt: &Runtime,
) -> Result<bool> {
    Ok(&replay_segment(cfg, segment, checkpoint, rt)? == segment.next())
}

/// What the executor of a finished run commits on chain: the trace and checks roots, and its
/// last state `h_n` — the header (holding the last step's loss) proven against `h_n`, and
/// `h_n`'s path in the trace — which the market checks the reported loss against.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Merkle root over `h_0..h_n`.
    pub trace_root: Hash,
    /// Merkle root over the segments' spot-check leaves.
    pub checks_root: Hash,
    /// `h_n`'s header and tensors' root.
    pub last: HeaderProof,
    /// The siblings of leaf `n` in the trace, from the bottom up.
    pub last_path: Vec<Hash>,
    /// The siblings of leaf 0 (`h_0`) in the trace, from the bottom up.
    pub first_path: Vec<Hash>,
    /// The loss of the last step (in `last`'s header).
    pub loss: f32,
}

/// The [`RunResult`] of a finished run in `out_dir`: its trace, and its last checkpoint read
/// and checked (it must be the trace's last hash).
pub fn run_result(out_dir: &Path) -> Result<RunResult> {
    let trace = read_trace(out_dir)?;
    let corrupt = |m: String| Error::CorruptCheckpoint(format!("{}: {m}", out_dir.display()));
    let hashes = trace
        .hashes
        .iter()
        .map(|h| parse_hash(h).ok_or_else(|| corrupt(format!("trace.json: bad hash {h:?}"))))
        .collect::<Result<Vec<_>>>()?;
    let n =
        hashes.len().checked_sub(1).ok_or_else(|| corrupt("trace.json holds no hash".into()))?;
    let checks_root = parse_hash(&trace.checks_root)
        .ok_or_else(|| corrupt("trace.json: bad checks root".into()))?;
    let path = checkpoint_path(out_dir, n);
    let (state, config_hash, h) = TrainState::decode_checkpoint(&read(&path)?)
        .map_err(|e| Error::BadCheckpoint { path: path.clone(), source: Box::new(e) })?;
    if h != hashes[n] {
        return Err(corrupt(format!("{} is not the trace's last state", path.display())));
    }
    Ok(RunResult {
        trace_root: merkle::root(&hashes),
        checks_root,
        last: state.prove_header(&config_hash),
        last_path: merkle::proof(&hashes, n).expect("in range"),
        first_path: merkle::proof(&hashes, 0).expect("in range"),
        loss: state.loss,
    })
}

/// Reads `trace.json` from an output directory.
pub fn read_trace(out_dir: &Path) -> Result<Trace> {
    if !out_dir.join(COMPLETE_FILE).is_file() {
        return Err(Error::IncompleteRun { path: out_dir.to_owned() });
    }
    let p = out_dir.join("trace.json");
    serde_json::from_slice(&read(&p)?)
        .map_err(|e| Error::CorruptCheckpoint(format!("{}: {e}", p.display())))
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn devices_are_written_cpu_cuda_or_cuda_n() {
        assert_eq!("cpu".parse::<Backend>().unwrap(), Backend::Cpu);
        assert_eq!("cuda".parse::<Backend>().unwrap(), Backend::Cuda { device: 0 });
        assert_eq!(" cuda:3".parse::<Backend>().unwrap(), Backend::Cuda { device: 3 });
        for b in [Backend::Cpu, Backend::Cuda { device: 2 }] {
            assert_eq!(b.to_string().parse::<Backend>().unwrap(), b);
        }
        for bad in ["gpu", "cuda:", "cuda:-1", "CUDA:0", ""] {
            let err = bad.parse::<Backend>().unwrap_err().to_string();
            assert!(err.contains("write cpu, cuda or cuda:N"), "{bad:?}: {err}");
        }
    }
}
