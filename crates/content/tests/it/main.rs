//! Integration tests of `iollm-content` (one test binary, modules per area).

mod vectors;
