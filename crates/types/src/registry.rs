//! The registry contract's shared vocabulary: artifact kinds, records, errors, events, selectors.
//!
//! The selectors and event topics here are checked against what ink! generates by the registry
//! contract's own tests, so a renamed message fails there instead of in a user's transaction.

use crate::{AccountBytes, BlockNumber};
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Id of a registered artifact (model, dataset or path); ids start at 1 and never repeat.
pub type ArtifactId = u64;

/// What a registered artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Kind {
    /// A model package (weights + manifest).
    Model,
    /// A dataset.
    Dataset,
    /// A multi-model path manifest.
    Path,
}

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 3] = [Kind::Model, Kind::Dataset, Kind::Path];

    /// The lower-case name used by the CLI and the indexer.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Dataset => "dataset",
            Kind::Path => "path",
        }
    }

    /// The kind with this lower-case name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl From<Kind> for u8 {
    fn from(kind: Kind) -> u8 {
        kind as u8
    }
}

impl TryFrom<u8> for Kind {
    type Error = Error;

    fn try_from(code: u8) -> Result<Kind, Error> {
        Kind::ALL.get(usize::from(code)).copied().ok_or(Error::UnknownKind)
    }
}

/// How an artifact derives from a parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Relation {
    /// Fine-tuned from the parent.
    Finetune,
    /// An adapter (LoRA, …) on the parent.
    Adapter,
    /// Merged from parents.
    Merge,
    /// A quantization of the parent.
    Quantize,
    /// Distilled from the parent.
    Distill,
}

/// A parent by lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Parent {
    /// The parent artifact.
    pub id: ArtifactId,
    /// How this artifact derives from it.
    pub relation: Relation,
}

/// A registered artifact as the registry stores and returns it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Artifact {
    /// What it is.
    pub kind: Kind,
    /// Who registered it (and may update it).
    pub owner: AccountBytes,
    /// CID text of its manifest on IPFS.
    pub manifest_cid: Vec<u8>,
    /// Block in which it was registered.
    pub registered_at: BlockNumber,
    /// Parents by lineage (at most [`crate::splitter::MAX_PARENTS`]); revenue flows up to them.
    pub parents: Vec<Parent>,
    /// Version number: 1 for a new artifact, previous + 1 for `new_version`.
    pub version: u32,
    /// The artifact this is a new version of.
    pub previous: Option<ArtifactId>,
    /// Marked obsolete by its owner (still readable, still paid).
    pub deprecated: bool,
    /// The verified market job that produced it (`register_from_job`).
    pub job: Option<crate::market::JobId>,
    /// The profit-split rule declared at registration; the splitter copies it on the first
    /// revenue payment (its owner changes it there with `set_rule`).
    pub split_rule: crate::split::SplitRule,
}

/// An admin change of the registry, announced and applied after the market's timelock.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Change {
    /// A new market, asked about provenance.
    Market(AccountBytes),
    /// New contract code (storage kept).
    Code([u8; 32]),
}

/// Errors the registry contract returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The manifest CID is empty.
    EmptyCid,
    /// The manifest CID is longer than [`crate::cid::MAX_CID_LEN`] bytes.
    CidTooLong,
    /// The manifest CID has characters no multibase CID text has.
    InvalidCid,
    /// The kind code is not a known [`Kind`].
    UnknownKind,
    /// The id counter would overflow.
    IdOverflow,
    /// No artifact with this id.
    UnknownArtifact,
    /// The caller does not own the artifact.
    NotOwner,
    /// The caller is not the admin.
    NotAdmin,
    /// More parents than [`crate::splitter::MAX_PARENTS`].
    TooManyParents,
    /// A parent id that is not registered.
    UnknownParent,
    /// The artifact is deprecated.
    Deprecated,
    /// No market contract is configured.
    NoMarket,
    /// The market says the job is not finalized with a verified result.
    JobNotVerified,
    /// The job's verified output CID differs from the manifest CID registered.
    CidMismatch,
    /// Only the job's poster may register its output.
    NotPoster,
    /// This job's output is already registered.
    JobAlreadyRegistered,
    /// A call to another contract failed.
    CallFailed,
    /// The new code hash was refused.
    UpgradeFailed,
    /// The split rule's basis points do not sum to 10 000.
    BadSplitRule,
    /// A job's output registered with another lineage than a fine-tune of the job's artifact
    /// alone.
    NotDerived,
    /// The market is already wired; changing it goes through the timelock.
    MarketAlreadySet,
    /// No admin change has been announced.
    NothingProposed,
    /// The announced change's timelock has not passed.
    Timelocked,
    /// Only the proposed admin may accept the hand-over.
    NotProposedAdmin,
    /// A training job's output can only be registered as a model.
    NotAModel,
    /// The announced change (or rule) went stale: announce it again.
    Stale,
    /// A record too large for contract storage (its encoding over 16 KiB).
    TooLarge,
    /// The job started from a base model whose content was first registered as another
    /// artifact than its own (or never): its output is no fine-tune of its artifact.
    NotItsBase,
}

