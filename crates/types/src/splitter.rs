//! The splitter contract's shared vocabulary: entries, errors, events, selectors.
//!
//! The splitter receives revenue for an artifact (`pay_revenue`, payable) and divides it by the
//! artifact's [`SplitRule`](crate::split::SplitRule): the designer's and treasury's parts are
//! credited to their balances, the compute part is shared among compute share holders by the
//! accumulator of [`crate::shares`] (O(1) per payment), and the upstream part is queued, in equal
//! parts, in the parents' inboxes, distributed with their next payment (so no payment walks the
//! lineage). Everyone is paid by pulling (`withdraw`). Selectors and topics are checked against
//! ink!'s by the contract's tests.

use crate::registry::ArtifactId;
use crate::split::SplitRule;
use crate::{AccountBytes, Balance, BlockNumber};
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// How many parents an artifact can have (bounded so a payment touches at most this many).
pub const MAX_PARENTS: usize = 4;

/// Fewest share units one credit may add. With every pool at least this large, the
/// accumulator of [`crate::shares`] overflows only after more than 3 × 10^32 planck of revenue
/// per pool, so `pay_revenue` cannot be made impossible by a tiny pool.
pub const MIN_CREDIT_UNITS: Balance = 1_000_000;

/// Most share units one credit may add (10^24 planck of forgone value; larger credits are paid
/// in money).
pub const MAX_CREDIT_UNITS: Balance = 1_000_000_000_000_000_000_000_000;

/// Most share units a pool may hold (so no credit, however many, can saturate it). A credit is
/// paid as revenue first, and the accumulator keeps claims scaled by
/// [`crate::shares::SCALE`] (10^12) in 128 bits, which bounds what one holder can be owed over
/// a pool's life to about 3.4 × 10^26 planck; pools are kept well inside it.
pub const MAX_POOL_UNITS: Balance = 100_000_000_000_000_000_000_000_000;

/// An admin change of the splitter, announced and applied after the market's timelock.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Change {
    /// New registry, market and treasury addresses.
    Addresses {
        /// The registry asked for owners and parents.
        registry: AccountBytes,
        /// The only contract allowed to credit share units.
        market: AccountBytes,
        /// Where the treasury part goes.
        treasury: AccountBytes,
    },
    /// New contract code (storage kept).
    Code([u8; 32]),
}

/// What the splitter keeps per artifact. The owner is not kept: the designer part goes to
/// whoever owns the artifact in the registry when the revenue is paid.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Entry {
    /// The split rule in force.
    pub rule: SplitRule,
    /// Parents by lineage (at most [`MAX_PARENTS`]); receive the upstream part in equal shares.
    pub parents: Vec<ArtifactId>,
    /// A rule that lowers `upstream_bps`, announced, and the block from which `apply_rule`
    /// puts it in force.
    pub pending: Option<(SplitRule, BlockNumber)>,
}

/// Errors the splitter returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The caller is not the admin.
    NotAdmin,
    /// Only the market contract may credit share units.
    NotMarket,
    /// The caller does not own the artifact in the registry.
    NotOwner,
    /// The registry has no such artifact.
    UnknownArtifact,
    /// The artifact has no split rule yet: its owner must set one.
    NoRule,
    /// The rule's parts do not sum to 10 000 basis points.
    BadRule,
    /// More parents than [`MAX_PARENTS`].
    TooManyParents,
    /// Nothing to withdraw.
    NothingToWithdraw,
    /// The native transfer failed.
    TransferFailed,
    /// A call to another contract failed.
    CallFailed,
    /// An amount overflowed.
    Overflow,
    /// Zero units credited.
    ZeroUnits,
    /// The new code hash was refused.
    UpgradeFailed,
    /// Share units exist in this artifact's pool: its compute share can no longer fall.
    ComputeShareLocked,
    /// A credit below [`MIN_CREDIT_UNITS`] or above [`MAX_CREDIT_UNITS`], or a pool that would
    /// exceed [`MAX_POOL_UNITS`].
    UnitsOutOfBounds,
    /// Nothing announced (no admin change, or no pending rule).
    NothingProposed,
    /// The announced change's timelock has not passed.
    Timelocked,
    /// Only the proposed admin may accept the hand-over.
    NotProposedAdmin,
    /// A credit must come with its value: one planck per unit.
    UnitsNotPaid,
    /// The announced change (or rule) went stale: announce it again.
    Stale,
    /// A record too large for contract storage (its encoding over 16 KiB).
    TooLarge,
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
            E::Overflow => Error::Overflow,
            E::Stale => Error::Stale,
        }
    }
}

