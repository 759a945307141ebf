//! The admin rules every iollm contract shares: changes (parameters, code) are announced and
//! take effect only after a timelock, so anyone who dislikes an announced change can settle and
//! leave first; the admin hands over in two steps (propose, accept), so a typo cannot give the
//! contract away.
//!
//! What it is not: storage or events. Each contract keeps an [`Admin`] with its own change type
//! and emits its own events; the timelock's length comes from the market
//! ([`crate::market::MarketParams::timelock`]), longer than any job plus its verification plus
//! unbonding.
//!
//! ```
//! use iollm_types::admin::{Admin, AdminError};
//! let (alice, bob) = ([1; 32], [2; 32]);
//! let mut admin = Admin::<u8>::new(alice);
//! assert_eq!(admin.propose(alice, 7, 10, 100), Ok(110));
//! assert_eq!(admin.take_ready(109), Err(AdminError::Timelocked));
//! assert_eq!(admin.take_ready(110), Ok(7));
//! admin.propose_admin(alice, bob).unwrap();
//! admin.accept_admin(bob).unwrap();
//! assert_eq!(admin.admin, bob);
//! ```

use crate::{AccountBytes, BlockNumber};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Why an admin action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminError {
    /// The caller is not the admin.
    NotAdmin,
    /// Only the proposed admin may accept.
    NotProposedAdmin,
    /// Nothing has been announced.
    NothingProposed,
    /// The announced change's timelock has not passed.
    Timelocked,
    /// The block number would overflow.
    Overflow,
    /// The announced change was not applied within [`APPLY_WITHIN`] blocks of its timelock's
    /// end; it must be announced again.
    Stale,
}

/// An announced change can be applied for this many blocks after its timelock ends (a week of
/// 6-second blocks); after that it is stale, so an announcement everyone forgot cannot be
/// sprung on them years later.
pub const APPLY_WITHIN: BlockNumber = 100_800;

/// A contract's admin, its proposed successor and its announced change.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Admin<C> {
    /// Who may announce changes.
    pub admin: AccountBytes,
    /// Who may accept the hand-over.
    pub proposed_admin: Option<AccountBytes>,
    /// The announced change and the first block at which it can be applied.
    pub pending: Option<(C, BlockNumber)>,
}

impl<C: Clone> Admin<C> {
    /// `admin` in charge, nothing announced.
    pub fn new(admin: AccountBytes) -> Self {
        Admin { admin, proposed_admin: None, pending: None }
    }

    /// Checks that `caller` is the admin.
    pub fn ensure(&self, caller: AccountBytes) -> Result<(), AdminError> {
        if caller == self.admin {
            Ok(())
        } else {
            Err(AdminError::NotAdmin)
        }
    }

    /// Announces `change` at block `now`, applicable from `now + delay` (returned); replaces
    /// what was announced before.
    pub fn propose(
        &mut self,
        caller: AccountBytes,
        change: C,
        now: BlockNumber,
        delay: BlockNumber,
    ) -> Result<BlockNumber, AdminError> {
        self.ensure(caller)?;
        let eta = now.checked_add(delay).ok_or(AdminError::Overflow)?;
        self.pending = Some((change, eta));
        Ok(eta)
    }

    /// The announced change, removed, once its timelock has passed at block `now`. Anyone may
    /// apply it.
    pub fn take_ready(&mut self, now: BlockNumber) -> Result<C, AdminError> {
        let (change, eta) = self.pending.clone().ok_or(AdminError::NothingProposed)?;
        if now < eta {
            return Err(AdminError::Timelocked);
        }
        if now > eta.saturating_add(APPLY_WITHIN) {
            return Err(AdminError::Stale);
        }
        self.pending = None;
        Ok(change)
    }

    /// The admin withdraws the announced change.
    pub fn cancel(&mut self, caller: AccountBytes) -> Result<C, AdminError> {
        self.ensure(caller)?;
        self.pending.take().map(|(change, _)| change).ok_or(AdminError::NothingProposed)
    }

    /// The admin names a successor, who takes over with [`Admin::accept_admin`].
    pub fn propose_admin(
        &mut self,
        caller: AccountBytes,
        proposed: AccountBytes,
    ) -> Result<(), AdminError> {
        self.ensure(caller)?;
        self.proposed_admin = Some(proposed);
        Ok(())
    }

