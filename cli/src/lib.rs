//! The `iollm` command line as a library: argument parsing ([`args`]), the commands behind it
//! ([`devnet`], [`model`], [`content`], [`market`], training through `iollm-compute`), and the one
//! place that prints ([`output`]). The binary only calls
//! [`run`]; tests call the command functions directly.

pub mod args;
pub mod content;
pub mod context;
pub mod devnet;
pub mod market;
pub mod model;
mod output;
pub mod settings;

pub use output::run;