impl Error {
    /// A one-line, user-facing explanation.
    pub fn message(self) -> &'static str {
        match self {
            Error::NotAdmin => "only the splitter's admin may do this",
            Error::NotMarket => "only the market contract may credit share units",
            Error::NotOwner => "you do not own this artifact in the registry",
            Error::UnknownArtifact => "no artifact with this id in the registry",
            Error::NoRule => {
                "the artifact has no valid split rule: its owner must run `iollm split set`"
            }
            Error::BadRule => "split basis points must sum to 10000",
            Error::TooManyParents => "the artifact has more parents than the splitter supports (4)",
            Error::NothingToWithdraw => "nothing to withdraw",
            Error::TransferFailed => "the payout transfer failed",
            Error::CallFailed => "a call to another contract failed",
            Error::Overflow => "an amount overflowed",
            Error::ZeroUnits => "cannot credit zero share units",
            Error::UpgradeFailed => "the new code hash was refused",
            Error::ComputeShareLocked => {
                "compute share units exist for this artifact: its compute_bps can only rise"
            }
            Error::UnitsOutOfBounds => "share units out of bounds for one credit or one pool",
            Error::NothingProposed => "nothing has been announced",
            Error::Timelocked => "the announced change's timelock has not passed yet",
            Error::NotProposedAdmin => "only the proposed admin may accept",
            Error::UnitsNotPaid => "share units must be paid for: one planck per unit",
            Error::Stale => {
                "the announced change went stale (not applied within a week of its timelock): announce it again"
            }
            Error::TooLarge => "a record too large for contract storage (over 16 KiB)",
        }
    }
}

/// Event data the splitter emits (SCALE layout of the contract's `#[ink::event]` structs); the
/// admin events are in [`crate::admin::events`].
pub mod events {
    use super::*;

    /// `RuleSet`: an artifact's split rule was set (or refreshed from the registry).
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct RuleSet {
        /// The artifact.
        pub artifact: ArtifactId,
        /// Its owner.
        pub owner: AccountBytes,
        /// The rule.
        pub rule: SplitRule,
    }

