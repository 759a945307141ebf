//! Integration tests of `iollm-compute` (one binary, DESIGN.md/STYLE.md).

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
