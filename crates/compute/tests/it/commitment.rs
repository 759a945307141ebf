//! The state root: every element of a checkpoint's tensors is proven against `h_i` by its chunk,
//! the chunk's path in the tensors' tree and the header's hash, checked as the referee contract
//! checks it (`iollm_repops::commit`, path fixed by position and size); a changed word, another
//! position, another size or a forged state does not verify.

use crate::common::micro_config;
use iollm_compute::merkle::Sha;
use iollm_compute::train::checkpoint_path;
use iollm_compute::{train, Runtime, TrainState};
use iollm_repops::commit::{tensor_root, Header, StateProof, CHUNK_WORDS};
use iollm_repops::merkle;

#[test]
fn every_element_is_proven_against_the_state_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = micro_config(2, 2);
    let out = train(&cfg, dir.path(), &Runtime::new(2), &mut iollm_compute::go_on).expect("train");
    let bytes = std::fs::read(checkpoint_path(dir.path(), 1)).expect("checkpoint");
    let (st, config_hash, h) = TrainState::decode_checkpoint(&bytes).expect("decodes");
    assert_eq!(h, out.hashes[1], "the file's trailer is the state root");
    assert_eq!(st.hash(&config_hash), h);
    let n = st.params.len() as u64;
    let per_chunk = CHUNK_WORDS as u64;
    let total = 3 * n;
    // The trainer's byte-wise tensors root is the words' tensor root the contract computes.
    let header = st.prove_header(&config_hash);
    assert_eq!(header.tensors_root, tensor_root::<Sha>(&st.step_inputs().0));
    // Chunk edges, each tensor's first and last element, the short last chunk, and a spread.
    let mut picks = vec![0, per_chunk - 1, per_chunk, n - 1, n, 2 * n, total - 1];
    picks.extend((0..64).map(|k| k * 7919 % total));
    for e in picks {
        let p = st.prove_element(&config_hash, e).expect("in range");
        let want = [&st.params, &st.m, &st.v][(e / n) as usize][(e % n) as usize];
        assert_eq!(p.element.value(), Some(want.to_bits()), "element {e}");
        assert!(p.verify::<Sha>(&h, n), "element {e}");
        // The size comes from the model, not from the prover (the root does not commit to
        // it): a size that changes the last chunk's length refuses that chunk.
        if e / per_chunk == (total - 1) / per_chunk {
            assert!(!p.verify::<Sha>(&h, n + 1), "element {e}: another size");
        }
        // A changed word of the chunk, or the proof presented for another position, fails.
        let mut bent = p.clone();
        bent.element.chunk[(e % per_chunk) as usize] ^= 1;
        assert!(!bent.verify::<Sha>(&h, n), "element {e}");
        let mut moved = p.clone();
        moved.element.index = e + per_chunk;
        if moved.element.index < total {
            assert!(!moved.verify::<Sha>(&h, n), "element {e} moved");
        }
        let other = StateProof { header_hash: [0; 32], ..p.clone() };
        assert!(!other.verify::<Sha>(&h, n), "element {e}: another header");
        assert!(!p.verify::<Sha>(&out.hashes[0], n), "another checkpoint's root");
    }
    assert_eq!(st.prove_element(&config_hash, total), None);
    // An element index past the tensors, or one that wraps around to a real chunk, is refused.
    let p = st.prove_element(&config_hash, 5).expect("in range");
    for index in [total, total + 5, (1 << 62) + 5, u64::MAX] {
        let mut far = p.clone();
        far.element.index = index;
        assert!(!far.verify::<Sha>(&h, n), "element {index}");
    }
    assert!(!p.verify::<Sha>(&h, u64::MAX), "a size that overflows");
    // A chunk with a word appended is not the leaf's chunk.
    let mut padded = p.clone();
    padded.element.chunk.push(0);
    assert!(!padded.verify::<Sha>(&h, n));
    // The header: step, RNG state, optimizer counters, proven against the root.
    assert!(header.verify::<Sha>(&h));
    assert!(!header.verify::<Sha>(&out.hashes[0]), "another checkpoint's root");
    let mut bent = header.clone();
    bent.header[60] ^= 1;
    assert!(!bent.verify::<Sha>(&h));
    // Its bytes decode to the state's fields (what the market checks a submission's loss
    // against); a truncated or padded header does not decode.
    let (profile, fields) = Header::decode(&header.header).expect("decodes");
    assert_eq!(profile, iollm_repops::PROFILE.as_bytes());
    assert_eq!(
        (fields.config_hash, fields.step, fields.loss),
        (config_hash, st.step, st.loss.to_bits())
    );
    assert_eq!(fields.params, n);
    assert_eq!(fields.encode(iollm_repops::PROFILE), header.header);
    let len = header.header.len();
    assert_eq!(Header::decode(&header.header[..len - 1]), None);
    assert_eq!(Header::decode(&[&header.header[..], &[0]].concat()), None);
    // What the executor submits: the last checkpoint's header, proven as leaf n of the trace,
    // with the last step's loss; a last checkpoint that is not the trace's is refused.
    let result = iollm_compute::run_result(dir.path()).expect("a finished run");
    assert_eq!((result.trace_root, result.checks_root), (out.trace_root, out.checks_root));
    assert_eq!(result.loss.to_bits(), out.final_loss.to_bits());
    let h_n = *out.hashes.last().expect("hashes");
    assert!(result.last.verify::<Sha>(&h_n));
    let last = out.hashes.len() as u64 - 1;
    assert!(merkle::verify::<Sha>(&out.trace_root, &h_n, last, last + 1, &result.last_path));
    let last_file = checkpoint_path(dir.path(), last as usize);
    std::fs::copy(checkpoint_path(dir.path(), 0), &last_file).expect("copy");
    let err = iollm_compute::run_result(dir.path()).expect_err("another state");
    assert!(err.to_string().contains("not the trace's last state"), "{err}");
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