    /// `RevenuePaid`: revenue was split.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct RevenuePaid {
        /// The artifact.
        pub artifact: ArtifactId,
        /// Who paid.
        pub payer: AccountBytes,
        /// The amount split (the payment plus the artifact's upstream inbox).
        pub amount: Balance,
        /// To the owner.
        pub designer: Balance,
        /// To the compute share holders.
        pub compute: Balance,
        /// To the parents' inboxes.
        pub upstream: Balance,
        /// To the treasury.
        pub treasury: Balance,
    }

    /// `UnitsCredited`: the market credited compute share units.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct UnitsCredited {
        /// The artifact.
        pub artifact: ArtifactId,
        /// The holder.
        pub account: AccountBytes,
        /// Units added.
        pub units: Balance,
    }

    /// `Withdrawn`: an account pulled its balance.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Withdrawn {
        /// Who.
        pub account: AccountBytes,
        /// How much.
        pub amount: Balance,
    }

    /// `RuleProposed`: a rule lowering the upstream share was announced.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct RuleProposed {
        /// The artifact.
        pub artifact: ArtifactId,
        /// The rule.
        pub rule: SplitRule,
        /// First block at which `apply_rule` puts it in force.
        pub eta: BlockNumber,
    }

    /// `Authorised`: an owner let (or stopped letting) an account post jobs that credit share
    /// units of its artifact.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Authorised {
        /// The artifact.
        pub artifact: ArtifactId,
        /// Its owner (an authorisation ends with a transfer).
        pub owner: AccountBytes,
        /// The authorised poster.
        pub delegate: AccountBytes,
        /// Whether it may.
        pub allowed: bool,
    }

    /// Signature topic of `RuleSet`.
    pub const RULE_SET_TOPIC: [u8; 32] = [
        0x60, 0x0d, 0x66, 0x94, 0x23, 0xbc, 0x2c, 0x9e, 0x4f, 0xdf, 0x86, 0xe2, 0xeb, 0x97, 0x61,
        0x79, 0xd2, 0x06, 0xe5, 0xd5, 0x92, 0x62, 0x8d, 0x6a, 0x4b, 0x33, 0x62, 0xf0, 0x71, 0xa3,
        0xa6, 0x99,
    ];
    /// Signature topic of `RevenuePaid`.
    pub const REVENUE_PAID_TOPIC: [u8; 32] = [
        0xc9, 0x3d, 0xd3, 0x48, 0xcc, 0x0e, 0x8c, 0xe5, 0x03, 0xcd, 0x9d, 0x40, 0xc0, 0xda, 0x42,
        0xa6, 0x4c, 0xa4, 0x33, 0x28, 0x25, 0x66, 0x84, 0x2e, 0x01, 0x2e, 0x71, 0xf9, 0x11, 0xc8,
        0x73, 0x0e,
    ];
    /// Signature topic of `UnitsCredited`.
    pub const UNITS_CREDITED_TOPIC: [u8; 32] = [
        0xe7, 0xc0, 0x60, 0x01, 0xb3, 0x07, 0x8f, 0x66, 0x43, 0x4f, 0xcd, 0xc0, 0xea, 0x23, 0x8c,
        0xbb, 0xf7, 0x6e, 0xd3, 0xed, 0x7f, 0xc3, 0x66, 0x4c, 0xc9, 0x5f, 0xc1, 0x18, 0xfd, 0xf8,
        0x67, 0x09,
    ];
    /// Signature topic of `Withdrawn`.
    pub const WITHDRAWN_TOPIC: [u8; 32] = [
        0x3f, 0x3c, 0xb8, 0x10, 0x8d, 0x10, 0xf6, 0xbe, 0xbc, 0x48, 0x33, 0x5e, 0x02, 0x75, 0x53,
        0xbc, 0x98, 0x8d, 0x24, 0xac, 0x6b, 0xbb, 0xca, 0xdd, 0x59, 0x58, 0x8e, 0x46, 0x07, 0xe2,
        0x4c, 0x25,
    ];
    /// Signature topic of `RuleProposed`.
    pub const RULE_PROPOSED_TOPIC: [u8; 32] = [
        0xdd, 0xe8, 0xdf, 0x02, 0x1e, 0x61, 0x31, 0x01, 0xaa, 0x23, 0xf1, 0x5f, 0x9d, 0x52, 0x81,
        0x43, 0xed, 0xc4, 0x63, 0x92, 0x15, 0xbe, 0xcb, 0x64, 0x78, 0x77, 0x29, 0x01, 0x09, 0xa0,
        0x9b, 0xc6,
    ];
    /// Signature topic of `Authorised`.
    pub const AUTHORISED_TOPIC: [u8; 32] = [
        0x15, 0x7b, 0xaa, 0x18, 0x43, 0xe3, 0x74, 0x7a, 0xda, 0x68, 0x06, 0x48, 0xa7, 0x31, 0x13,
        0xd5, 0xb0, 0x7f, 0x0d, 0xdc, 0xc1, 0xe6, 0x1d, 0x5f, 0xe5, 0x80, 0x91, 0xfc, 0x7f, 0x00,
        0x45, 0xb0,
    ];

    crate::contract_events! {
        "the splitter emits about rules, revenue and share units (its admin events are \
         `crate::admin::events`)";
        RuleSet => RULE_SET_TOPIC,
        RevenuePaid => REVENUE_PAID_TOPIC,
        UnitsCredited => UNITS_CREDITED_TOPIC,
        Withdrawn => WITHDRAWN_TOPIC,
        RuleProposed => RULE_PROPOSED_TOPIC,
        Authorised => AUTHORISED_TOPIC,
    }
}

