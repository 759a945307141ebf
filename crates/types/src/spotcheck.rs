//! Spot checks no one can predict (VERIFICATION.md), by commit–reveal: ink! contracts have no
//! randomness and no block hashes. A verifier signs up for a job with a bond and
//! [`commitment`]`(account, secret)` before the result exists; once the executor's trace root is
//! on chain it reveals the secret ([`opens`]). Its [`draw`] — the hash of the secret and the trace
//! root — picks the segment it must replay ([`segment`]), and, when more verifiers signed up than
//! the job has slots, which of them check ([`admitted`]: the lowest draws). The executor cannot
//! know the segments when it commits; a verifier cannot know its segment before the result.
//! Every verifier also replays the last segment ([`checked_segments`]): it ends at `h_n`, the
//! state the reported loss and the output come from, so a cheat confined to it (an honest run
//! with only its last state forged, say) is found by every honest verifier, not by the one in
//! `segments` whose draw falls there.
//!
//! The executor commits, with its result, a root over one [`leaf`] per segment: the hash of the
//! segment's "steps root" (the root over its per-step state roots), which only a replay of the
//! segment yields. A verifier's attestation carries its segment's steps root, checked against
//! that commitment ([`matches`]), so copying the published checkpoints attests nothing.
//!
//! The hash is the caller's ([`Hasher`]: a contract passes its host's SHA-256); what it is not:
//! the bonds, the deadlines or the money, which the market holds.

use crate::AccountBytes;
use alloc::vec::Vec;
use iollm_repops::merkle::{self, Hasher};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// The most verifiers that may sign up for one job (finalize visits each once).
pub const MAX_SIGN_UPS: u8 = 16;

/// A replayed segment's steps root and its leaf's path in the executor's checks tree: what an
/// attestation carries for each of its [`checked_segments`].
pub type SegmentCheck = (Hash, Vec<Hash>);

/// The executor's checks-tree leaf for a segment: the hash of the root over the segment's
/// per-step state roots (its "steps root"). The leaves may be published; the steps roots are
/// what only a replay of the segment yields.
pub fn leaf<H: Hasher>(steps_root: &Hash) -> Hash {
    iollm_repops::commit::spotcheck_leaf::<H>(steps_root)
}

/// The executor's commitment: the root over its segments' [`leaf`]s, in segment order.
pub fn checks_root<H: Hasher>(leaves: &[Hash]) -> Hash {
    merkle::root::<H>(leaves)
}

/// The path a verifier sends with segment `segment`'s steps root, from the published leaves
/// (`None` out of range).
pub fn checks_path<H: Hasher>(leaves: &[Hash], segment: u64) -> Option<Vec<Hash>> {
    merkle::proof::<H>(leaves, segment)
}

/// Whether `steps_root` is segment `segment`'s leaf of the checks tree of `segments` leaves
/// committed as `checks_root` (the path is derived from the index, never supplied).
pub fn matches<H: Hasher>(
    checks_root: &Hash,
    steps_root: &Hash,
    segment: u64,
    segments: u64,
    path: &[Hash],
) -> bool {
    merkle::verify::<H>(checks_root, &leaf::<H>(steps_root), segment, segments, path)
}

/// What a verifier commits to when it signs up: the hash of its account and its secret, so
/// another account cannot copy the commitment and reveal the same secret.
pub fn commitment<H: Hasher>(account: &AccountBytes, secret: &Hash) -> Hash {
    H::hash(&[&b"iollm-spotcheck-commit"[..], &account[..], &secret[..]])
}

/// Whether `secret` opens `commit` for `account`.
pub fn opens<H: Hasher>(commit: &Hash, account: &AccountBytes, secret: &Hash) -> bool {
    commitment::<H>(account, secret) == *commit
}

/// The verifier's draw: the hash of its revealed secret and the committed trace root.
pub fn draw<H: Hasher>(secret: &Hash, trace_root: &Hash) -> Hash {
    H::hash(&[&b"iollm-spotcheck-draw"[..], &secret[..], &trace_root[..]])
}

/// The segment a draw picks among `segments` (its first 8 bytes, little-endian, modulo the
/// count; the bias is below `segments / 2^64`). `None` for zero segments.
pub fn segment(draw: &Hash, segments: u64) -> Option<u64> {
    let mut head = [0u8; 8];
    head.copy_from_slice(&draw[..8]);
    u64::from_le_bytes(head).checked_rem(segments)
}

/// The segments a verifier with `draw` replays among `segments`, in the order its attestation
/// carries their checks: the one it draws, then the last unless that is the one drawn. Empty
/// for zero segments.
pub fn checked_segments(draw: &Hash, segments: u64) -> Vec<u64> {
    let Some(drawn) = segment(draw, segments) else { return Vec::new() };
    let last = segments.saturating_sub(1);
    if drawn == last {
        alloc::vec![drawn]
    } else {
        alloc::vec![drawn, last]
    }
}

