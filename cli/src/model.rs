//! `iollm model …` arguments parsed (kind, parents, split, account) and an artifact read; the
//! commands call the registry's client directly.

use iollm_chain::Connection;
use iollm_devnet::DevnetError;
use iollm_types::registry::{Artifact, ArtifactId, Kind, Parent, Relation};
use iollm_types::split::SplitRule;

/// Why a model command failed before reaching the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// `--kind` is not model, dataset or path.
    #[error("unknown kind {0:?}: expected model, dataset or path")]
    UnknownKind(String),
    /// A `--parent` is not `ID` or `ID:relation`.
    #[error("bad parent {0:?}: expected ID or ID:relation (finetune, adapter, merge, quantize, distill)")]
    BadParent(String),
    /// `--split` is not four basis-point numbers summing to 10000.
    #[error("bad split {0:?}: expected designer,compute,upstream,treasury basis points summing to 10000")]
    BadSplit(String),
    /// No artifact has this id.
    #[error("no artifact with id {0}")]
    NotFound(ArtifactId),
    /// `--to` is not an SS58 account.
    #[error("bad account {0:?}: expected an SS58 address")]
    BadAccount(String),
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

/// Parses `ID` or `ID:relation` (default relation: finetune).
pub fn parse_parent(text: &str) -> Result<Parent, ModelError> {
    let bad = || ModelError::BadParent(text.into());
    let (id, relation) = text.split_once(':').unwrap_or((text, "finetune"));
    let relation = match relation.to_ascii_lowercase().as_str() {
        "finetune" => Relation::Finetune,
        "adapter" => Relation::Adapter,
        "merge" => Relation::Merge,
        "quantize" => Relation::Quantize,
        "distill" => Relation::Distill,
        _ => return Err(bad()),
    };
    Ok(Parent { id: id.parse().map_err(|_| bad())?, relation })
}

/// Parses `designer,compute,upstream,treasury` basis points.
pub fn parse_split(text: &str) -> Result<SplitRule, ModelError> {
    let bad = || ModelError::BadSplit(text.into());
    let parts: Vec<u16> =
        text.split(',').map(|p| p.trim().parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let [designer_bps, compute_bps, upstream_bps, treasury_bps] = parts[..] else {
        return Err(bad());
    };
    let rule = SplitRule { designer_bps, compute_bps, upstream_bps, treasury_bps };
    rule.validate().map_err(|_| bad())?;

    Ok(rule)
}

/// Parses an SS58 account address.
pub fn parse_account(ss58: &str) -> Result<[u8; 32], ModelError> {
    ss58.parse::<iollm_chain::AccountId>()
        .map(|a| a.0)
        .map_err(|_| ModelError::BadAccount(ss58.into()))
}

/// Reads artifact `id`.
pub async fn show(ctx: &Connection, id: ArtifactId) -> Result<Artifact, ModelError> {
    ctx.registry()?.get(id).await?.ok_or(ModelError::NotFound(id))
}
