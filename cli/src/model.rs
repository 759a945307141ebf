//! `iollm model …`: register and read artifacts in the registry contract.

use crate::context::Context;
use crate::devnet::DevnetError;
use iollm_chain::registry::Registration;
use iollm_chain::Signer;
use iollm_types::registry::{Artifact, ArtifactId, Kind};

/// Why a model command failed before reaching the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// `--kind` is not model, dataset or path.
    #[error("unknown kind {0:?}: expected model, dataset or path")]
    UnknownKind(String),
    /// No artifact has this id.
    #[error("no artifact with id {0}")]
    NotFound(ArtifactId),
    /// Chain or deployment trouble.
    #[error(transparent)]
    Devnet(#[from] DevnetError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] iollm_chain::ChainError),
}

/// Parses a kind name.
pub fn parse_kind(name: &str) -> Result<Kind, ModelError> {
    Kind::from_name(&name.to_ascii_lowercase()).ok_or_else(|| ModelError::UnknownKind(name.into()))
}

/// Registers `cid` as a `kind` artifact owned by `signer`.
pub async fn register(
    ctx: &Context,
    signer: &Signer,
    kind: Kind,
    cid: &str,
) -> Result<Registration, ModelError> {
    Ok(ctx.registry()?.register(signer, kind, cid).await?)
}

/// Reads artifact `id`.
pub async fn show(ctx: &Context, id: ArtifactId) -> Result<Artifact, ModelError> {
    ctx.registry()?.get(id).await?.ok_or(ModelError::NotFound(id))
}
