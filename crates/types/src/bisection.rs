//! One level of the dispute game (VERIFICATION.md): a bisection over a sequence both sides
//! committed to, under a chess clock.
//!
//! Every level of a dispute — the checkpoints of a trace, the steps of a segment, the ops of a
//! step, the elements of an op's output, the positions in one element's chain of operations — is
//! a sequence `v_0 ..= v_n` of 32-byte values (hashes or roots) that each side committed to as a
//! Merkle root. Both sides agree on `v_0` and disagree on `v_n`. Each round both reveal their
//! value at the midpoint (the caller checks each against that side's root before passing it
//! here); equal values move the agreed end up, different ones move the disputed end down. After
//! ⌈log2 n⌉ rounds one transition is left, `v_lo → v_lo+1`: both accept its input and dispute its
//! output. The next level opens that transition; at the last level the referee recomputes it and
//! [`Bisection::verdict`] names the side that was right. An honest side wins whatever the other
//! reveals: every value it reveals is the true one, so the agreed value is always true and the
//! last transition's true output is its own.
//!
//! Each side has a chess clock: a budget of blocks that runs while its reveal is awaited. A side
//! that lets its budget run out before revealing loses ([`Bisection::timed_out`]).
//!
//! What it is not: Merkle proofs (`iollm_repops::merkle` checks a revealed value against a
//! side's root), the step function, or the money (the market pays the winner).

use crate::BlockNumber;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// A committed value: a state root, checkpoint hash or the bits of one intermediate result.
pub type Value = [u8; 32];

/// A side of a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Side {
    /// The executor, defending its submitted result.
    Executor,
    /// The challenger, with its own claim of the result.
    Challenger,
}

impl Side {
    /// Both sides, in index order.
    pub const BOTH: [Side; 2] = [Side::Executor, Side::Challenger];

    fn index(self) -> usize {
        match self {
            Side::Executor => 0,
            Side::Challenger => 1,
        }
    }
}

/// Who the referee's recomputation of the last transition proved right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Verdict {
    /// The executor's output of the transition is the true one.
    Executor,
    /// The challenger's output is the true one.
    Challenger,
    /// Neither side's output is true: the executor's result is wrong, and so is the
    /// challenger's claim.
    Neither,
}

/// Why a move was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum BisectionError {
    /// A sequence needs at least one transition (`n ≥ 1`).
    Empty,
    /// The two sides' claims are equal: there is nothing to dispute.
    NoDisagreement,
    /// The bisection is narrowed to one transition: no more reveals.
    Narrowed,
    /// This side already revealed its value this round.
    AlreadyRevealed,
    /// This side's clock ran out: it has lost.
    ClockRanOut,
    /// A block count overflowed.
    Overflow,
}

/// The state of one level's bisection.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Bisection {
    /// The last position both sides agree on.
    pub lo: u32,
    /// The first position they disagree on (`lo < hi`).
    pub hi: u32,
    /// The value both revealed at `lo`.
    pub agreed: Value,
    /// Each side's value at `hi` (executor, challenger); never equal.
    pub disputed: [Value; 2],
    /// This round's reveals at [`Bisection::midpoint`], by side.
    pub revealed: [Option<Value>; 2],
    /// Blocks left on each side's clock (executor, challenger).
    pub clock: [BlockNumber; 2],
    /// Block at which the current round opened: each side's clock runs from here until it
    /// reveals.
    pub round_opened: BlockNumber,
    /// Rounds completed.
    pub rounds: u32,
}

impl Bisection {
    /// Opens a bisection over positions `0 ..= n`: both sides have `start` at 0, and `claims`
    /// (executor, challenger) at `n`; each gets `budget` blocks on its clock. A side may wait for
    /// the other's reveal before its own each round, so the caller gives each at least
    /// [`Bisection::max_rounds`]`(n)` times the blocks it grants one move. No deadline of the game
    /// passes `now + 2 × budget` (a side's deadline moves on only by what the other side spent),
    /// which must fit a block number. Once narrowed nobody owes a move: the caller opens the next
    /// level, or referees the transition, in the same call.
    pub fn open(
        n: u32,
        start: Value,
        claims: [Value; 2],
        budget: BlockNumber,
        now: BlockNumber,
    ) -> Result<Bisection, BisectionError> {
        if n == 0 {
            return Err(BisectionError::Empty);
        }
        if claims[0] == claims[1] {
            return Err(BisectionError::NoDisagreement);
        }
        budget.checked_mul(2).and_then(|b| now.checked_add(b)).ok_or(BisectionError::Overflow)?;
        Ok(Bisection {
            lo: 0,
            hi: n,
            agreed: start,
            disputed: claims,
            revealed: [None, None],
            clock: [budget, budget],
            round_opened: now,
            rounds: 0,
        })
    }

