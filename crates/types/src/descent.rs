//! Level 4 of the dispute game (VERIFICATION.md): a descent of the executor's Merkle tree over
//! the disputed op's output, down to one chunk, under a chess clock.
//!
//! Level 3 ends on one op whose output the two sides commit differently. The executor defends
//! its output root: each round it reveals the two children of the current node (the caller
//! checks `node = H(1 ‖ left ‖ right)`), and the challenger, who knows the true tensor, picks the
//! child it says is wrong. A node with one child (the last of an odd level, carried up
//! unchanged) is passed through without a round. At a leaf the executor reveals the chunk (the
//! caller checks it hashes to the leaf) and the challenger names the element it disputes, which
//! opens level 5. Only the executor's tree is walked: an honest executor reveals true children
//! whatever the challenger picks, so the challenger ends on a true element and loses level 5; an
//! honest challenger always finds a wrong child (a wrong node has one), so it ends on a wrong
//! element. Rounds: at most the tree's height.
//!
//! The tree is `iollm_repops::merkle`'s: level 0 holds the leaf hashes, level `l + 1` pairs
//! level `l`'s nodes, a last unpaired node carried up.

use crate::bisection::{Side, Value};
use crate::BlockNumber;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Whose move it is and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum Phase {
    /// The executor reveals the current node's two children.
    Children,
    /// The challenger picks the child it disputes.
    Pick,
    /// The executor reveals the leaf's chunk; the descent is then over.
    Leaf,
    /// Narrowed to one chunk, revealed.
    Done,
}

/// Why a move was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum DescentError {
    /// A tree needs at least one leaf.
    Empty,
    /// It is not this side's move, or not this kind of move.
    NotYourMove,
    /// This side's clock ran out: it has lost.
    ClockRanOut,
    /// A count overflowed.
    Overflow,
}

/// The state of one descent.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Descent {
    /// Leaves of the tree (chunks of the tensor).
    pub leaves: u64,
    /// The current node's level (0: a leaf) and index in that level.
    pub level: u32,
    /// Index of the current node in its level.
    pub index: u64,
    /// The executor's hash of the current node.
    pub node: Value,
    /// The children the executor revealed this round.
    pub children: Option<(Value, Value)>,
    /// Whose move it is and what it is.
    pub phase: Phase,
    /// Blocks left on each side's clock (executor, challenger).
    pub clock: [BlockNumber; 2],
    /// Block at which the current move became due.
    pub move_opened: BlockNumber,
    /// Moves made.
    pub moves: u32,
}

/// Nodes in level `level` of a tree of `leaves` leaves.
pub fn level_width(leaves: u64, level: u32) -> u64 {
    let mut n = leaves;
    for _ in 0..level {
        n = iollm_repops::ceil_div(n, 2);
    }
    n
}

/// The height of a tree of `leaves` leaves: the level of its root.
pub fn height(leaves: u64) -> u32 {
    let (mut n, mut h) = (leaves, 0u32);
    while n > 1 {
        n = iollm_repops::ceil_div(n, 2);
        h = h.saturating_add(1);
    }
    h
}

fn index(side: Side) -> usize {
    match side {
        Side::Executor => 0,
        Side::Challenger => 1,
    }
}

impl Descent {
    /// Opens a descent of the executor's tree of `leaves` leaves with root `root`; each side
    /// gets `budget` blocks on its clock.
    pub fn open(
        leaves: u64,
        root: Value,
        budget: BlockNumber,
        now: BlockNumber,
    ) -> Result<Descent, DescentError> {
        if leaves == 0 {
            return Err(DescentError::Empty);
        }
        budget.checked_mul(2).and_then(|b| now.checked_add(b)).ok_or(DescentError::Overflow)?;
        let mut d = Descent {
            leaves,
            level: height(leaves),
            index: 0,
            node: root,
            children: None,
            phase: Phase::Children,
            clock: [budget, budget],
            move_opened: now,
            moves: 0,
        };
        d.pass_carried();
        Ok(d)
    }