/// Which sign-ups check when there are more than `slots`: the indices of the `slots` lowest
/// draws (bytewise), ties to the earlier sign-up, in sign-up order. Signing up early, or with
/// many accounts each bonded, buys no more than each account's fair chance.
pub fn admitted(draws: &[Hash], slots: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..draws.len()).collect();
    order.sort_by(|a, b| draws[*a].cmp(&draws[*b]).then(a.cmp(b)));
    order.truncate(slots);
    order.sort_unstable();
    order
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use crate::TestSha as Sha;
    use proptest::prelude::*;

    proptest! {
        /// Only the committed secret, revealed by the account that committed it, opens.
        #[test]
        fn only_the_committer_opens_its_commitment(
            account in any::<[u8; 32]>(),
            other in any::<[u8; 32]>(),
            secret in any::<[u8; 32]>(),
            guess in any::<[u8; 32]>(),
        ) {
            let commit = commitment::<Sha>(&account, &secret);
            prop_assert!(opens::<Sha>(&commit, &account, &secret));
            prop_assert_eq!(opens::<Sha>(&commit, &other, &secret), other == account);
            prop_assert_eq!(opens::<Sha>(&commit, &account, &guess), guess == secret);
        }

        /// A draw picks a segment in range.
        #[test]
        fn a_draw_picks_a_segment_in_range(
            secret in any::<[u8; 32]>(),
            root in any::<[u8; 32]>(),
            segments in 1u64..10_000,
        ) {
            let d = draw::<Sha>(&secret, &root);
            prop_assert!(segment(&d, segments).unwrap() < segments);
            prop_assert_eq!(segment(&d, 0), None);
        }

        /// A verifier replays the segment it draws and the last one, each once.
        #[test]
        fn every_verifier_replays_its_draw_and_the_last_segment(
            secret in any::<[u8; 32]>(),
            root in any::<[u8; 32]>(),
            segments in 1u64..10_000,
        ) {
            let d = draw::<Sha>(&secret, &root);
            let checked = checked_segments(&d, segments);
            let drawn = segment(&d, segments).unwrap();
            prop_assert_eq!(checked[0], drawn);
            prop_assert_eq!(*checked.last().unwrap(), segments - 1);
            prop_assert_eq!(checked.len(), if drawn == segments - 1 { 1 } else { 2 });
            prop_assert!(checked_segments(&d, 0).is_empty());
        }

        /// Exactly `min(slots, sign-ups)` are admitted, each with a draw no higher than any
        /// left out, in sign-up order.
        #[test]
        fn the_lowest_draws_are_admitted(
            draws in proptest::collection::vec(any::<[u8; 32]>(), 0..20),
            slots in 0usize..25,
        ) {
            let picked = admitted(&draws, slots);
            prop_assert_eq!(picked.len(), slots.min(draws.len()));
            prop_assert!(picked.windows(2).all(|w| w[0] < w[1]));
            for i in (0..draws.len()).filter(|i| !picked.contains(i)) {
                for &p in &picked {
                    prop_assert!(draws[p] <= draws[i]);
                }
            }
        }
    }

    /// A steps root matches only at its own segment of the executor's checks tree, with the
    /// path derived from the index: another segment's root, another index, a leaf instead of a root or a short path fail.
    #[test]
    fn only_the_segments_own_steps_root_matches() {
        let steps: Vec<Hash> = (0..5u8).map(|i| [i; 32]).collect();
        let leaves: Vec<Hash> = steps.iter().map(leaf::<Sha>).collect();
        let root = checks_root::<Sha>(&leaves);
        for (i, s) in steps.iter().enumerate() {
            let path = checks_path::<Sha>(&leaves, i as u64).unwrap();
            assert!(matches::<Sha>(&root, s, i as u64, 5, &path));
            assert!(!matches::<Sha>(&root, &steps[(i + 1) % 5], i as u64, 5, &path));
            assert!(!matches::<Sha>(&root, s, (i as u64 + 1) % 5, 5, &path));
            assert!(
                !matches::<Sha>(&root, &leaves[i], i as u64, 5, &path),
                "a leaf is not a steps root"
            );
            assert!(!matches::<Sha>(&root, s, i as u64, 5, &path[1..]));
        }
    }

    /// Over many secrets the segments come out uniform (a loose χ² bound: 16 segments, 16 000
    /// draws; the 99.9 % quantile of χ² with 15 degrees of freedom is 37.7).
    #[test]
    fn segments_are_uniform() {
        let root = [7u8; 32];
        let mut counts = [0u32; 16];
        for i in 0..16_000u32 {
            let mut secret = [0u8; 32];
            secret[..4].copy_from_slice(&i.to_le_bytes());
            counts[segment(&draw::<Sha>(&secret, &root), 16).unwrap() as usize] += 1;
        }
        let chi2: f64 = counts.iter().map(|&c| (f64::from(c) - 1000.0).powi(2) / 1000.0).sum();
        assert!(chi2 < 37.7, "{counts:?}: χ² = {chi2}");
    }

    /// A sybil with many bonded sign-ups is admitted by draw, not by arriving first: with 3
    /// slots and 10 sign-ups, which are admitted depends on the trace root only.
    #[test]
    fn early_sign_ups_are_not_favoured() {
        let secrets: Vec<Hash> = (0..10u8).map(|i| [i; 32]).collect();
        let mut first_three = 0;
        for r in 0..200u8 {
            let root = [r; 32];
            let draws: Vec<Hash> = secrets.iter().map(|s| draw::<Sha>(s, &root)).collect();
            if admitted(&draws, 3) == [0, 1, 2] {
                first_three += 1;
            }
        }
        // 3 of 10 in order has probability 1/120: about 2 of 200 roots.
        assert!(first_three < 10, "{first_three}");
    }
}
