//! Integration tests of `iollm-compute` (one test binary for the crate).

mod commitment;
mod common;
mod cuda;
mod device;
mod gradcheck;
mod hostile;
mod infer;
mod invariance;
mod io;
mod learning;
mod llama;
mod program;