/// Message selectors (generated by `scripts/abi-consts.py sel`, checked by the contract tests).
pub mod selectors {
    pub use crate::admin::selectors::*;
    /// `new`.
    pub const NEW: [u8; 4] = [0x9b, 0xae, 0x9d, 0x5e];
    /// `set_rule`.
    pub const SET_RULE: [u8; 4] = [0x65, 0x0f, 0x26, 0x86];
    /// `pay_revenue`.
    pub const PAY_REVENUE: [u8; 4] = [0xba, 0x16, 0x99, 0xf4];
    /// `credit_units`.
    pub const CREDIT_UNITS: [u8; 4] = [0x9a, 0x1b, 0xd4, 0xf3];
    /// `withdraw`.
    pub const WITHDRAW: [u8; 4] = [0x41, 0x0f, 0xcc, 0x9d];
    /// `balance_of`.
    pub const BALANCE_OF: [u8; 4] = [0x0f, 0x75, 0x5a, 0x56];
    /// `entry`.
    pub const ENTRY: [u8; 4] = [0xbf, 0xa9, 0x57, 0x56];
    /// `pool`.
    pub const POOL: [u8; 4] = [0xd9, 0x2c, 0x9b, 0x21];
    /// `units_of`.
    pub const UNITS_OF: [u8; 4] = [0x49, 0xb3, 0x4d, 0xb5];
    /// `inbox_of`.
    pub const INBOX_OF: [u8; 4] = [0xe8, 0x05, 0x12, 0x60];
    /// `params`.
    pub const PARAMS: [u8; 4] = [0xf5, 0x35, 0x3f, 0xe9];
    /// `apply_rule`.
    pub const APPLY_RULE: [u8; 4] = [0x3f, 0x53, 0x1c, 0x06];
    /// `authorise`.
    pub const AUTHORISE: [u8; 4] = [0x98, 0x0e, 0x25, 0xb6];
    /// `may_credit`.
    pub const MAY_CREDIT: [u8; 4] = [0x2f, 0x09, 0x79, 0x6b];
}

/// Call data (selector ++ SCALE arguments) of every splitter message, for off-chain callers.
pub mod calls {
    use super::*;
    pub use crate::admin::calls::*;

    fn with<A: Encode>(selector: [u8; 4], args: A) -> Vec<u8> {
        let mut data = selector.to_vec();
        args.encode_to(&mut data);
        data
    }

    /// `new(registry, market, treasury)`.
    pub fn new(registry: AccountBytes, market: AccountBytes, treasury: AccountBytes) -> Vec<u8> {
        with(selectors::NEW, (registry, market, treasury))
    }
    /// `set_rule(artifact, rule)`.
    pub fn set_rule(artifact: ArtifactId, rule: SplitRule) -> Vec<u8> {
        with(selectors::SET_RULE, (artifact, rule))
    }
    /// `pay_revenue(artifact)` (payable: the revenue).
    pub fn pay_revenue(artifact: ArtifactId) -> Vec<u8> {
        with(selectors::PAY_REVENUE, artifact)
    }
    /// `credit_units(artifact, account, units)` (market only).
    pub fn credit_units(artifact: ArtifactId, account: AccountBytes, units: Balance) -> Vec<u8> {
        with(selectors::CREDIT_UNITS, (artifact, account, units))
    }
    /// `withdraw(artifact)`: the balance plus the share revenue of `artifact`.
    pub fn withdraw(artifact: Option<ArtifactId>) -> Vec<u8> {
        with(selectors::WITHDRAW, artifact)
    }
    /// `balance_of(account, artifact) -> Balance`.
    pub fn balance_of(account: AccountBytes, artifact: Option<ArtifactId>) -> Vec<u8> {
        with(selectors::BALANCE_OF, (account, artifact))
    }
    /// `entry(artifact) -> Option<Entry>`.
    pub fn entry(artifact: ArtifactId) -> Vec<u8> {
        with(selectors::ENTRY, artifact)
    }
    /// `units_of(artifact, account) -> Balance`.
    pub fn units_of(artifact: ArtifactId, account: AccountBytes) -> Vec<u8> {
        with(selectors::UNITS_OF, (artifact, account))
    }
    /// `inbox_of(artifact) -> Balance`.
    pub fn inbox_of(artifact: ArtifactId) -> Vec<u8> {
        with(selectors::INBOX_OF, artifact)
    }
    /// `apply_rule(artifact)`.
    pub fn apply_rule(artifact: ArtifactId) -> Vec<u8> {
        with(selectors::APPLY_RULE, artifact)
    }
    /// `authorise(artifact, delegate, allowed)` (artifact owner only).
    pub fn authorise(artifact: ArtifactId, delegate: AccountBytes, allowed: bool) -> Vec<u8> {
        with(selectors::AUTHORISE, (artifact, delegate, allowed))
    }
    /// `may_credit(artifact, poster) -> bool`.
    pub fn may_credit(artifact: ArtifactId, poster: AccountBytes) -> Vec<u8> {
        with(selectors::MAY_CREDIT, (artifact, poster))
    }
}
