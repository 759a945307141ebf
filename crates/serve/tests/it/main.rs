//! Integration tests of `iollm-serve` (one test binary for the crate).

mod api;
mod common;
mod openai;
mod text;
mod toy;
