//! Accumulator-per-share accounting: O(1) distribution of payments to any number of holders.
//!
//! A [`Pool`] keeps `acc`, the revenue per share unit received so far, scaled by [`SCALE`]. A
//! payment adds `amount * SCALE / total_units` to it; the division's remainder is kept in
//! `carry` and added to the next payment, so no unit is lost. A [`Holder`] remembers `acc` as it
//! was when it last settled (`snapshot`); settling adds `units * (acc - snapshot)` to its scaled
//! claim. Taking pays out the whole units of the claim and keeps the fraction for later.
//!
//! Exact conservation, in scaled units, at every step:
//! `Σ distributed · SCALE = Σ holders (paid · SCALE + owed_scaled + unsettled) + carry`.
//!
//! What it is not: storage. Contracts keep a `Pool` per artifact and a `Holder` per
//! (artifact, account) and call these functions.
//!
//! ```
//! use iollm_types::shares::{Holder, Pool};
//! let (mut pool, mut a, mut b) = (Pool::default(), Holder::default(), Holder::default());
//! pool.credit(&mut a, 1).unwrap();
//! pool.credit(&mut b, 2).unwrap();
//! pool.distribute(10).unwrap();
//! assert_eq!(pool.take(&mut a).unwrap() + pool.take(&mut b).unwrap(), 9); // 3 + 6
//! pool.distribute(2).unwrap(); // the carried third completes a unit
//! assert_eq!(pool.take(&mut a).unwrap() + pool.take(&mut b).unwrap(), 3);
//! ```

use crate::Balance;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Fixed-point scale of the accumulator (10^12): the resolution of a share's revenue.
pub const SCALE: u128 = 1_000_000_000_000;

/// Why a share operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareError {
    /// A product or sum does not fit 128 bits.
    Overflow,
    /// Nobody holds units: a payment would have nobody to go to.
    NoUnits,
}

/// One artifact's share pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Pool {
    /// Units held by all holders together.
    pub total_units: u128,
    /// Revenue per unit received so far, times [`SCALE`].
    pub acc: u128,
    /// Scaled remainder of the last division, always below `total_units`.
    pub carry: u128,
}

/// One holder's position in a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Holder {
    /// Units held.
    pub units: u128,
    /// The pool's `acc` when this holder last settled.
    pub snapshot: u128,
    /// Settled but not yet taken revenue, times [`SCALE`].
    pub owed_scaled: u128,
}

fn ovf<T>(v: Option<T>) -> Result<T, ShareError> {
    v.ok_or(ShareError::Overflow)
}

impl Pool {
    /// Shares `amount` among the current units: O(1), whatever the number of holders.
    pub fn distribute(&mut self, amount: Balance) -> Result<(), ShareError> {
        if amount == 0 {
            return Ok(());
        }
        if self.total_units == 0 {
            return Err(ShareError::NoUnits);
        }
        let scaled = ovf(amount.checked_mul(SCALE).and_then(|s| s.checked_add(self.carry)))?;
        let per_unit = ovf(scaled.checked_div(self.total_units))?;
        let carry = ovf(scaled.checked_rem(self.total_units))?;
        self.acc = ovf(self.acc.checked_add(per_unit))?;
        self.carry = carry;
        Ok(())
    }

    /// Brings `holder` up to date: what accrued to its units since its snapshot becomes owed.
    pub fn settle(&self, holder: &mut Holder) -> Result<(), ShareError> {
        let delta = ovf(self.acc.checked_sub(holder.snapshot))?;
        let accrued = ovf(holder.units.checked_mul(delta))?;
        holder.owed_scaled = ovf(holder.owed_scaled.checked_add(accrued))?;
        holder.snapshot = self.acc;
        Ok(())
    }

    /// Gives `holder` `units` more units; they earn from the next payment on.
    pub fn credit(&mut self, holder: &mut Holder, units: u128) -> Result<(), ShareError> {
        self.settle(holder)?;
        let total = ovf(self.total_units.checked_add(units))?;
        holder.units = ovf(holder.units.checked_add(units))?;
        self.total_units = total;
        Ok(())
    }

    /// What `holder` could take now, without changing anything.
    pub fn claimable(&self, holder: &Holder) -> Result<Balance, ShareError> {
        let mut h = *holder;
        self.settle(&mut h)?;
        ovf(h.owed_scaled.checked_div(SCALE))
    }

