//! Profit-split rules in basis points, and splitting an amount by them without losing a unit.
//!
//! A [`SplitRule`] divides every revenue payment of an artifact between its designer (the owner),
//! the compute share holders (GPU providers that mined jointly), the upstream artifacts (parents
//! by lineage) and the treasury. Its four parts are basis points that sum to [`BPS`] (10 000).
//!
//! Splitting rounds each part down; the remainder (at most 3 units) goes to the designer, so the
//! parts always sum to the amount exactly. What it is not: share accounting between many holders
//! of one part (that is [`crate::shares`]).
//!
//! ```
//! use iollm_types::split::SplitRule;
//! let rule = SplitRule { designer_bps: 5_000, compute_bps: 3_000, upstream_bps: 1_500, treasury_bps: 500 };
//! let parts = rule.split(1_001).unwrap();
//! assert_eq!((parts.designer, parts.compute, parts.upstream, parts.treasury), (501, 300, 150, 50));
//! ```

use crate::Balance;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Basis points in a whole: 100 %.
pub const BPS: u16 = 10_000;

/// Why a split rule or a split was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// The four parts do not sum to [`BPS`].
    BadSum,
}

/// `amount * bps / 10 000`, rounded down, without overflow for any `amount` (`bps` ≤ 10 000).
///
/// Returns `None` only when `bps` > [`BPS`].
pub fn bps_of(amount: Balance, bps: u16) -> Option<Balance> {
    if bps > BPS {
        return None;
    }
    let whole = Balance::from(BPS);
    let bps = Balance::from(bps);
    // amount = q * 10 000 + r, so amount * bps / 10 000 = q * bps + r * bps / 10 000 exactly,
    // and neither product can overflow: q * bps ≤ amount, r * bps < 10^8.
    let q = amount.checked_div(whole)?;
    let r = amount.checked_rem(whole)?;
    q.checked_mul(bps)?.checked_add(r.checked_mul(bps)?.checked_div(whole)?)
}

/// Splits `amount` into `n` equal parts: returns `(each, remainder)` with
/// `each * n + remainder == amount`; `None` when `n` is 0.
pub fn split_evenly(amount: Balance, n: u32) -> Option<(Balance, Balance)> {
    let n = Balance::from(n);
    Some((amount.checked_div(n)?, amount.checked_rem(n)?))
}

/// A per-artifact profit-split rule; the four parts sum to [`BPS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct SplitRule {
    /// The artifact's owner.
    pub designer_bps: u16,
    /// Holders of compute share units (joint-mining GPU providers).
    pub compute_bps: u16,
    /// The artifact's parents by lineage, in equal parts.
    pub upstream_bps: u16,
    /// The treasury.
    pub treasury_bps: u16,
}

impl SplitRule {
    /// Everything to the designer.
    pub const DESIGNER_ONLY: SplitRule =
        SplitRule { designer_bps: BPS, compute_bps: 0, upstream_bps: 0, treasury_bps: 0 };

    /// Checks that the parts sum to [`BPS`].
    pub fn validate(&self) -> Result<(), SplitError> {
        let sum = u32::from(self.designer_bps)
            .checked_add(u32::from(self.compute_bps))
            .and_then(|s| s.checked_add(u32::from(self.upstream_bps)))
            .and_then(|s| s.checked_add(u32::from(self.treasury_bps)));
        if sum == Some(u32::from(BPS)) {
            Ok(())
        } else {
            Err(SplitError::BadSum)
        }
    }

    /// Splits `amount` by this rule; the parts sum to `amount` exactly (the rounding remainder
    /// goes to the designer).
    pub fn split(&self, amount: Balance) -> Result<Parts, SplitError> {
        self.validate()?;
        let bad = SplitError::BadSum;
        let compute = bps_of(amount, self.compute_bps).ok_or(bad)?;
        let upstream = bps_of(amount, self.upstream_bps).ok_or(bad)?;
        let treasury = bps_of(amount, self.treasury_bps).ok_or(bad)?;
        // Each part is at most its exact share, so the others sum to at most `amount`.
        let designer = amount
            .checked_sub(compute)
            .and_then(|a| a.checked_sub(upstream))
            .and_then(|a| a.checked_sub(treasury))
            .ok_or(bad)?;
        Ok(Parts { designer, compute, upstream, treasury })
    }
}