    /// Whether one transition is left (`hi = lo + 1`).
    pub fn is_narrowed(&self) -> bool {
        self.hi.checked_sub(self.lo) == Some(1)
    }

    /// The position whose values this round reveals; `None` once narrowed.
    pub fn midpoint(&self) -> Option<u32> {
        if self.is_narrowed() {
            return None;
        }
        let span = self.hi.checked_sub(self.lo)?;
        self.lo.checked_add(span / 2)
    }

    /// Whether `side` still has to reveal this round.
    pub fn awaits(&self, side: Side) -> bool {
        !self.is_narrowed() && self.revealed[side.index()].is_none()
    }

    /// The last block at which `side` may still reveal this round (it never overflows for a
    /// bisection [`Bisection::open`] accepted).
    pub fn deadline(&self, side: Side) -> BlockNumber {
        self.round_opened.saturating_add(self.clock[side.index()])
    }

    /// Records `side`'s value at the midpoint (already checked against its commitment). When
    /// both have revealed, the round closes: equal values become the agreed end, different
    /// ones the disputed end, and the next round opens at `now`.
    pub fn reveal(
        &mut self,
        side: Side,
        value: Value,
        now: BlockNumber,
    ) -> Result<(), BisectionError> {
        let mid = self.midpoint().ok_or(BisectionError::Narrowed)?;
        let i = side.index();
        if self.revealed[i].is_some() {
            return Err(BisectionError::AlreadyRevealed);
        }
        if now > self.deadline(side) {
            return Err(BisectionError::ClockRanOut);
        }
        // Within the deadline: the time spent fits the clock.
        let spent = now.saturating_sub(self.round_opened);
        self.clock[i] = self.clock[i].saturating_sub(spent);
        self.revealed[i] = Some(value);
        if let [Some(executor), Some(challenger)] = self.revealed {
            if executor == challenger {
                self.lo = mid;
                self.agreed = executor;
            } else {
                self.hi = mid;
                self.disputed = [executor, challenger];
            }
            self.revealed = [None, None];
            self.round_opened = now;
            self.rounds = self.rounds.checked_add(1).ok_or(BisectionError::Overflow)?;
        }
        Ok(())
    }

    /// The side whose clock ran out before it revealed, if any: it loses the dispute. If both
    /// did, the one whose deadline came first; on the same block, the executor (a result
    /// nobody defends does not stand).
    pub fn timed_out(&self, now: BlockNumber) -> Option<Side> {
        let late = |side: Side| self.awaits(side) && now > self.deadline(side);
        match (late(Side::Executor), late(Side::Challenger)) {
            (true, true) => {
                if self.deadline(Side::Challenger) < self.deadline(Side::Executor) {
                    Some(Side::Challenger)
                } else {
                    Some(Side::Executor)
                }
            }
            (true, false) => Some(Side::Executor),
            (false, true) => Some(Side::Challenger),
            (false, false) => None,
        }
    }

    /// Once narrowed: who was right about the last transition, given its true output
    /// (`truth`, recomputed by the referee from [`Bisection::agreed`]).
    pub fn verdict(&self, truth: &Value) -> Option<Verdict> {
        if !self.is_narrowed() {
            return None;
        }
        Some(if self.disputed[0] == *truth {
            Verdict::Executor
        } else if self.disputed[1] == *truth {
            Verdict::Challenger
        } else {
            Verdict::Neither
        })
    }

