//! The money rules of a compute job: what the executor asks, how a finalized job's escrow is
//! split, and how slashed collateral is shared.
//!
//! * **Ask.** A provider pledges `price_per_unit` and a joint-mining discount in basis points.
//!   For a job of `units` work units, its market value is `price_per_unit * units`. The discount
//!   applies to at most the job's *reference value* (the market's reference price times the
//!   units, never the provider's own price), so what it forgoes is
//!   `discount × min(market value, reference value)` and its ask is the market value less that.
//!   The forgone value is escrowed by the poster like the ask, and comes back to the provider as
//!   compute share units of the job's artifact (verified jobs) or as money.
//! * **Settlement.** A job escrows `reward`. At finalize the executor gets its ask, each attesting
//!   verifier gets `verifier_fee`, and the poster gets the rest back:
//!   `executor + verifiers + refund = reward`, always.
//! * **Slashing.** Slashed funds go [`SLASH_HONEST_BPS`] (50 %) to the honest party (the
//!   challenger, the defended executor, or the poster whose job was not delivered) and the rest
//!   to the treasury, rounding in favour of the honest party.
//!
//! What it is not: storage or balances; the market contract applies these numbers.

use crate::split::{bps_of, BPS};
use crate::Balance;

/// Share of slashed funds that goes to the honest party, in basis points (the rest: treasury).
pub const SLASH_HONEST_BPS: u16 = 5_000;

/// Why the job maths refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscrowError {
    /// A product or sum does not fit 128 bits.
    Overflow,
    /// A basis-point value above 10 000.
    BadBps,
    /// The escrow cannot cover the executor's ask plus the verifier fees.
    RewardTooLow,
}

/// What a provider asks for a job and what it forgoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// `price_per_unit * units`.
    pub market_value: Balance,
    /// What the executor will be paid: the market value less the discount.
    pub ask: Balance,
    /// `market_value − ask`: compute share units earned by joint mining, at most the discount
    /// of the job's reference value.
    pub forgone: Balance,
}

/// The ask of a provider with this price and discount for a job of `units` work units whose
/// reference value is `reference_value`.
pub fn ask(
    price_per_unit: Balance,
    units: u64,
    discount_bps: u16,
    reference_value: Balance,
) -> Result<Ask, EscrowError> {
    if discount_bps > BPS {
        return Err(EscrowError::BadBps);
    }
    let market_value =
        price_per_unit.checked_mul(Balance::from(units)).ok_or(EscrowError::Overflow)?;
    let forgone =
        bps_of(market_value.min(reference_value), discount_bps).ok_or(EscrowError::BadBps)?;
    let ask = market_value.checked_sub(forgone).ok_or(EscrowError::Overflow)?;
    Ok(Ask { market_value, ask, forgone })
}

/// Total verifier fees a job reserves: `verifiers * fee`.
pub fn verifier_budget(verifiers: u8, fee: Balance) -> Result<Balance, EscrowError> {
    fee.checked_mul(Balance::from(verifiers)).ok_or(EscrowError::Overflow)
}

/// Checks that `reward` covers `ask` plus the fees of `verifiers` verifiers.
pub fn check_covers(
    reward: Balance,
    ask: Balance,
    verifiers: u8,
    fee: Balance,
) -> Result<(), EscrowError> {
    let need = verifier_budget(verifiers, fee)?.checked_add(ask).ok_or(EscrowError::Overflow)?;
    if need > reward {
        Err(EscrowError::RewardTooLow)
    } else {
        Ok(())
    }
}

/// How a finalized job's escrow is paid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// To the executor.
    pub executor: Balance,
    /// To each attesting verifier.
    pub per_verifier: Balance,
    /// To all attesting verifiers together.
    pub verifiers: Balance,
    /// Back to the poster.
    pub refund: Balance,
}

/// Settles `reward` for an executor asking `ask` and `attesters` verifiers paid `fee` each.
pub fn settle(
    reward: Balance,
    ask: Balance,
    attesters: u8,
    fee: Balance,
) -> Result<Settlement, EscrowError> {
    check_covers(reward, ask, attesters, fee)?;
    let verifiers = verifier_budget(attesters, fee)?;
    let refund = reward
        .checked_sub(ask)
        .and_then(|r| r.checked_sub(verifiers))
        .ok_or(EscrowError::RewardTooLow)?;
    Ok(Settlement { executor: ask, per_verifier: fee, verifiers, refund })
}

