//! Integration tests of `iollm-content` (one test binary, modules per area).

mod common;
mod daemon;
mod dataset;
mod hostile;
mod manifest;
mod oracle;
mod prove;
mod pull;
mod roundtrip;
mod vectors;
