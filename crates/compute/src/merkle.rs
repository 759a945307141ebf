//! The Merkle tree of every commitment (trace, state, corpus, tensors) with SHA-256: the one
//! definition in `iollm_repops::merkle` (leaf `SHA-256(0x00 ‖ h)`, node
//! `SHA-256(0x01 ‖ left ‖ right)`, an odd level's last node carried up unchanged), which the
//! referee contract runs with its host's SHA-256. A proof is the siblings from the bottom up; its
//! shape follows from the leaf's index and the tree's size, never from the prover.

use iollm_repops::merkle::{self as tree, Hasher};
use sha2::{Digest, Sha256};

pub use iollm_repops::merkle::Hash;

/// SHA-256 as the tree's hash.
pub struct Sha;

impl Hasher for Sha {
    fn hash(parts: &[&[u8]]) -> Hash {
        let mut s = Sha256::new();
        for p in parts {
            s.update(p);
        }
        s.finalize().into()
    }
}

/// Root over `hashes` (all-zero for an empty list).
pub fn root(hashes: &[Hash]) -> Hash {
    tree::root::<Sha>(hashes)
}

/// Inclusion proof for `hashes[index]`: its siblings, bottom up (`None` if out of range).
pub fn proof(hashes: &[Hash], index: usize) -> Option<Vec<Hash>> {
    tree::proof::<Sha>(hashes, index as u64)
}

/// Whether `h` is leaf `index` of the tree of `leaves` leaves with root `root_hash`.
pub fn verify_at(root_hash: &Hash, h: &Hash, index: usize, leaves: usize, proof: &[Hash]) -> bool {
    tree::verify::<Sha>(root_hash, h, index as u64, leaves as u64, proof)
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
                assert!(verify_at(&r, h, i, n, &p), "n={n} i={i}");
                for j in (0..n).filter(|j| *j != i) {
                    assert!(!verify_at(&r, h, j, n, &p), "n={n} i={i} j={j}");
                }
                assert!(!verify_at(&r, &[99; 32], i, n, &p));
            }
        }
    }
}
