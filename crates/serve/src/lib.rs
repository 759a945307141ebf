//! `iollm-serve`: a model behind an OpenAI-compatible HTTP API.
//!
//! A [`tokenizer::Tokenizer`] and a [`chat::ChatTemplate`] turn requests into tokens; the
//! model runs on `iollm-compute`'s reproducible numerics, so the same request gives the same
//! tokens alone or among others, on any thread count.

pub mod chat;
pub mod tokenizer;

/// What can go wrong serving a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model (or its tokenizer or template) cannot be loaded or run.
    #[error("{0}")]
    Model(String),
    /// A request is invalid (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
}
