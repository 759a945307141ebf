//! Files: atomic writes, and model weights as safetensors + a Hugging Face-style `config.json`.
//!
//! Every file is written to a temporary name in the same directory, synced, then renamed, so a
//! crash or an error never leaves a partially written file under the final name.

use crate::error::{Error, Result};
use crate::model::{GptConfig, Layout, VOCAB};
use crate::ops::LN_EPS;
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the model config inside a model directory.
pub const CONFIG_FILE: &str = "config.json";

/// Writes `bytes` to `path` atomically and durably: a temporary file in the same directory,
/// fsynced, renamed over `path`, then the directory fsynced (so the rename survives a crash).
///
/// This is the compute crate's copy of the one helper `iollm_content::fsutil::write_atomic`
/// implements: the two crates must not depend on each other, and a shared crate for twenty
/// lines would be the grab-bag STYLE.md warns against.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{seq}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("write", path, e));
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// The subset of Hugging Face's `GPT2Config` this crate reads and writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HfConfig {
    /// Always `["GPT2LMHeadModel"]`.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Always `"gpt2"`.
    pub model_type: String,
    /// Must be 256.
    pub vocab_size: usize,
    /// Context length.
    pub n_positions: usize,
    /// Width.
    pub n_embd: usize,
    /// Blocks.
    pub n_layer: usize,
    /// Heads.
    pub n_head: usize,
    /// MLP width (must be `4·n_embd` or absent).
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// Must be `gelu_new` (tanh form).
    #[serde(default = "gelu_new")]
    pub activation_function: String,
    /// LayerNorm epsilon (must be 1e-5).
    #[serde(default = "eps")]
    pub layer_norm_epsilon: f64,
    /// LM head tied to `wte` (must be true).
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Numerics profile the weights were produced under.
    #[serde(default)]
    pub iollm_numerics_profile: Option<String>,
}

fn gelu_new() -> String {
    "gelu_new".into()
}
fn eps() -> f64 {
    LN_EPS as f64
}
fn yes() -> bool {
    true
}

impl HfConfig {
    /// The HF config for `cfg`.
    pub fn from_model(cfg: &GptConfig) -> HfConfig {
        HfConfig {
            architectures: vec!["GPT2LMHeadModel".into()],
            model_type: "gpt2".into(),
            vocab_size: VOCAB,
            n_positions: cfg.n_ctx,
            n_embd: cfg.n_embd,
            n_layer: cfg.n_layer,
            n_head: cfg.n_head,
            n_inner: Some(4 * cfg.n_embd),
            activation_function: gelu_new(),
            layer_norm_epsilon: eps(),
            tie_word_embeddings: true,
            iollm_numerics_profile: Some(crate::repops::PROFILE.into()),
        }
    }

    /// The model shape, after checking that this crate can run it.
    pub fn to_model(&self) -> Result<GptConfig> {
        let bad = |m: String| Err(Error::ModelConfig(m));
        if self.model_type != "gpt2" {
            return bad(format!("model_type is {:?}, only \"gpt2\" is supported", self.model_type));
        }
        if self.vocab_size != VOCAB {
            return bad(format!(
                "vocab_size is {}, the byte-level vocabulary has {VOCAB}",
                self.vocab_size
            ));
        }
        if self.n_inner.is_some_and(|n| n != 4 * self.n_embd) {
            return bad("n_inner must be 4·n_embd".into());
        }
        if self.activation_function != "gelu_new" {
            return bad(format!(
                "activation_function {:?} is not supported",
                self.activation_function
            ));
        }
        if !self.tie_word_embeddings {
            return bad("untied LM heads are not supported".into());
        }
        let cfg = GptConfig {
            n_layer: self.n_layer,
            n_head: self.n_head,
            n_embd: self.n_embd,
            n_ctx: self.n_positions,
        };
        cfg.validate().map_err(|e| Error::ModelConfig(e.to_string()))?;
        Ok(cfg)
    }
}

/// Where the data section of an exported `model.safetensors` starts: a multiple of this many
/// bytes, the JSON header padded with spaces (which every safetensors reader skips).
/// Packages are added with leaves of this size (`iollm_artifacts::package_options`), so each
/// 4 KiB chunk of `params` lies whole in one leaf, at file offset `data start + 4096·c`, and a
/// contract can be shown it with a UnixFS path proof (VERIFICATION.md: binding `h_n` to the
/// output CID); 32 KiB keeps a leaf and its path under the 64 KiB call buffer.
pub const WEIGHTS_ALIGN: usize = 32 * 1024;