    /// Settles `holder` and takes its whole units out: returns the amount to pay; the scaled
    /// fraction stays owed.
    pub fn take(&self, holder: &mut Holder) -> Result<Balance, ShareError> {
        self.settle(holder)?;
        let whole = ovf(holder.owed_scaled.checked_div(SCALE))?;
        holder.owed_scaled = ovf(holder.owed_scaled.checked_rem(SCALE))?;
        Ok(whole)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Credit(usize, u128),
        Pay(u128),
        Take(usize),
    }

    fn op(holders: usize) -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..holders, 1u128..1_000_000).prop_map(|(h, u)| Op::Credit(h, u)),
            (0u128..1_000_000_000_000).prop_map(Op::Pay),
            (0..holders).prop_map(Op::Take),
        ]
    }

    #[test]
    fn paying_with_no_units_is_refused() {
        let mut pool = Pool::default();
        assert_eq!(pool.distribute(0), Ok(()));
        assert_eq!(pool.distribute(1), Err(ShareError::NoUnits));
        let mut h = Holder::default();
        pool.credit(&mut h, u128::MAX).unwrap();
        assert_eq!(pool.credit(&mut Holder::default(), 1), Err(ShareError::Overflow));
        assert_eq!(pool.distribute(u128::MAX), Err(ShareError::Overflow));
    }

    #[test]
    fn late_holders_earn_nothing_from_earlier_payments() {
        let mut pool = Pool::default();
        let (mut a, mut b) = (Holder::default(), Holder::default());
        pool.credit(&mut a, 5).unwrap();
        pool.distribute(100).unwrap();
        pool.credit(&mut b, 5).unwrap();
        assert_eq!(pool.claimable(&b), Ok(0));
        pool.distribute(100).unwrap();
        assert_eq!(pool.take(&mut a), Ok(150));
        assert_eq!(pool.take(&mut b), Ok(50));
        assert_eq!(pool.take(&mut a), Ok(0));
    }

    proptest! {
        /// Against a naive model that, on every payment, walks all holders and gives each its
        /// exact rational share (kept as f64 — the tolerance below is far above its error):
        /// every holder's total (taken + claimable) is within one unit of the exact share, and
        /// scaled conservation holds exactly after every operation.
        #[test]
        fn accumulator_matches_naive_distribution(
            ops in proptest::collection::vec(op(5), 1..60)
        ) {
            let mut pool = Pool::default();
            let mut holders = [Holder::default(); 5];
            let mut taken = [0u128; 5];
            let mut naive = [0f64; 5];
            let mut naive_units = [0u128; 5];
            let mut distributed = 0u128;
            let mut payments = 0u128;
            for op in ops {
                match op {
                    Op::Credit(i, u) => {
                        pool.credit(&mut holders[i], u).unwrap();
                        naive_units[i] += u;
                    }
                    Op::Pay(amount) => {
                        let total: u128 = naive_units.iter().sum();
                        if total == 0 {
                            prop_assert_eq!(pool.distribute(amount).is_err(), amount > 0);
                            continue;
                        }
                        pool.distribute(amount).unwrap();
                        distributed += amount;
                        payments += 1;
                        for i in 0..5 {
                            naive[i] += amount as f64 * naive_units[i] as f64 / total as f64;
                        }
                    }
                    Op::Take(i) => taken[i] += pool.take(&mut holders[i]).unwrap(),
                }
                // Exact scaled conservation.
                let mut held = pool.carry;
                for (h, t) in holders.iter().zip(taken) {
                    let mut h = *h;
                    pool.settle(&mut h).unwrap();
                    held += h.owed_scaled + t * SCALE;
                }
                prop_assert_eq!(held, distributed * SCALE);
                prop_assert!(pool.carry < pool.total_units.max(1));
            }
            let mut sum = 0u128;
            for i in 0..5 {
                let got = taken[i] + pool.claimable(&holders[i]).unwrap();
                sum += got;
                // Rounding: at most one unit from the final floor, plus units/SCALE per payment.
                let slack = 1.0 + (payments * naive_units[i]) as f64 / SCALE as f64 + 1e-3;
                prop_assert!(
                    (got as f64 - naive[i]).abs() <= slack,
                    "holder {} got {} naive {}", i, got, naive[i]
                );
            }
            // Nobody is ever paid more than was distributed.
            prop_assert!(sum <= distributed);
        }
    }
}
