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
}

impl From<crate::cid::CidShapeError> for Error {
    fn from(e: crate::cid::CidShapeError) -> Error {
        use crate::cid::CidShapeError as E;
        match e {
            E::Empty => Error::EmptyCid,
            E::TooLong => Error::CidTooLong,
            E::InvalidCharacter => Error::InvalidCid,
        }
    }
}

impl Error {
    /// A one-line, user-facing explanation.
    pub fn message(self) -> &'static str {
        match self {
            Error::EmptyCid => "the manifest CID is empty",
            Error::CidTooLong => "the manifest CID is longer than 128 bytes",
            Error::InvalidCid => "the manifest CID contains characters no CID has",
            Error::UnknownKind => "unknown artifact kind (expected model, dataset or path)",
            Error::IdOverflow => "the registry has run out of ids",
        }
    }
}

/// Event data the registry emits (SCALE layout of the contract's `#[ink::event]` structs).
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

    /// ink!'s signature topic of `Registered` (blake2b-256 of its signature string).
    pub const REGISTERED_TOPIC: [u8; 32] = [
        0xdd, 0xef, 0xfb, 0x3d, 0x96, 0x91, 0x55, 0x6f, 0x9c, 0xa7, 0x43, 0xc5, 0xf5, 0x00, 0x2a,
        0xc3, 0xd5, 0x0f, 0xb3, 0x25, 0xb3, 0x09, 0x10, 0x17, 0xda, 0xf8, 0x54, 0xe9, 0xd8, 0x7d,
        0xa4, 0x8e,
    ];
}

/// Message selectors (ink!'s default: the first 4 bytes of blake2b-256 of the message name).
pub mod selectors {
    /// `new()` constructor.
    pub const NEW: [u8; 4] = [0x9b, 0xae, 0x9d, 0x5e];
    /// `register(kind: u8, manifest_cid: Vec<u8>) -> Result<ArtifactId, Error>`.
    pub const REGISTER: [u8; 4] = [0x22, 0x9b, 0x55, 0x3f];
    /// `get(id: ArtifactId) -> Option<Artifact>`.
    pub const GET: [u8; 4] = [0x2f, 0x86, 0x5b, 0xd9];
    /// `count() -> u64`: the number of artifacts registered so far.
    pub const COUNT: [u8; 4] = [0xdf, 0x20, 0x96, 0x83];
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
