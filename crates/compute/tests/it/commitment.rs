//! The state root: every element of a checkpoint's tensors is proven against `h_i` by its chunk
//! and Merkle path, and checked the way the referee contract checks it
//! (`iollm_repops::merkle::verify`, path fixed by position and size); a changed byte, another
//! position or a forged state does not verify.

use crate::common::micro_config;
use iollm_compute::train::{checkpoint_path, state_leaf_count, STATE_CHUNK_BYTES};
use iollm_compute::{train, Runtime, TrainState};
use iollm_repops::merkle::{self as contract, Hasher};
use sha2::{Digest, Sha256};

struct HostSha256;

impl Hasher for HostSha256 {
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        let mut s = Sha256::new();
        for p in parts {
            s.update(p);
        }
        s.finalize().into()
    }
}

/// What the contract would check: the chunk's hash at its leaf, along the path derived from
/// the leaf and the leaf count the contract computes from the model's size.
fn contract_accepts(root: &[u8; 32], p: &iollm_compute::train::ElementProof, params: u64) -> bool {
    let chunk_hash: [u8; 32] = Sha256::digest(&p.chunk).into();
    let siblings: Vec<[u8; 32]> = p.path.iter().map(|s| s.sibling).collect();
    let leaves = state_leaf_count(params);
    let Some(leaf) = p.leaf() else { return false };
    contract::verify::<HostSha256>(root, &chunk_hash, leaf, leaves, &siblings)
}

#[test]
fn every_element_is_proven_against_the_state_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = micro_config(2, 2);
    let out = train(&cfg, dir.path(), &Runtime::new(2), &mut |_| {}).expect("train");
    let bytes = std::fs::read(checkpoint_path(dir.path(), 1)).expect("checkpoint");
    let (st, config_hash, h) = TrainState::decode_checkpoint(&bytes).expect("decodes");
    assert_eq!(h, out.hashes[1], "the file's trailer is the state root");
    assert_eq!(st.hash(&config_hash), h);
    let n = st.params.len() as u64;
    let per_chunk = (STATE_CHUNK_BYTES / 4) as u64;
    let total = 3 * n;
    // Chunk edges, each tensor's first and last element, the short last chunk, and a spread.
    let mut picks = vec![0, per_chunk - 1, per_chunk, n - 1, n, 2 * n, total - 1];
    picks.extend((0..64).map(|k| k * 7919 % total));
    for e in picks {
        let p = st.prove_element(&config_hash, e).expect("in range");
        let want = [&st.params, &st.m, &st.v][(e / n) as usize][(e % n) as usize];
        assert_eq!(p.value().map(f32::to_bits), Some(want.to_bits()), "element {e}");
        assert!(p.verify(&h, n), "element {e}");
        assert!(contract_accepts(&h, &p, n), "element {e}: the contract's check");
        // The leaf count comes from the model's size, not from the prover.
        let resized = iollm_compute::train::ElementProof { leaves: p.leaves + 1, ..p.clone() };
        assert!(!resized.verify(&h, n), "element {e}: another leaf count");
        // A changed byte of the chunk, or the proof presented for another position, fails.
        let mut bent = p.clone();
        bent.chunk[((e * 4) as usize) % STATE_CHUNK_BYTES] ^= 1;
        assert!(!bent.verify(&h, n) && !contract_accepts(&h, &bent, n), "element {e}");
        let moved = iollm_compute::train::ElementProof { element: e + per_chunk, ..p.clone() };
        if moved.element < total {
            assert!(!moved.verify(&h, n) && !contract_accepts(&h, &moved, n), "element {e} moved");
        }
        assert!(!p.verify(&out.hashes[0], n), "another checkpoint's root");
    }
    assert_eq!(st.prove_element(&config_hash, total), None);
    // An element index past the tensors, or one that wraps around to a real chunk, is refused.
    let p = st.prove_element(&config_hash, 5).expect("in range");
    for element in [total, total + 5, (1 << 62) + 5, u64::MAX] {
        let far = iollm_compute::train::ElementProof { element, ..p.clone() };
        assert!(!far.verify(&h, n), "element {element}");
    }
    // A chunk with bytes appended is not the leaf's chunk.
    let mut padded = p.clone();
    padded.chunk.push(0);
    assert!(!padded.verify(&h, n));
    // The header: step, RNG state, optimizer counters, proven as leaf 0.
    let header = st.prove_header(&config_hash);
    assert!(header.verify(&h, n));
    assert!(!header.verify(&out.hashes[0], n), "another checkpoint's root");
    let mut bent = header.clone();
    bent.header[60] ^= 1;
    assert!(!bent.verify(&h, n));
    // A forged state (one weight changed) has another root.
    let mut forged = st.clone();
    forged.params[3] += 1.0;
    assert_ne!(forged.hash(&config_hash), h);
}

/// The corpus commitment: any window (inside one chunk, across a boundary, up to the end) is
/// proven against the root; a changed byte, a missing or extra chunk, or another length is not.
#[test]
fn corpus_windows_are_proven_against_the_corpus_root() {
    use iollm_compute::data::{corpus_root, prove_window, CORPUS_CHUNK_BYTES};
    let corpus: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (root, len) = (corpus_root(&corpus), corpus.len() as u64);
    let c = CORPUS_CHUNK_BYTES as u64;
    for (offset, n) in [(0, 17), (c - 5, 17), (c, 1), (len - 17, 17), (0, len), (2 * c - 1, 2)] {
        let p = prove_window(&corpus, offset, n).expect("in range");
        let want = &corpus[offset as usize..(offset + n) as usize];
        assert_eq!(p.verify(&root, len).as_deref(), Some(want), "window {offset}+{n}");
        assert_eq!(p.verify(&root, len + 1), None, "another length");
        let mut bent = p.clone();
        bent.chunks[0].1[0] ^= 1;
        assert_eq!(bent.verify(&root, len), None, "a changed byte");
        let mut short = p.clone();
        short.chunks.pop();
        assert_eq!(short.verify(&root, len), None, "a missing chunk");
        let mut long = p.clone();
        long.chunks.push(long.chunks[0].clone());
        assert_eq!(long.verify(&root, len), None, "an extra chunk");
    }
    assert_eq!(prove_window(&corpus, len - 1, 2), None, "past the end");
    assert_eq!(prove_window(&corpus, 3, 0), None, "empty");
    let mut other = corpus.clone();
    other[9_999] ^= 1;
    assert_ne!(corpus_root(&other), root);
}
