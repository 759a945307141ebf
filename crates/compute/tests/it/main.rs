//! Integration tests of `iollm-compute` (one binary, DESIGN.md/STYLE.md).

mod common;
mod gradcheck;

mod invariance;

mod learning;