/// Splits slashed `amount` into `(honest party, treasury)`; the two sum to `amount`.
pub fn slash_split(amount: Balance) -> (Balance, Balance) {
    // bps_of never fails for SLASH_HONEST_BPS ≤ BPS, and its result is at most `amount`.
    let treasury = bps_of(amount, BPS.saturating_sub(SLASH_HONEST_BPS)).unwrap_or(0);
    (amount.saturating_sub(treasury), treasury)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ask_with_and_without_discount() {
        let r = Balance::MAX;
        assert_eq!(ask(10, 5, 0, r), Ok(Ask { market_value: 50, ask: 50, forgone: 0 }));
        assert_eq!(ask(10, 5, 2_000, r), Ok(Ask { market_value: 50, ask: 40, forgone: 10 }));
        assert_eq!(ask(10, 5, BPS, r), Ok(Ask { market_value: 50, ask: 0, forgone: 50 }));
        assert_eq!(ask(10, 5, BPS + 1, r), Err(EscrowError::BadBps));
        assert_eq!(ask(Balance::MAX, 2, 0, r), Err(EscrowError::Overflow));
        // The audit's attack: a self-declared price of 10^25 with a 100 % discount forgoes at
        // most the reference value (here 5 units at 3), and pays the rest in full.
        let huge = 10u128.pow(25);
        assert_eq!(
            ask(huge, 5, BPS, 15),
            Ok(Ask { market_value: 5 * huge, ask: 5 * huge - 15, forgone: 15 })
        );
    }

    #[test]
    fn settle_and_slash_examples() {
        assert_eq!(
            settle(100, 60, 2, 5),
            Ok(Settlement { executor: 60, per_verifier: 5, verifiers: 10, refund: 30 })
        );
        assert_eq!(settle(100, 95, 2, 5), Err(EscrowError::RewardTooLow));
        assert_eq!(check_covers(100, 90, 2, 5), Ok(()));
        assert_eq!(check_covers(100, 91, 2, 5), Err(EscrowError::RewardTooLow));
        assert_eq!(slash_split(101), (51, 50));
        assert_eq!(slash_split(0), (0, 0));
    }

    #[derive(Debug, Clone)]
    enum Outcome {
        Finalized { attesters: u8 },
        Expired,
        Slashed,
    }

    proptest! {
        #[test]
        fn slash_split_conserves(amount: u128) {
            let (honest, treasury) = slash_split(amount);
            prop_assert_eq!(honest.checked_add(treasury), Some(amount));
            prop_assert!(honest >= treasury);
        }

        #[test]
        fn ask_parts_sum(
            price in 0u128..1u128 << 60, units: u32, d in 0..=BPS, reference in 0u128..1u128 << 90
        ) {
            let a = ask(price, u64::from(units), d, reference).unwrap();
            prop_assert_eq!(a.ask + a.forgone, a.market_value);
            prop_assert_eq!(a.forgone, a.market_value.min(reference) * u128::from(d) / 10_000);
            // Never more units than the discount of the reference value.
            prop_assert!(a.forgone <= reference * u128::from(d) / 10_000);
        }

        /// Conservation over random job books: for every job, what is still escrowed plus what
        /// was paid plus what was refunded equals what was deposited, at every step.
        #[test]
        fn escrow_plus_paid_plus_refunded_is_deposited(
            jobs in proptest::collection::vec(
                (1u128..1_000_000, 0u128..1_000_000, 0u8..8, 0u128..10_000,
                 prop_oneof![
                    (0u8..8).prop_map(|a| Outcome::Finalized { attesters: a }),
                    Just(Outcome::Expired),
                    Just(Outcome::Slashed),
                 ]),
                1..40)
        ) {
            let (mut deposited, mut escrow, mut paid, mut refunded) = (0u128, 0u128, 0u128, 0u128);
            for (reward, ask, verifiers, fee, outcome) in jobs {
                if check_covers(reward, ask, verifiers, fee).is_err() {
                    continue; // post_job/claim refuse it; nothing deposited
                }
                deposited += reward;
                escrow += reward;
                match outcome {
                    Outcome::Finalized { attesters } => {
                        let attesters = attesters.min(verifiers);
                        let s = settle(reward, ask, attesters, fee).unwrap();
                        prop_assert_eq!(s.verifiers, s.per_verifier * u128::from(attesters));
                        escrow -= reward;
                        paid += s.executor + s.verifiers;
                        refunded += s.refund;
                    }
                    Outcome::Expired | Outcome::Slashed => {
                        escrow -= reward;
                        refunded += reward;
                    }
                }
                prop_assert_eq!(escrow + paid + refunded, deposited);
            }
        }
    }
}