    /// The most rounds a sequence of `n` transitions takes: ⌈log2 n⌉.
    pub fn max_rounds(n: u32) -> u32 {
        match n {
            0 | 1 => 0,
            n => u32::BITS.saturating_sub(n.saturating_sub(1).leading_zeros()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// A stand-in for one step of the computation (deterministic, mixes every byte).
    fn step(v: &Value) -> Value {
        let mut out = [0u8; 32];
        let mut acc: u8 = 0x5a;
        for (i, b) in v.iter().enumerate() {
            acc = acc.rotate_left(3) ^ b.wrapping_mul(31) ^ (i as u8);
            out[i] = acc;
        }
        out
    }

    /// The true sequence `v_0 ..= v_n` from `start`.
    fn truth(start: Value, n: u32) -> Vec<Value> {
        let mut seq = alloc::vec![start];
        for _ in 0..n {
            let next = step(seq.last().unwrap());
            seq.push(next);
        }
        seq
    }

    /// A liar's sequence: the truth up to `from`, then its own values (never equal to the
    /// truth at `n`).
    fn lie(truth: &[Value], from: usize, noise: &[u8]) -> Vec<Value> {
        let mut seq = truth.to_vec();
        for (k, v) in seq.iter_mut().enumerate().skip(from.max(1)) {
            v[0] ^= noise[k % noise.len()] | 1;
        }
        seq
    }

    /// Plays a full bisection, both sides revealing from their sequences every round at block
    /// `round`; returns the verdict and the rounds played.
    fn play(executor: &[Value], challenger: &[Value]) -> (Verdict, u32) {
        let n = (executor.len() - 1) as u32;
        let claims = [executor[n as usize], challenger[n as usize]];
        let mut b = Bisection::open(n, executor[0], claims, 10, 0).unwrap();
        let mut now = 0;
        while let Some(mid) = b.midpoint() {
            now += 1;
            b.reveal(Side::Challenger, challenger[mid as usize], now).unwrap();
            b.reveal(Side::Executor, executor[mid as usize], now).unwrap();
            assert_ne!(b.disputed[0], b.disputed[1]);
        }
        assert!(b.is_narrowed());
        (b.verdict(&step(&b.agreed)).unwrap(), b.rounds)
    }

    proptest! {
        /// An honest executor wins against any challenger sequence, in at most ⌈log2 n⌉ rounds.
        #[test]
        fn an_honest_executor_always_wins(
            n in 1u32..300,
            start in any::<[u8; 32]>(),
            from in 0usize..300,
            noise in proptest::collection::vec(any::<u8>(), 1..8),
        ) {
            let honest = truth(start, n);
            let liar = lie(&honest, from.min(n as usize), &noise);
            let (verdict, rounds) = play(&honest, &liar);
            prop_assert_eq!(verdict, Verdict::Executor);
            prop_assert!(rounds <= Bisection::max_rounds(n));
        }

        /// An honest challenger wins against any wrong result, in at most ⌈log2 n⌉ rounds.
        #[test]
        fn an_honest_challenger_always_wins(
            n in 1u32..300,
            start in any::<[u8; 32]>(),
            from in 0usize..300,
            noise in proptest::collection::vec(any::<u8>(), 1..8),
        ) {
            let honest = truth(start, n);
            let cheat = lie(&honest, from.min(n as usize), &noise);
            let (verdict, rounds) = play(&cheat, &honest);
            prop_assert_eq!(verdict, Verdict::Challenger);
            prop_assert!(rounds <= Bisection::max_rounds(n));
        }

        /// Two liars: the side that left the truth first loses (so the guarantee is exactly
        /// that one honest side wins: a wrong result beats only a challenger who lied earlier).
        #[test]
        fn with_two_liars_the_first_to_leave_the_truth_loses(
            n in 1u32..100,
            start in any::<[u8; 32]>(),
            from in (0usize..100, 0usize..100),
            noise in (
                proptest::collection::vec(any::<u8>(), 1..8),
                proptest::collection::vec(any::<u8>(), 1..8),
            ),
        ) {
            let honest = truth(start, n);
            let executor = lie(&honest, from.0.min(n as usize), &noise.0);
            let mut challenger = lie(&honest, from.1.min(n as usize), &noise.1);
            challenger[n as usize][1] ^= 0x80;
            prop_assume!(challenger[n as usize] != executor[n as usize]);
            let left = |seq: &[Value]| seq.iter().zip(&honest).position(|(a, b)| a != b);
            let (verdict, _) = play(&executor, &challenger);
            match (left(&executor), left(&challenger)) {
                (Some(e), Some(c)) if e < c => prop_assert_ne!(verdict, Verdict::Executor),
                (Some(e), Some(c)) if c < e => prop_assert_ne!(verdict, Verdict::Challenger),
                _ => {}
            }
        }
    }

    #[test]
    fn rounds_are_the_ceiling_of_log2() {
        let cases = [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (1024, 10), (1025, 11)];
        for (n, r) in cases {
            assert_eq!(Bisection::max_rounds(n), r, "n = {n}");
        }
        assert_eq!(Bisection::max_rounds(u32::MAX), 32);
    }

    #[test]
    fn nothing_to_bisect_is_refused() {
        assert_eq!(
            Bisection::open(0, [0; 32], [[1; 32], [2; 32]], 5, 0),
            Err(BisectionError::Empty)
        );
        assert_eq!(
            Bisection::open(4, [0; 32], [[1; 32], [1; 32]], 5, 0),
            Err(BisectionError::NoDisagreement)
        );
        let b = Bisection::open(1, [0; 32], [[1; 32], [2; 32]], 5, 0).unwrap();
        assert!(b.is_narrowed());
        assert_eq!(b.midpoint(), None);
        assert_eq!(b.clone().reveal(Side::Executor, [0; 32], 1), Err(BisectionError::Narrowed));
        assert_eq!(b.timed_out(1_000), None, "nobody owes a move once narrowed");
    }

    #[test]
    fn a_clock_that_could_overflow_is_refused() {
        let claims = [[1; 32], [2; 32]];
        assert_eq!(
            Bisection::open(4, [0; 32], claims, u32::MAX / 2 + 1, 0),
            Err(BisectionError::Overflow)
        );
        assert_eq!(
            Bisection::open(4, [0; 32], claims, 10, u32::MAX - 19),
            Err(BisectionError::Overflow)
        );
        assert!(Bisection::open(4, [0; 32], claims, 10, u32::MAX - 20).is_ok());
    }

    /// However the sides time their reveals, no deadline passes `opened + 2 × budget`.
    #[test]
    fn deadlines_stay_within_twice_the_budget() {
        let budget = 50;
        let mut b = Bisection::open(1 << 20, [0; 32], [[1; 32], [2; 32]], budget, 0).unwrap();
        let mut now = 0;
        let mut k = 0u8;
        while b.midpoint().is_some() {
            // The executor answers at once, the challenger as late as it can.
            b.reveal(Side::Executor, [k; 32], now).unwrap();
            now = b.deadline(Side::Challenger);
            b.reveal(Side::Challenger, [k; 32], now).unwrap();
            k = k.wrapping_add(1);
            for side in Side::BOTH {
                assert!(b.deadline(side) <= 2 * budget, "{side:?}: {}", b.deadline(side));
            }
        }
        assert_eq!(b.clock[1], 0, "the challenger spent its whole clock");
    }

    #[test]
    fn each_side_reveals_once_a_round() {
        let mut b = Bisection::open(8, [0; 32], [[1; 32], [2; 32]], 5, 0).unwrap();
        assert_eq!(b.midpoint(), Some(4));
        b.reveal(Side::Executor, [4; 32], 1).unwrap();
        assert_eq!(b.reveal(Side::Executor, [4; 32], 1), Err(BisectionError::AlreadyRevealed));
        assert!(!b.awaits(Side::Executor) && b.awaits(Side::Challenger));
        b.reveal(Side::Challenger, [4; 32], 2).unwrap();
        assert_eq!((b.lo, b.hi, b.agreed, b.rounds), (4, 8, [4; 32], 1));
        assert_eq!(b.midpoint(), Some(6));
        b.reveal(Side::Challenger, [7; 32], 3).unwrap();
        b.reveal(Side::Executor, [6; 32], 3).unwrap();
        assert_eq!((b.lo, b.hi, b.disputed), (4, 6, [[6; 32], [7; 32]]));
    }

    #[test]
    fn a_side_that_lets_its_clock_run_out_loses() {
        // Budget 5 each. Round 1 opens at 0: the executor answers at 4 (1 left), the
        // challenger at 2 (3 left); round 2 opens at 4.
        let mut b = Bisection::open(8, [0; 32], [[1; 32], [2; 32]], 5, 0).unwrap();
        b.reveal(Side::Challenger, [4; 32], 2).unwrap();
        assert_eq!(b.timed_out(5), None);
        b.reveal(Side::Executor, [4; 32], 4).unwrap();
        assert_eq!(b.clock, [1, 3]);
        assert_eq!(b.deadline(Side::Executor), 5);
        assert_eq!(b.timed_out(5), None);
        assert_eq!(b.timed_out(6), Some(Side::Executor));
        assert_eq!(b.reveal(Side::Executor, [6; 32], 6), Err(BisectionError::ClockRanOut));
        // The challenger revealed in time: only the executor is late.
        b.reveal(Side::Challenger, [6; 32], 7).unwrap();
        assert_eq!(b.timed_out(100), Some(Side::Executor));
        // Both late: the one whose deadline came first loses; a tie goes against the executor.
        let b = Bisection::open(8, [0; 32], [[1; 32], [2; 32]], 5, 0).unwrap();
        assert_eq!(b.timed_out(6), Some(Side::Executor));
        let mut b = b;
        b.clock = [9, 5];
        assert_eq!(b.timed_out(10), Some(Side::Challenger));
    }
}