impl From<crate::cid::CidShapeError> for Error {
    fn from(e: crate::cid::CidShapeError) -> Error {
        use crate::cid::CidShapeError as E;
        match e {
            E::Empty => Error::EmptyCid,
            E::TooLong => Error::CidTooLong,
            E::InvalidCharacter | E::BadVersion | E::UnknownCodec | E::BadMultihash => {
                Error::InvalidCid
            }
        }
    }
}

#[cfg(feature = "ink")]
impl From<crate::storage::TooLarge> for Error {
    fn from(_: crate::storage::TooLarge) -> Error {
        Error::TooLarge
    }
}

impl From<crate::admin::AdminError> for Error {
    fn from(e: crate::admin::AdminError) -> Error {
        use crate::admin::AdminError as E;
        match e {
            E::NotAdmin => Error::NotAdmin,
            E::NotProposedAdmin => Error::NotProposedAdmin,
            E::NothingProposed => Error::NothingProposed,
            E::Timelocked => Error::Timelocked,
            E::Overflow => Error::IdOverflow,
            E::Stale => Error::Stale,
        }
    }
}

impl Error {
    /// A one-line, user-facing explanation.
    pub fn message(self) -> &'static str {
        match self {
            Error::EmptyCid => "the manifest CID is empty",
            Error::CidTooLong => "the manifest CID is longer than 128 bytes",
            Error::InvalidCid => {
                "the manifest CID is not a CIDv0 (Qm…) or base32 CIDv1 (b…) of a known codec"
            }
            Error::UnknownKind => "unknown artifact kind (expected model, dataset or path)",
            Error::IdOverflow => "the registry has run out of ids",
            Error::UnknownArtifact => "no artifact with this id",
            Error::NotOwner => "you do not own this artifact",
            Error::NotAdmin => "only the registry's admin may do this",
            Error::TooManyParents => "an artifact can have at most 4 parents",
            Error::UnknownParent => "a parent id is not registered",
            Error::Deprecated => "the artifact is deprecated",
            Error::NoMarket => "the registry has no market configured",
            Error::JobNotVerified => "the job is not finalized with a verified result",
            Error::CidMismatch => "the manifest CID differs from the job's verified output CID",
            Error::NotPoster => "only the job's poster may register its output",
            Error::JobAlreadyRegistered => "this job's output is already registered",
            Error::CallFailed => "a call to another contract failed",
            Error::UpgradeFailed => "the new code hash was refused",
            Error::BadSplitRule => "split basis points must sum to 10000",
            Error::NotDerived => {
                "a job's output is registered as a fine-tune of the job's artifact alone: pass \
                 exactly --parent <that artifact's id>"
            }
            Error::MarketAlreadySet => "the market is already set; changes wait the timelock",
            Error::NothingProposed => "no admin change has been announced",
            Error::Timelocked => "the announced change's timelock has not passed yet",
            Error::NotProposedAdmin => "only the proposed admin may accept",
            Error::NotAModel => "a training job's output can only be registered as a model",
            Error::Stale => {
                "the announced change went stale (not applied within a week of its timelock): announce it again"
            }
            Error::TooLarge => "a record too large for contract storage (over 16 KiB)",
            Error::NotItsBase => {
                "the job started from a base model first registered as another artifact: its \
                 output is no fine-tune of the job's artifact (register it without a parent)"
            }
        }
    }
}

/// Event data the registry emits (SCALE layout of the contract's `#[ink::event]` structs); the
/// admin events are in [`crate::admin::events`].
pub mod events {
    use super::*;