    /// Goes down through nodes with one child (their hash is the child's).
    fn pass_carried(&mut self) {
        while self.level > 0 {
            let below = level_width(self.leaves, self.level.saturating_sub(1));
            let right = self.index.saturating_mul(2).saturating_add(1);
            if right < below {
                break;
            }
            self.level = self.level.saturating_sub(1);
            self.index = self.index.saturating_mul(2);
        }
        self.phase = if self.level == 0 { Phase::Leaf } else { Phase::Children };
    }

    /// Whose move it is (`None` when done).
    pub fn turn(&self) -> Option<Side> {
        match self.phase {
            Phase::Children | Phase::Leaf => Some(Side::Executor),
            Phase::Pick => Some(Side::Challenger),
            Phase::Done => None,
        }
    }

    /// The last block at which the side to move may still move.
    pub fn deadline(&self) -> Option<BlockNumber> {
        let side = self.turn()?;
        Some(self.move_opened.saturating_add(self.clock[index(side)]))
    }

    /// The side whose clock ran out before its move, if any: it loses the dispute.
    pub fn timed_out(&self, now: BlockNumber) -> Option<Side> {
        let deadline = self.deadline()?;
        if now > deadline {
            self.turn()
        } else {
            None
        }
    }

    fn spend(&mut self, side: Side, phase: Phase, now: BlockNumber) -> Result<(), DescentError> {
        if self.turn() != Some(side) || self.phase != phase {
            return Err(DescentError::NotYourMove);
        }
        if self.deadline().is_some_and(|d| now > d) {
            return Err(DescentError::ClockRanOut);
        }
        let i = index(side);
        self.clock[i] = self.clock[i].saturating_sub(now.saturating_sub(self.move_opened));
        self.move_opened = now;
        self.moves = self.moves.checked_add(1).ok_or(DescentError::Overflow)?;
        Ok(())
    }

    /// The executor reveals the current node's children (the caller checked
    /// `node = H(1 ‖ left ‖ right)`).
    pub fn reveal_children(
        &mut self,
        left: Value,
        right: Value,
        now: BlockNumber,
    ) -> Result<(), DescentError> {
        self.spend(Side::Executor, Phase::Children, now)?;
        self.children = Some((left, right));
        self.phase = Phase::Pick;
        Ok(())
    }

    /// The challenger picks the child it disputes (`right`: the second one).
    pub fn pick(&mut self, right: bool, now: BlockNumber) -> Result<(), DescentError> {
        let (l, r) = self.children.ok_or(DescentError::NotYourMove)?;
        self.spend(Side::Challenger, Phase::Pick, now)?;
        self.node = if right { r } else { l };
        self.level = self.level.saturating_sub(1);
        self.index = self.index.saturating_mul(2).saturating_add(u64::from(right));
        self.children = None;
        self.pass_carried();
        Ok(())
    }

    /// The executor reveals the leaf's chunk (the caller checked it hashes to [`Descent::node`]);
    /// the disputed chunk is [`Descent::index`].
    pub fn reveal_leaf(&mut self, now: BlockNumber) -> Result<(), DescentError> {
        self.spend(Side::Executor, Phase::Leaf, now)?;
        self.phase = Phase::Done;
        Ok(())
    }

