//! The `iollm` command line as a library: argument parsing ([`args`]); one module per area of
//! commands (`cmd/`: devnet, model, job, dispute, market, worker, train, content), each calling
//! the library functions behind it ([`model`], [`content`], [`market`], `iollm-devnet`,
//! `iollm-artifacts`, `iollm-compute`) and printing its result to stdout; and the output layer
//! ([`output`]): start, errors, and the renderers the commands share. The binary only calls
//! [`run`]; tests call the library functions directly.

pub mod args;
mod cmd;
pub mod content;
pub mod context;
pub mod market;
pub mod model;
mod output;
pub mod settings;

pub use output::run;
