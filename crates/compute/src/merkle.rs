//! The trace Merkle tree over checkpoint hashes `h_0..h_n`.
//!
//! Leaf `= SHA-256(0x00 ‖ h_i)`; node `= SHA-256(0x01 ‖ left ‖ right)`; a level with an odd
//! count carries its last node up unchanged. The root of a single leaf is that leaf's hash.

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

fn leaf(h: &Hash) -> Hash {
    let mut s = Sha256::new();
    s.update([0u8]);
    s.update(h);
    s.finalize().into()
}

fn node(l: &Hash, r: &Hash) -> Hash {
    let mut s = Sha256::new();
    s.update([1u8]);
    s.update(l);
    s.update(r);
    s.finalize().into()
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level.chunks(2).map(|p| if p.len() == 2 { node(&p[0], &p[1]) } else { p[0] }).collect()
}

/// Root over `hashes` (all-zero for an empty list).
pub fn root(hashes: &[Hash]) -> Hash {
    if hashes.is_empty() {
        return [0; 32];
    }
    let mut level: Vec<Hash> = hashes.iter().map(leaf).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// One step of a proof: the sibling hash and whether it sits on the left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofStep {
    /// Sibling node.
    pub sibling: Hash,
    /// True if the sibling is the left child.
    pub sibling_is_left: bool,
}

/// Inclusion proof for `hashes[index]` (`None` if out of range).
pub fn proof(hashes: &[Hash], index: usize) -> Option<Vec<ProofStep>> {
    if index >= hashes.len() {
        return None;
    }
    let mut level: Vec<Hash> = hashes.iter().map(leaf).collect();
    let mut i = index;
    let mut out = Vec::new();
    while level.len() > 1 {
        let sib = i ^ 1;
        if sib < level.len() {
            out.push(ProofStep { sibling: level[sib], sibling_is_left: sib < i });
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(out)
}

/// Checks that `h` is a leaf under `root` along `proof`.
pub fn verify(root_hash: &Hash, h: &Hash, proof: &[ProofStep]) -> bool {
    let mut acc = leaf(h);
    for s in proof {
        acc = if s.sibling_is_left { node(&s.sibling, &acc) } else { node(&acc, &s.sibling) };
    }
    &acc == root_hash
}

/// [`verify`], and the proof's shape is that of leaf `index` in a tree of `leaves` leaves
/// (so a proof for another position cannot stand in for this one).
pub fn verify_at(
    root_hash: &Hash,
    h: &Hash,
    index: usize,
    leaves: usize,
    proof: &[ProofStep],
) -> bool {
    if index >= leaves {
        return false;
    }
    let (mut i, mut n, mut steps) = (index, leaves, proof.iter());
    while n > 1 {
        let sib = i ^ 1;
        if sib < n {
            match steps.next() {
                Some(s) if s.sibling_is_left == (sib < i) => {}
                _ => return false,
            }
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    steps.next().is_none() && verify(root_hash, h, proof)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_verify_for_every_leaf_and_size() {
        for n in 1..12usize {
            let hs: Vec<Hash> = (0..n).map(|i| [i as u8; 32]).collect();
            let r = root(&hs);
            for (i, h) in hs.iter().enumerate() {
                let p = proof(&hs, i).expect("in range");
                assert!(verify(&r, h, &p), "n={n} i={i}");
                assert!(verify_at(&r, h, i, n, &p), "n={n} i={i}");
                for j in (0..n).filter(|j| *j != i) {
                    assert!(!verify_at(&r, h, j, n, &p), "n={n} i={i} j={j}");
                }
                assert!(!verify(&r, &[99; 32], &p));
            }
        }
    }
}