/// Serialises weights to safetensors bytes: the header names each tensor of `layout` (F32, its
/// shape and byte range) with one metadata key, `format: pt`, keys sorted (the same weights
/// give the same bytes, and CID, on every export), padded with spaces to [`WEIGHTS_ALIGN`];
/// the data section is `params` itself, in layout order, little-endian — not the
/// `safetensors` crate's order by name — so that byte `4·i` of it is parameter `i` of the
/// state `h_n` commits.
pub fn weights_to_safetensors(layout: &Layout, params: &[f32]) -> Result<Vec<u8>> {
    if params.len() != layout.total {
        return Err(Error::Safetensors(format!(
            "{} parameters for a layout of {}",
            params.len(),
            layout.total
        )));
    }
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({ "format": "pt" }));
    for e in &layout.entries {
        let (start, end) = (4 * e.offset, 4 * (e.offset + e.len()));
        let entry =
            serde_json::json!({ "dtype": "F32", "shape": e.shape, "data_offsets": [start, end] });
        header.insert(e.name.clone(), entry);
    }
    let mut json = serde_json::to_vec(&header).map_err(|e| Error::Safetensors(e.to_string()))?;
    json.resize((8 + json.len()).next_multiple_of(WEIGHTS_ALIGN) - 8, b' ');
    let mut out = Vec::with_capacity(8 + json.len() + 4 * params.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend(params.iter().flat_map(|v| v.to_le_bytes()));
    Ok(out)
}

/// Parses safetensors bytes against `layout`: every tensor present, F32, right shape, no extras.
pub fn weights_from_safetensors(layout: &Layout, bytes: &[u8]) -> Result<Vec<f32>> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Safetensors(e.to_string()))?;
    let known: BTreeMap<&str, ()> = layout.entries.iter().map(|e| (e.name.as_str(), ())).collect();
    for name in st.names() {
        // HF checkpoints may carry a (tied) lm_head copy or attention-mask buffers; anything
        // else is a mismatch.
        if !known.contains_key(name) && name != "lm_head.weight" && !name.ends_with(".attn.bias") {
            return Err(Error::UnexpectedTensor(name.to_string()));
        }
    }
    let mut params = vec![0.0f32; layout.total];
    for e in &layout.entries {
        let t = st.tensor(&e.name).map_err(|_| Error::MissingTensor(e.name.clone()))?;
        if t.dtype() != Dtype::F32 || t.shape() != e.shape.as_slice() {
            return Err(Error::ShapeMismatch {
                name: e.name.clone(),
                expected: e.shape.clone(),
                actual: t.shape().to_vec(),
                dtype: format!("{:?}", t.dtype()),
            });
        }
        for (dst, chunk) in
            params[e.offset..e.offset + e.len()].iter_mut().zip(t.data().chunks_exact(4))
        {
            *dst = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
    }
    Ok(params)
}

/// The bytes of `model.safetensors` and `config.json` for `params` of model `cfg`: the one
/// export of a model, the same bytes for the same weights (what a verifier compares an output
/// package with).
pub fn model_files(cfg: &GptConfig, params: &[f32]) -> Result<(Vec<u8>, Vec<u8>)> {
    let st = weights_to_safetensors(&Layout::new(cfg), params)?;
    let json = serde_json::to_vec_pretty(&HfConfig::from_model(cfg))
        .map_err(|e| Error::ModelConfig(e.to_string()))?;
    Ok((st, json))
}

/// What an output of a model of `cfg` holds whatever its weights: `model.safetensors`'s bytes
/// before its data section (`D` of them, a multiple of [`WEIGHTS_ALIGN`]) and `config.json`
/// ([`model_files`]). A training job commits both when it is posted (VERIFICATION.md).
pub fn weights_header_and_config(cfg: &GptConfig) -> Result<(Vec<u8>, Vec<u8>)> {
    let total = Layout::new(cfg).total;
    let (mut st, json) = model_files(cfg, &vec![0.0; total])?;
    st.truncate(st.len() - 4 * total);
    Ok((st, json))
}

/// Writes `config.json` and `model.safetensors` into `dir` (created if needed): [`model_files`].
pub fn save_model(dir: &Path, cfg: &GptConfig, params: &[f32]) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let (st, json) = model_files(cfg, params)?;
    let (wp, cp) = (dir.join(WEIGHTS_FILE), dir.join(CONFIG_FILE));
    atomic_write(&wp, &st)?;
    atomic_write(&cp, &json)?;
    Ok((wp, cp))
}

/// Reads a model directory written by [`save_model`] (or a compatible HF GPT-2 export).
pub fn load_model(dir: &Path) -> Result<(GptConfig, Vec<f32>)> {
    let cp = dir.join(CONFIG_FILE);
    let hf: HfConfig = serde_json::from_slice(&read(&cp)?)
        .map_err(|e| Error::ModelConfig(format!("{}: {e}", cp.display())))?;
    let cfg = hf.to_model()?;
    let params = weights_from_safetensors(&Layout::new(&cfg), &read(&dir.join(WEIGHTS_FILE))?)?;
    Ok((cfg, params))
}
