//! Checking a leaf of a trace Merkle tree (`iollm_compute::merkle`'s layout: leaf
//! `H(0x00 ‖ h)`, node `H(0x01 ‖ left ‖ right)`, an odd level's last node carried up unchanged)
//! the way a contract must: the path is derived from the leaf's index and the tree's size, never
//! from directions the prover supplies, and the number of siblings must be exactly the path's.
//! The hash comes from the caller ([`Hasher`]), so a contract uses its host's SHA-256. [`root`]
//! and [`proof`] build the same tree (the trainer's commitments, `iollm_compute::merkle`).

use alloc::vec::Vec;

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
        n = crate::ceil_div(n, 2);
    }
    Some(len)
}

fn leaf<H: Hasher>(value: &Hash) -> Hash {
    H::hash(&[&[0], value])
}

fn node<H: Hasher>(left: &Hash, right: &Hash) -> Hash {
    H::hash(&[&[1], left, right])
}

fn next_level<H: Hasher>(level: &[Hash]) -> Vec<Hash> {
    level.chunks(2).map(|p| if p.len() == 2 { node::<H>(&p[0], &p[1]) } else { p[0] }).collect()
}

/// The root over `values` (all zeros for none; a single value's root is its leaf hash).
pub fn root<H: Hasher>(values: &[Hash]) -> Hash {
    if values.is_empty() {
        return [0; 32];
    }
    let mut level: Vec<Hash> = values.iter().map(leaf::<H>).collect();
    while level.len() > 1 {
        level = next_level::<H>(&level);
    }
    level[0]
}

/// Every level of the tree over `values`, from the leaves' hashes up to the root: what a side
/// answers a descent of the tree with (`levels[l][i]`'s children are `levels[l - 1][2i]` and
/// `levels[l - 1][2i + 1]`).
pub fn levels<H: Hasher>(values: &[Hash]) -> Vec<Vec<Hash>> {
    let mut levels = alloc::vec![values.iter().map(leaf::<H>).collect::<Vec<Hash>>()];
    while levels.last().map_or(0, Vec::len) > 1 {
        let next = next_level::<H>(&levels[levels.len() - 1]);
        levels.push(next);
    }
    levels
}

/// The siblings along the path of `values[index]`, from the bottom up (`None` out of range).
pub fn proof<H: Hasher>(values: &[Hash], index: u64) -> Option<Vec<Hash>> {
    let mut i = usize::try_from(index).ok().filter(|i| *i < values.len())?;
    let mut level: Vec<Hash> = values.iter().map(leaf::<H>).collect();
    let mut siblings = Vec::new();
    while level.len() > 1 {
        if let Some(s) = level.get(i ^ 1) {
            siblings.push(*s);
        }
        level = next_level::<H>(&level);
        i /= 2;
    }
    Some(siblings)
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
    root_from_path::<H>(value, index, leaves, siblings).as_ref() == Some(root)
}

/// The root that `value` at leaf `index` of a tree of `leaves` leaves with these siblings makes
/// (`None` when the number of siblings is not the path's).
pub fn root_from_path<H: Hasher>(
    value: &Hash,
    index: u64,
    leaves: u64,
    siblings: &[Hash],
) -> Option<Hash> {
    if proof_len(index, leaves) != Some(siblings.len() as u32) {
        return None;
    }
    let mut acc = leaf::<H>(value);
    let (mut i, mut n, mut next) = (index, leaves, siblings.iter());
    while n > 1 {
        if i ^ 1 < n {
            let sibling = next.next()?;
            acc = if i & 1 == 1 { node::<H>(sibling, &acc) } else { node::<H>(&acc, sibling) };
        }
        i /= 2;
        n = crate::ceil_div(n, 2);
    }
    Some(acc)
}