    /// `Registered`: a new artifact got an id.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Registered {
        /// The new id.
        pub id: ArtifactId,
        /// Its kind.
        pub kind: Kind,
        /// Its owner.
        pub owner: AccountBytes,
        /// CID text of its manifest.
        pub manifest_cid: Vec<u8>,
    }

    /// `VersionAdded`: `id` is a new version of `previous`.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct VersionAdded {
        /// The new id.
        pub id: ArtifactId,
        /// The version it replaces.
        pub previous: ArtifactId,
        /// Its version number.
        pub version: u32,
    }

    /// `Transferred`: ownership changed.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Transferred {
        /// The artifact.
        pub id: ArtifactId,
        /// The old owner.
        pub from: AccountBytes,
        /// The new owner.
        pub to: AccountBytes,
    }

    /// `DeprecatedSet`: the owner deprecated an artifact.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct DeprecatedSet {
        /// The artifact.
        pub id: ArtifactId,
    }

    /// `ProvenanceRecorded`: the artifact is the verified output of a market job.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ProvenanceRecorded {
        /// The artifact.
        pub id: ArtifactId,
        /// The job.
        pub job: crate::market::JobId,
    }

    /// ink!'s signature topic of `Registered` (blake2b-256 of its signature string).
    pub const REGISTERED_TOPIC: [u8; 32] = [
        0xdd, 0xef, 0xfb, 0x3d, 0x96, 0x91, 0x55, 0x6f, 0x9c, 0xa7, 0x43, 0xc5, 0xf5, 0x00, 0x2a,
        0xc3, 0xd5, 0x0f, 0xb3, 0x25, 0xb3, 0x09, 0x10, 0x17, 0xda, 0xf8, 0x54, 0xe9, 0xd8, 0x7d,
        0xa4, 0x8e,
    ];
    /// Signature topic of `VersionAdded`.
    pub const VERSION_ADDED_TOPIC: [u8; 32] = [
        0xe7, 0x1d, 0xe7, 0xfe, 0xf1, 0xee, 0x7e, 0xce, 0x8a, 0x33, 0x4a, 0x97, 0x70, 0xfa, 0x04,
        0x08, 0x23, 0x54, 0x02, 0xe9, 0xf8, 0x3c, 0xd7, 0x85, 0xe0, 0x2e, 0x8b, 0xdf, 0x63, 0x75,
        0x97, 0x4f,
    ];
    /// Signature topic of `Transferred`.
    pub const TRANSFERRED_TOPIC: [u8; 32] = [
        0x76, 0x0a, 0x3c, 0x6b, 0x54, 0x56, 0x12, 0x52, 0x53, 0x78, 0x9c, 0xdd, 0xc4, 0x51, 0xaf,
        0x61, 0xf2, 0x94, 0xb0, 0xad, 0x87, 0xb7, 0x98, 0x22, 0x7c, 0x54, 0xda, 0xfe, 0x26, 0x36,
        0xd8, 0x13,
    ];
    /// Signature topic of `DeprecatedSet`.
    pub const DEPRECATED_SET_TOPIC: [u8; 32] = [
        0xf9, 0x08, 0x07, 0x9a, 0x2a, 0xb0, 0xfa, 0x1d, 0x56, 0xf7, 0xf2, 0xc1, 0x8a, 0xa8, 0xda,
        0x2d, 0xf9, 0xda, 0xf8, 0xe2, 0x6e, 0x96, 0xb9, 0x92, 0x0a, 0x99, 0x6e, 0x39, 0x6e, 0xdf,
        0xaa, 0x86,
    ];
    /// Signature topic of `ProvenanceRecorded`.
    pub const PROVENANCE_RECORDED_TOPIC: [u8; 32] = [
        0xde, 0x43, 0xa1, 0xa9, 0xc8, 0x00, 0x39, 0x24, 0x95, 0xa9, 0x78, 0x64, 0x4d, 0x48, 0x56,
        0xdb, 0xd2, 0x53, 0x1e, 0x34, 0x0d, 0xf9, 0xe7, 0x07, 0x87, 0xc8, 0xd2, 0x4c, 0xfb, 0x97,
        0x02, 0x63,
    ];

    crate::contract_events! {
        "the registry emits about artifacts";
        Registered => REGISTERED_TOPIC,
        VersionAdded => VERSION_ADDED_TOPIC,
        Transferred => TRANSFERRED_TOPIC,
        DeprecatedSet => DEPRECATED_SET_TOPIC,
        ProvenanceRecorded => PROVENANCE_RECORDED_TOPIC,
    }
}

