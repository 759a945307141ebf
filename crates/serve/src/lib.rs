//! `iollm-serve`: a model behind an OpenAI-compatible HTTP API.
//!
//! [`load`] opens a model — a Llama-family GGUF file (or a package directory holding one), or
//! the toy byte-level GPT's package (`config.json` + `model.safetensors`) — with its
//! [`tokenizer::Tokenizer`] and [`chat::ChatTemplate`]; [`serve`] answers HTTP on a listener
//! ([`api`]) while one [`engine`] thread decodes every request in one batch per step. The model
//! runs on `iollm-compute`'s reproducible numerics, so a request gives the same tokens alone
//! or among others, on any thread count. The CLI (`iollm model serve`) and tests start it
//! in-process.

pub mod api;
pub mod chat;
pub mod engine;
pub mod metrics;
pub mod tokenizer;

use api::Served;
use engine::{Engine, Runner};
use iollm_compute::gguf::Gguf;
use iollm_compute::llama::Llama;
use iollm_compute::Runtime;
use metrics::Metrics;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What can go wrong serving a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model (or its tokenizer or template) cannot be loaded or run.
    #[error("{0}")]
    Model(String),
    /// A request is invalid (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The listener failed.
    #[error("serving HTTP: {0}")]
    Http(#[from] std::io::Error),
}

/// How to load and run a model.
#[derive(Clone, Debug)]
pub struct Options {
    /// Name of the model in the API; the file or directory name when `None`.
    pub name: Option<String>,
    /// Compute threads.
    pub threads: usize,
    /// Where the model's matmuls run (a prefill's, on a GPU). Replies have the same bits.
    pub backend: iollm_compute::Backend,
    /// Most requests decoded together.
    pub max_batch: usize,
    /// Most requests waiting for a place in the batch; more are refused (HTTP 503).
    pub max_queue: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            name: None,
            threads: 1,
            backend: iollm_compute::Backend::Cpu,
            max_batch: 8,
            max_queue: 64,
        }
    }
}

/// What a GGUF model is, as a package manifest describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFacts {
    /// `general.name`, or the file's name.
    pub name: String,
    /// `general.architecture` (`llama`).
    pub architecture: String,
    /// Weights counted over every tensor.
    pub parameters: u64,
    /// `general.license`, if the file names one.
    pub license: Option<String>,
    /// Memory this runtime needs to serve it (weights expanded to `f32` and kept quantized,
    /// plus the file), bytes.
    pub memory_bytes: u64,
    /// Whether it carries a chat template (serves the chat interface).
    pub chat: bool,
}

/// Reads a GGUF file and checks that this runtime can serve it: its shape, its tokenizer and
/// its chat template are all built (the weights are not loaded).
pub fn inspect(file: &Path) -> Result<ModelFacts, Error> {
    let model_err = |e: iollm_compute::Error| Error::Model(format!("{}: {e}", file.display()));
    let g = Gguf::read(file).map_err(model_err)?;
    iollm_compute::llama::LlamaConfig::from_gguf(&g).map_err(model_err)?;
    tokenizer::Tokenizer::from_gguf(&g)?;
    let chat = match g.str("tokenizer.chat_template") {
        Ok(source) => {
            chat::ChatTemplate::new(source, "", "")?;
            true
        }
        Err(_) => false,
    };
    // A hostile file's tensors may claim more elements than u64 counts: saturate.
    let parameters = g.tensors.iter().fold(0u64, |sum, t| sum.saturating_add(t.len()));
    let size = std::fs::metadata(file).map_or(0, |m| m.len());
    Ok(ModelFacts {
        name: g.str("general.name").map_or_else(
            |_| file.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            str::to_owned,
        ),
        architecture: g.str("general.architecture").map_err(model_err)?.to_owned(),
        parameters,
        license: g.str("general.license").ok().map(str::to_owned),
        memory_bytes: parameters.saturating_mul(4).saturating_add(size.saturating_mul(2)),
        chat,
    })
}

/// Finds the GGUF file of `path`: the file itself, or the one `.gguf` file of a directory.
fn gguf_in(path: &Path) -> Result<Option<PathBuf>, Error> {
    if path.is_file() {
        return Ok(Some(path.to_owned()));
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Error::Model(format!("cannot read {}: {e}", path.display())))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(Error::Model(format!("{} holds {n} .gguf files; name one", path.display()))),
    }
}

/// Loads the model at `path` and starts its engine.
pub fn load(path: &Path, options: &Options) -> Result<Served, Error> {
    let model_err = |e: iollm_compute::Error| Error::Model(format!("{}: {e}", path.display()));
    let rt = Runtime::on(options.threads.max(1), options.backend);
    let metrics = Arc::new(Metrics::default());
    let (runner, tokenizer, chat) = match gguf_in(path)? {
        Some(file) => {
            let g = Gguf::read(&file).map_err(model_err)?;
            let tokenizer = tokenizer::Tokenizer::from_gguf(&g)?;
            let chat = match g.str("tokenizer.chat_template") {
                Ok(source) => {
                    let token = |key: &str| -> String {
                        g.usize(key)
                            .ok()
                            .and_then(|id| {
                                g.strings("tokenizer.ggml.tokens")
                                    .ok()?
                                    .get(id)
                                    .map(|t| t.to_string())
                            })
                            .unwrap_or_default()
                    };
                    let (bos, eos) = (
                        token("tokenizer.ggml.bos_token_id"),
                        token("tokenizer.ggml.eos_token_id"),
                    );
                    Some(chat::ChatTemplate::new(source, &bos, &eos)?)
                }
                Err(_) => None,
            };
            (Runner::Llama(Llama::from_gguf(&g, &rt).map_err(model_err)?), tokenizer, chat)
        }
        None => {
            let model = iollm_compute::Model::load(path, &rt).map_err(model_err)?;
            (Runner::Gpt(model), tokenizer::Tokenizer::Bytes, None)
        }
    };
    let name = options.name.clone().unwrap_or_else(|| {
        path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
    });
    if tokenizer.len() > runner.vocab() {
        return Err(Error::Model(format!(
            "{}: the tokenizer has {} tokens, the model's vocabulary {}",
            path.display(),
            tokenizer.len(),
            runner.vocab()
        )));
    }
    let engine =
        Engine::start(runner, tokenizer, options.max_batch, options.max_queue, metrics.clone());
    Ok(Served { name, engine, chat, metrics, listen: Default::default() })
}

/// Answers HTTP on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    served: Served,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    if let Ok(addr) = listener.local_addr() {
        let _ = served.listen.set(addr.ip());
    }
    axum::serve(listener, api::router(Arc::new(served))).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
