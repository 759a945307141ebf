//! Checking a leaf of a trace Merkle tree (`iollm_compute::merkle`'s layout: leaf
//! `H(0x00 ‖ h)`, node `H(0x01 ‖ left ‖ right)`, an odd level's last node carried up unchanged)
//! the way a contract must: the path is derived from the leaf's index and the tree's size, never
//! from directions the prover supplies, and the number of siblings must be exactly the path's.
//! The hash comes from the caller ([`Hasher`]), so a contract uses its host's SHA-256.

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// SHA-256 over the concatenation of `parts`.
pub trait Hasher {
    /// The hash of `parts` concatenated.
    fn hash(parts: &[&[u8]]) -> Hash;
}

/// How many siblings the path of leaf `index` in a tree of `leaves` leaves has (`None` if the
/// index is out of range).
pub fn proof_len(index: u64, leaves: u64) -> Option<u32> {
    if index >= leaves {
        return None;
    }
    let (mut i, mut n, mut len) = (index, leaves, 0);
    while n > 1 {
        if i ^ 1 < n {
            len += 1;
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    Some(len)
}

/// Whether `value` is leaf `index` of the tree of `leaves` leaves whose root is `root`, given
/// the siblings along its path from the bottom up.
pub fn verify<H: Hasher>(
    root: &Hash,
    value: &Hash,
    index: u64,
    leaves: u64,
    siblings: &[Hash],
) -> bool {
    if proof_len(index, leaves) != Some(siblings.len() as u32) {
        return false;
    }
    let mut acc = H::hash(&[&[0], value]);
    let (mut i, mut n, mut next) = (index, leaves, siblings.iter());
    while n > 1 {
        if i ^ 1 < n {
            let Some(sibling) = next.next() else { return false };
            acc = if i & 1 == 1 {
                H::hash(&[&[1], sibling, &acc])
            } else {
                H::hash(&[&[1], &acc, sibling])
            };
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    acc == *root
}