    /// The most moves a descent of `leaves` leaves takes: two per level, then the leaf.
    pub fn max_moves(leaves: u64) -> u32 {
        height(leaves).saturating_mul(2).saturating_add(1)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// A stand-in for the hash (deterministic, mixes every byte of every part).
    fn h(parts: &[&[u8]]) -> Value {
        let mut out = [0u8; 32];
        let mut acc: u8 = 0x5a;
        let mut k = 0usize;
        for p in parts {
            for b in p.iter() {
                acc = acc.rotate_left(3) ^ b.wrapping_mul(31) ^ (k as u8);
                out[k % 32] ^= acc;
                k += 1;
            }
        }
        out
    }

    /// Every level of the tree over `leaves` (level 0: leaf hashes), `iollm_repops::merkle`'s
    /// layout.
    fn tree(values: &[Value]) -> Vec<Vec<Value>> {
        let mut levels = alloc::vec![values.iter().map(|v| h(&[&[0], v])).collect::<Vec<_>>()];
        while levels.last().unwrap().len() > 1 {
            let next = levels
                .last()
                .unwrap()
                .chunks(2)
                .map(|p| if p.len() == 2 { h(&[&[1], &p[0], &p[1]]) } else { p[0] })
                .collect();
            levels.push(next);
        }
        levels
    }

    /// Plays a descent of `executor`'s tree; the challenger picks by comparing with `truth`'s
    /// tree (or, if lying, picks `lies` bits). Returns the leaf reached.
    fn play(executor: &[Value], truth: &[Value], lies: Option<u64>) -> u64 {
        let (e, t) = (tree(executor), tree(truth));
        let root = e.last().unwrap()[0];
        let mut d = Descent::open(executor.len() as u64, root, 10, 0).unwrap();
        let mut now = 0;
        while d.phase != Phase::Done {
            now += 1;
            match d.phase {
                Phase::Children => {
                    let below = &e[d.level as usize - 1];
                    let (l, r) = (below[2 * d.index as usize], below[2 * d.index as usize + 1]);
                    assert_eq!(h(&[&[1], &l, &r]), d.node, "the children make the node");
                    d.reveal_children(l, r, now).unwrap();
                }
                Phase::Pick => {
                    let right = match lies {
                        Some(bits) => bits >> d.level & 1 == 1,
                        None => {
                            let (l, _) = d.children.unwrap();
                            l == t[d.level as usize - 1][2 * d.index as usize]
                        }
                    };
                    d.pick(right, now).unwrap();
                }
                Phase::Leaf => {
                    assert_eq!(e[0][d.index as usize], d.node, "the leaf is the executor's");
                    d.reveal_leaf(now).unwrap();
                }
                Phase::Done => unreachable!(),
            }
        }
        assert!(d.moves <= Descent::max_moves(executor.len() as u64));
        d.index
    }

    fn values(n: usize, seed: u8) -> Vec<Value> {
        (0..n).map(|i| h(&[&[seed], &(i as u64).to_le_bytes()])).collect()
    }

    proptest! {
        /// An honest challenger always reaches a leaf where the executor's tree is wrong.
        #[test]
        fn an_honest_challenger_reaches_a_wrong_leaf(
            n in 1usize..200,
            wrong in proptest::collection::vec(0usize..200, 1..4),
        ) {
            let truth = values(n, 1);
            let mut cheat = truth.clone();
            for (k, w) in wrong.iter().enumerate() {
                cheat[w % n][0] ^= 1 << k;
            }
            let leaf = play(&cheat, &truth, None) as usize;
            prop_assert_ne!(cheat[leaf], truth[leaf]);
        }

        /// Against an honest executor any picks end on a true leaf (which level 5 then defends).
        #[test]
        fn an_honest_executor_reveals_only_true_leaves(n in 1usize..200, bits in any::<u64>()) {
            let truth = values(n, 2);
            let leaf = play(&truth, &truth, Some(bits)) as usize;
            prop_assert!(leaf < n);
        }
    }

    #[test]
    fn a_side_that_does_not_move_in_time_loses_and_moves_out_of_turn_are_refused() {
        let truth = values(5, 3);
        let root = tree(&truth).last().unwrap()[0];
        let mut d = Descent::open(5, root, 10, 100).unwrap();
        assert_eq!(d.pick(false, 101), Err(DescentError::NotYourMove));
        assert_eq!(d.reveal_leaf(101), Err(DescentError::NotYourMove));
        assert_eq!(d.timed_out(110), None);
        assert_eq!(d.timed_out(111), Some(Side::Executor));
        assert_eq!(d.reveal_children([0; 32], [1; 32], 111), Err(DescentError::ClockRanOut));
        d.reveal_children([0; 32], [1; 32], 104).unwrap();
        // The challenger's clock runs from the executor's move.
        assert_eq!(d.timed_out(114), None);
        assert_eq!(d.timed_out(115), Some(Side::Challenger));
        assert_eq!(Descent::open(0, root, 10, 0), Err(DescentError::Empty));
        assert_eq!(Descent::open(1, root, u32::MAX, 0), Err(DescentError::Overflow));
        // One leaf: nothing to descend, the executor reveals it at once.
        assert_eq!(Descent::open(1, root, 10, 0).unwrap().phase, Phase::Leaf);
    }
}
