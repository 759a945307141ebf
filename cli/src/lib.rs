//! The `iollm` command line as a library: argument parsing ([`args`]), the commands behind it
//! ([`model`], [`content`], [`market`], the devnet through `iollm-devnet`, training through
//! `iollm-compute`), and the one
//! place that prints ([`output`]). The binary only calls
//! [`run`]; tests call the command functions directly.

pub mod args;
pub mod content;
pub mod context;
pub mod market;
pub mod model;
mod output;
pub mod settings;

pub use output::run;