    /// The proposed successor takes over.
    pub fn accept_admin(&mut self, caller: AccountBytes) -> Result<(), AdminError> {
        if self.proposed_admin != Some(caller) {
            return Err(AdminError::NotProposedAdmin);
        }
        self.admin = caller;
        self.proposed_admin = None;
        Ok(())
    }
}

/// Event data of the admin messages, the same in every contract (each contract's `Change` is
/// its own type; the signature topics match because every contract names it `Change`).
pub mod events {
    use super::*;

    /// `ChangeProposed`: an admin change was announced.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ChangeProposed<C> {
        /// The change.
        pub change: C,
        /// First block at which it can be applied.
        pub eta: BlockNumber,
    }

    /// `ChangeApplied`: an admin change took effect.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ChangeApplied<C> {
        /// The change.
        pub change: C,
    }

    /// `ChangeCancelled`: the admin withdrew an announced change.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct ChangeCancelled<C> {
        /// The change.
        pub change: C,
    }

    /// `AdminProposed`: the admin proposed a successor.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct AdminProposed {
        /// Who may accept.
        pub proposed: AccountBytes,
    }

    /// `AdminChanged`: the proposed admin accepted.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct AdminChanged {
        /// The new admin.
        pub admin: AccountBytes,
    }

    /// Signature topic of `ChangeProposed`.
    pub const CHANGE_PROPOSED_TOPIC: [u8; 32] = [
        0xcf, 0xef, 0x19, 0x04, 0x3d, 0x32, 0x12, 0x86, 0x6f, 0x96, 0xba, 0x85, 0x01, 0x65, 0x87,
        0x97, 0x32, 0x1c, 0x52, 0x47, 0x72, 0xa3, 0xee, 0x38, 0x96, 0x46, 0xf8, 0xdb, 0xd4, 0x3c,
        0x5a, 0x5c,
    ];
    /// Signature topic of `ChangeApplied`.
    pub const CHANGE_APPLIED_TOPIC: [u8; 32] = [
        0xd0, 0x9d, 0xaa, 0xb3, 0xe8, 0x23, 0xa2, 0xb2, 0xb9, 0xf9, 0xaf, 0xef, 0xb1, 0x76, 0x27,
        0x90, 0x06, 0x40, 0x14, 0xac, 0x8b, 0x19, 0x93, 0x9c, 0xe8, 0x2d, 0x97, 0xd3, 0xed, 0x44,
        0x35, 0xba,
    ];
    /// Signature topic of `ChangeCancelled`.
    pub const CHANGE_CANCELLED_TOPIC: [u8; 32] = [
        0x9a, 0xd5, 0xde, 0x15, 0x53, 0x3c, 0xcb, 0xa6, 0x14, 0x1b, 0xa9, 0x43, 0xc2, 0xe3, 0x5f,
        0x51, 0xf8, 0x05, 0xe0, 0x06, 0x30, 0xf4, 0xb4, 0x06, 0x9f, 0xfa, 0x24, 0x93, 0x80, 0x49,
        0xf5, 0xcd,
    ];
    /// Signature topic of `AdminProposed`.
    pub const ADMIN_PROPOSED_TOPIC: [u8; 32] = [
        0x9b, 0x95, 0x06, 0xac, 0x4f, 0xa0, 0xed, 0xfb, 0x8f, 0x53, 0xe3, 0xd9, 0xa7, 0x0d, 0xab,
        0x35, 0x8e, 0xa0, 0x17, 0x18, 0xf8, 0x8b, 0xf5, 0xe4, 0xa0, 0xee, 0x2b, 0x16, 0x16, 0xb0,
        0xc5, 0x20,
    ];
    /// Signature topic of `AdminChanged`.
    pub const ADMIN_CHANGED_TOPIC: [u8; 32] = [
        0x21, 0x8f, 0x25, 0x12, 0xb4, 0xf6, 0x2e, 0xfa, 0xc3, 0xba, 0x3f, 0xc1, 0xc7, 0xce, 0xa1,
        0x2c, 0x09, 0xd9, 0x29, 0x24, 0xf3, 0x9d, 0x9b, 0x7c, 0x96, 0x88, 0x2a, 0x37, 0xc6, 0xcd,
        0x86, 0x58,
    ];
}

