//! `iollm_repops::merkle` against the trainer's tree (`iollm_compute::merkle`): every leaf of
//! every size verifies, and a proof for another position, a short or long proof, another value
//! or another size does not.

use iollm_compute::merkle::{self as trainer, Sha};
use iollm_repops::merkle::{proof_len, verify, Hash, Hasher};
use proptest::prelude::*;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| Sha::hash(&[&i.to_le_bytes()])).collect()
}

fn siblings(hashes: &[Hash], index: u64) -> Vec<Hash> {
    trainer::proof(hashes, index as usize).unwrap()
}

#[test]
fn every_leaf_of_every_size_verifies_and_no_other_position_does() {
    for n in 1..=40u64 {
        let hs = leaves(n);
        let root = trainer::root(&hs);
        for i in 0..n {
            let path = siblings(&hs, i);
            assert_eq!(proof_len(i, n), Some(path.len() as u32), "n={n} i={i}");
            assert!(verify::<Sha>(&root, &hs[i as usize], i, n, &path), "n={n} i={i}");
            for j in (0..n).filter(|j| *j != i) {
                assert!(!verify::<Sha>(&root, &hs[i as usize], j, n, &path), "n={n} i={i} j={j}");
            }
            assert!(!verify::<Sha>(&root, &[7; 32], i, n, &path), "another value");
            // The size is not in the root: one with the same path shape gives the same root,
            // so a contract takes the size from what it stored with the root, not from a prover.
            if proof_len(i, n + 1) != proof_len(i, n) {
                assert!(!verify::<Sha>(&root, &hs[i as usize], i, n + 1, &path), "another size");
            }
            assert!(!verify::<Sha>(
                &root,
                &hs[i as usize],
                i,
                n,
                &[path.clone(), vec![root]].concat()
            ));
            if !path.is_empty() {
                assert!(!verify::<Sha>(&root, &hs[i as usize], i, n, &path[1..]), "short proof");
            }
        }
        assert_eq!(proof_len(n, n), None);
        assert!(!verify::<Sha>(&root, &hs[0], n, n, &[]), "out of range");
    }
}

proptest! {
    /// An interior node presented as a leaf (a second-preimage attempt) with the rest of the
    /// path never verifies, at any index: leaves and nodes are hashed under different prefixes
    /// and the path's length is fixed by the index and the size.
    #[test]
    fn an_interior_node_is_not_a_leaf(n in 2u64..200, pick in any::<u64>()) {
        let hs = leaves(n);
        let root = trainer::root(&hs);
        let i = (pick % (n / 2)) * 2;
        let path = siblings(&hs, i);
        let leaf = |h: &Hash| Sha::hash(&[&[0], h]);
        let node = Sha::hash(&[&[1], &leaf(&hs[i as usize]), &leaf(&hs[i as usize + 1])]);
        for k in 0..n {
            prop_assert!(!verify::<Sha>(&root, &node, k, n, &path[1..]), "k={}", k);
        }
        prop_assert!(verify::<Sha>(&root, &hs[i as usize], i, n, &path));
    }
}
