//! `iollm-compute`: reproducible numerics, a small byte-level GPT, and a trainer whose every
//! checkpoint can be re-checked by anyone.
//!
//! **What it is.** The `repops-v4` numerics profile (documented in `REPOPS.md`): f32 ops whose
//! results are bit-identical on any x86-64 or other IEEE-754 CPU, for any thread count, with or
//! without SIMD — every reduction has one fixed order, transcendentals are our own polynomials
//! ([`repops`]), FMA is used only where written. On top: a GPT-2-shaped model over bytes
//! ([`model`]), AdamW ([`optim`]), a trainer that writes a checkpoint every K steps and commits
//! to them with a Merkle root ([`mod@train`]), segment replay for verifiers, safetensors I/O
//! ([`io`]) and batch-invariant inference ([`infer`]).
//!
//! **What it is not.** A general tensor library, a fast large-model trainer, or a tokenizer:
//! the vocabulary is the 256 byte values. It depends on no other iollm crate.
//!
//! ```no_run
//! use iollm_compute::{train, Runtime, TrainConfig};
//! # fn main() -> Result<(), iollm_compute::Error> {
//! let cfg = TrainConfig::from_file("crates/compute/examples/tiny.toml".as_ref())?;
//! let out = train(&cfg, "out".as_ref(), &Runtime::new(2), &mut |p| {
//!     tracing::info!(step = p.step, loss = p.loss, "Progress");
//!     iollm_compute::Flow::Continue(()) // `Break` stops the run
//! })?;
//! println!("trace root {}", out.trace_root_hex());
//! # Ok(()) }
//! ```

// Kernel and op signatures take shapes explicitly, BLAS-style; grouping them in structs would
// hide the one thing a reader of numeric code needs to see.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod data;
pub mod error;
pub mod game;
pub mod gguf;
pub mod infer;
pub mod io;
pub mod kernels;
pub mod llama;
pub mod merkle;
pub mod model;
pub mod ops;
pub mod optim;
pub mod quant;
pub mod repops;
pub mod train;

pub use error::{Error, Result};
pub use infer::{Model, Sampling};
pub use kernels::Simd;
pub use model::GptConfig;
pub use repops::PROFILE;
pub use train::{
    estimate_memory, go_on, read_trace, replay_segment, resolve_threads, resume, resume_latest,
    run_result, train, verify_segment, Backend, Flow, Progress, RunResult, Runtime, Segment, Trace,
    TrainConfig, TrainOutcome, TrainState, Trainer,
};