/// Selectors of the admin messages, the same in every contract (a selector hashes only the
/// message's name); each contract's tests check them against ink!'s.
pub mod selectors {
    /// `propose_change`.
    pub const PROPOSE_CHANGE: [u8; 4] = [0xe0, 0x34, 0x45, 0xe0];
    /// `apply_change`.
    pub const APPLY_CHANGE: [u8; 4] = [0x77, 0x86, 0xd4, 0xc8];
    /// `cancel_change`.
    pub const CANCEL_CHANGE: [u8; 4] = [0x45, 0xdd, 0x72, 0x9d];
    /// `propose_admin`.
    pub const PROPOSE_ADMIN: [u8; 4] = [0x2b, 0x3a, 0x5a, 0xab];
    /// `accept_admin`.
    pub const ACCEPT_ADMIN: [u8; 4] = [0x38, 0x30, 0x82, 0x1d];
    /// `pending_change`.
    pub const PENDING_CHANGE: [u8; 4] = [0x19, 0xce, 0x28, 0x56];
}

/// Call data of the admin messages, for off-chain callers of any of the contracts.
pub mod calls {
    use super::*;
    use alloc::vec::Vec;

    fn with<A: Encode>(selector: [u8; 4], args: A) -> Vec<u8> {
        let mut data = selector.to_vec();
        args.encode_to(&mut data);
        data
    }

    /// `propose_change(change) -> BlockNumber`.
    pub fn propose_change<C: Encode>(change: &C) -> Vec<u8> {
        with(selectors::PROPOSE_CHANGE, change)
    }
    /// `apply_change()`.
    pub fn apply_change() -> Vec<u8> {
        selectors::APPLY_CHANGE.to_vec()
    }
    /// `cancel_change()`.
    pub fn cancel_change() -> Vec<u8> {
        selectors::CANCEL_CHANGE.to_vec()
    }
    /// `propose_admin(account)`.
    pub fn propose_admin(account: AccountBytes) -> Vec<u8> {
        with(selectors::PROPOSE_ADMIN, account)
    }
    /// `accept_admin()`.
    pub fn accept_admin() -> Vec<u8> {
        selectors::ACCEPT_ADMIN.to_vec()
    }
    /// `pending_change() -> Option<(Change, BlockNumber)>`.
    pub fn pending_change() -> Vec<u8> {
        selectors::PENDING_CHANGE.to_vec()
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_admin_proposes_and_cancels_and_hand_over_is_two_step() {
        let (alice, bob, eve) = ([1; 32], [2; 32], [3; 32]);
        let mut a = Admin::<u8>::new(alice);
        assert_eq!(a.propose(bob, 1, 0, 5), Err(AdminError::NotAdmin));
        assert_eq!(a.take_ready(100), Err(AdminError::NothingProposed));
        assert_eq!(a.propose(alice, 1, u32::MAX, 1), Err(AdminError::Overflow));
        a.propose(alice, 1, 0, 5).unwrap();
        assert_eq!(a.cancel(bob), Err(AdminError::NotAdmin));
        assert_eq!(a.cancel(alice), Ok(1));
        assert_eq!(a.cancel(alice), Err(AdminError::NothingProposed));
        assert_eq!(a.propose_admin(bob, bob), Err(AdminError::NotAdmin));
        a.propose_admin(alice, bob).unwrap();
        assert_eq!(a.accept_admin(eve), Err(AdminError::NotProposedAdmin));
        a.accept_admin(bob).unwrap();
        assert_eq!((a.admin, a.proposed_admin), (bob, None));
        assert_eq!(a.propose(alice, 1, 0, 5), Err(AdminError::NotAdmin));
    }

    proptest! {
        /// A change never applies before `now + delay`, always applies in the
        /// [`APPLY_WITHIN`] blocks from then on, and is stale after.
        #[test]
        fn a_change_applies_exactly_from_its_eta(
            now in 0u32..1 << 20, delay in 0u32..1 << 18, at in 0u32..1 << 21
        ) {
            let mut a = Admin::<u8>::new([1; 32]);
            let eta = a.propose([1; 32], 9, now, delay).unwrap();
            prop_assert_eq!(eta, now + delay);
            let r = a.take_ready(at);
            if at < eta {
                prop_assert_eq!(r, Err(AdminError::Timelocked));
                prop_assert!(a.pending.is_some());
            } else if at <= eta + APPLY_WITHIN {
                prop_assert_eq!(r, Ok(9));
                prop_assert!(a.pending.is_none());
            } else {
                prop_assert_eq!(r, Err(AdminError::Stale));
                prop_assert!(a.pending.is_some());
            }
        }
    }
}