/// One amount split by a [`SplitRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts {
    /// To the owner (includes the rounding remainder).
    pub designer: Balance,
    /// To the compute share holders.
    pub compute: Balance,
    /// To the parents.
    pub upstream: Balance,
    /// To the treasury.
    pub treasury: Balance,
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule() -> impl Strategy<Value = SplitRule> {
        (0..=BPS, 0..=BPS, 0..=BPS).prop_map(|(a, b, c)| {
            let mut cuts = [a, b, c];
            cuts.sort_unstable();
            SplitRule {
                designer_bps: cuts[0],
                compute_bps: cuts[1] - cuts[0],
                upstream_bps: cuts[2] - cuts[1],
                treasury_bps: BPS - cuts[2],
            }
        })
    }

    #[test]
    fn validate_refuses_wrong_sums() {
        assert_eq!(SplitRule::DESIGNER_ONLY.validate(), Ok(()));
        let short = SplitRule { designer_bps: 9_999, ..SplitRule::DESIGNER_ONLY };
        assert_eq!(short.validate(), Err(SplitError::BadSum));
        let wraps = SplitRule {
            designer_bps: u16::MAX,
            compute_bps: u16::MAX,
            upstream_bps: u16::MAX,
            treasury_bps: u16::MAX,
        };
        assert_eq!(wraps.validate(), Err(SplitError::BadSum));
        assert_eq!(short.split(5), Err(SplitError::BadSum));
    }

    #[test]
    fn bps_of_edges() {
        assert_eq!(bps_of(Balance::MAX, BPS), Some(Balance::MAX));
        assert_eq!(bps_of(Balance::MAX, 0), Some(0));
        assert_eq!(bps_of(Balance::MAX, 5_000), Some(Balance::MAX / 2));
        assert_eq!(bps_of(1, BPS + 1), None);
        assert_eq!(split_evenly(10, 0), None);
        assert_eq!(split_evenly(10, 3), Some((3, 1)));
    }

    proptest! {
        /// Reference: the exact product in 256 bits (two u128 halves) divided by 10 000.
        #[test]
        fn bps_of_matches_wide_arithmetic(amount: u128, bps in 0..=BPS) {
            let naive = if let Some(p) = amount.checked_mul(u128::from(bps)) {
                p / 10_000
            } else {
                // amount * bps = hi * 2^64 * bps + lo * bps, divided exactly in two steps.
                let hi = amount >> 64;
                let lo = amount & u128::from(u64::MAX);
                let hi_p = hi * u128::from(bps);
                let (hq, hr) = (hi_p / 10_000, hi_p % 10_000);
                (hq << 64) + (((hr << 64) + lo * u128::from(bps)) / 10_000)
            };
            prop_assert_eq!(bps_of(amount, bps), Some(naive));
        }

        /// Parts sum to the amount (no dust), each part is its exact share rounded down (the
        /// designer's at most 3 units more).
        #[test]
        fn split_sums_and_has_no_dust(rule in rule(), amount in 0u128..=u128::MAX / 10_000) {
            let p = rule.split(amount).unwrap();
            prop_assert_eq!(p.designer + p.compute + p.upstream + p.treasury, amount);
            prop_assert_eq!(p.compute, amount * u128::from(rule.compute_bps) / 10_000);
            prop_assert_eq!(p.upstream, amount * u128::from(rule.upstream_bps) / 10_000);
            prop_assert_eq!(p.treasury, amount * u128::from(rule.treasury_bps) / 10_000);
            let exact = amount * u128::from(rule.designer_bps) / 10_000;
            prop_assert!(p.designer >= exact && p.designer <= exact + 3);
        }

        #[test]
        fn split_of_any_amount_never_fails(rule in rule(), amount: u128) {
            let p = rule.split(amount).unwrap();
            prop_assert_eq!(
                p.designer.checked_add(p.compute).and_then(|s| s.checked_add(p.upstream))
                    .and_then(|s| s.checked_add(p.treasury)),
                Some(amount)
            );
        }
    }
}