/// Message selectors (ink!'s default: the first 4 bytes of blake2b-256 of the message name).
pub mod selectors {
    pub use crate::admin::selectors::*;
    /// `new()` constructor.
    pub const NEW: [u8; 4] = [0x9b, 0xae, 0x9d, 0x5e];
    /// `register(kind: u8, manifest_cid: Vec<u8>, parents: Vec<Parent>, split_rule: SplitRule)
    /// -> Result<ArtifactId, Error>`.
    pub const REGISTER: [u8; 4] = [0x22, 0x9b, 0x55, 0x3f];
    /// `get(id: ArtifactId) -> Option<Artifact>`.
    pub const GET: [u8; 4] = [0x2f, 0x86, 0x5b, 0xd9];
    /// `count() -> u64`: the number of artifacts registered so far.
    pub const COUNT: [u8; 4] = [0xdf, 0x20, 0x96, 0x83];
    /// `new_version`.
    pub const NEW_VERSION: [u8; 4] = [0x88, 0xe1, 0x56, 0xa3];
    /// `transfer`.
    pub const TRANSFER: [u8; 4] = [0x84, 0xa1, 0x5d, 0xa1];
    /// `deprecate`.
    pub const DEPRECATE: [u8; 4] = [0x67, 0xbd, 0xee, 0x28];
    /// `register_from_job`.
    pub const REGISTER_FROM_JOB: [u8; 4] = [0xf7, 0xfa, 0x1f, 0x02];
    /// `set_market`.
    pub const SET_MARKET: [u8; 4] = [0xb5, 0xf9, 0xf0, 0x7d];
    /// `market`.
    pub const MARKET: [u8; 4] = [0xbe, 0xad, 0x69, 0x45];
    /// `artifact_of_job`.
    pub const ARTIFACT_OF_JOB: [u8; 4] = [0x39, 0xf9, 0x35, 0x91];
    /// `first_with(cid: Vec<u8>) -> Option<ArtifactId>`.
    pub const FIRST_WITH: [u8; 4] = [0xfa, 0x41, 0x7b, 0x1d];
}

/// Call data (selector ++ SCALE arguments) of the registry's messages, for off-chain callers.
pub mod calls {
    use super::*;
    pub use crate::admin::calls::*;

    fn with<A: Encode>(selector: [u8; 4], args: A) -> Vec<u8> {
        let mut data = selector.to_vec();
        args.encode_to(&mut data);
        data
    }

    /// `register(kind, manifest_cid, parents, split_rule)`.
    pub fn register(
        kind: Kind,
        manifest_cid: &[u8],
        parents: &[Parent],
        split_rule: crate::split::SplitRule,
    ) -> Vec<u8> {
        with(selectors::REGISTER, (u8::from(kind), manifest_cid, parents, split_rule))
    }
    /// `new_version(id, manifest_cid)`.
    pub fn new_version(id: ArtifactId, manifest_cid: &[u8]) -> Vec<u8> {
        with(selectors::NEW_VERSION, (id, manifest_cid))
    }
    /// `transfer(id, to)`.
    pub fn transfer(id: ArtifactId, to: AccountBytes) -> Vec<u8> {
        with(selectors::TRANSFER, (id, to))
    }
    /// `deprecate(id)`.
    pub fn deprecate(id: ArtifactId) -> Vec<u8> {
        with(selectors::DEPRECATE, id)
    }
    /// `register_from_job(job, kind, manifest_cid, parents, split_rule)`.
    pub fn register_from_job(
        job: crate::market::JobId,
        kind: Kind,
        manifest_cid: &[u8],
        parents: &[Parent],
        split_rule: crate::split::SplitRule,
    ) -> Vec<u8> {
        with(selectors::REGISTER_FROM_JOB, (job, u8::from(kind), manifest_cid, parents, split_rule))
    }
    /// `set_market(market)`.
    pub fn set_market(market: AccountBytes) -> Vec<u8> {
        with(selectors::SET_MARKET, market)
    }
    /// `get(id) -> Option<Artifact>`.
    pub fn get(id: ArtifactId) -> Vec<u8> {
        with(selectors::GET, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_codes_round_trip_and_unknown_codes_fail() {
        for kind in Kind::ALL {
            assert_eq!(Kind::try_from(u8::from(kind)), Ok(kind));
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.encode(), vec![u8::from(kind)]);
        }
        assert_eq!(Kind::try_from(3), Err(Error::UnknownKind));
        assert_eq!(Kind::from_name("weights"), None);
    }
}
