//! Deterministic randomness and training data.
//!
//! The random stream is SplitMix64 (one `u64` of state, saved in every checkpoint). Data is a
//! byte corpus — a file, or the built-in synthetic *arithmetic* task — and each step draws
//! `batch_size` windows of `n_ctx + 1` bytes at offsets `next_u64() % (len − n_ctx)`. The corpus
//! is committed as a Merkle root over its length and its 4 KiB chunks ([`corpus_root`]), so one
//! window can be proven to a contract ([`prove_window`]).

use crate::merkle::{self, Hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Bytes of corpus under one leaf of [`corpus_root`].
pub const CORPUS_CHUNK_BYTES: usize = 4096;

/// The corpus commitment: the Merkle root ([`crate::merkle`]) over `SHA-256(len as u64 LE)` and
/// the SHA-256 of each [`CORPUS_CHUNK_BYTES`] chunk (the last one may be shorter).
pub fn corpus_root(corpus: &[u8]) -> Hash {
    merkle::root(&corpus_leaves(corpus))
}

fn corpus_leaves(corpus: &[u8]) -> Vec<Hash> {
    let mut leaves = vec![Sha256::digest((corpus.len() as u64).to_le_bytes()).into()];
    leaves.extend(corpus.chunks(CORPUS_CHUNK_BYTES).map(|c| -> Hash { Sha256::digest(c).into() }));
    leaves
}

/// A window of the corpus with what proves it against [`corpus_root`]: the chunks it overlaps,
/// each with its Merkle path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowProof {
    /// First byte of the window.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// `(chunk index, chunk bytes, path)` of every chunk the window overlaps, in order.
    pub chunks: Vec<(u64, Vec<u8>, Vec<Hash>)>,
    /// The path of leaf 0, the corpus length: the root does not commit to its leaf count, so
    /// the length is proven, not assumed.
    pub length_path: Vec<Hash>,
}

impl WindowProof {
    /// The window's bytes if every chunk is the right leaf of `root`, the root of a corpus of
    /// `corpus_len` bytes (the verifier knows the length from the job; the root commits to it).
    pub fn verify(&self, root: &Hash, corpus_len: u64) -> Option<Vec<u8>> {
        let end = self.offset.checked_add(self.len).filter(|&e| e <= corpus_len && self.len > 0)?;
        let chunk = CORPUS_CHUNK_BYTES as u64;
        let (first, last) = (self.offset / chunk, end.div_ceil(chunk));
        if self.chunks.len() as u64 != last - first {
            return None;
        }
        let leaves = 1 + corpus_len.div_ceil(chunk) as usize;
        let length: Hash = Sha256::digest(corpus_len.to_le_bytes()).into();
        if !merkle::verify_at(root, &length, 0, leaves, &self.length_path) {
            return None;
        }
        let mut out = Vec::with_capacity(self.len as usize);
        for (index, (claimed, bytes, path)) in (first..last).zip(&self.chunks) {
            let start = index * chunk;
            let hash: Hash = Sha256::digest(bytes).into();
            let ok = *claimed == index
                && bytes.len() as u64 == (corpus_len - start).min(chunk)
                && merkle::verify_at(root, &hash, 1 + index as usize, leaves, path);
            if !ok {
                return None;
            }
            let lo = self.offset.max(start) - start;
            let hi = end.min(start + chunk) - start;
            out.extend_from_slice(&bytes[lo as usize..hi as usize]);
        }
        Some(out)
    }
}

/// Bytes `offset .. offset + len` of `corpus` with their proof (`None` if out of range or empty).
pub fn prove_window(corpus: &[u8], offset: u64, len: u64) -> Option<WindowProof> {
    let end = offset.checked_add(len).filter(|&e| e <= corpus.len() as u64 && len > 0)?;
    let leaves = corpus_leaves(corpus);
    let chunk = CORPUS_CHUNK_BYTES as u64;
    let chunks = (offset / chunk..end.div_ceil(chunk))
        .map(|i| {
            let bytes = corpus.chunks(CORPUS_CHUNK_BYTES).nth(i as usize)?.to_vec();
            Some((i, bytes, merkle::proof(&leaves, 1 + i as usize)?))
        })
        .collect::<Option<Vec<_>>>()?;
    let length_path = merkle::proof(&leaves, 0)?;
    Some(WindowProof { offset, len, chunks, length_path })
}

/// SplitMix64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    /// The whole state.
    pub state: u64,
}

impl Rng {
    /// A stream starting at `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 random bits (exact in f32).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Where training bytes come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataConfig {
    /// The synthetic arithmetic-progression task ([`arithmetic_corpus`]).
    Arithmetic {
        /// Lines to generate.
        #[serde(default = "default_lines")]
        lines: usize,
    },
    /// A UTF-8 or binary file, used as raw bytes (path relative to the config file).
    File {
        /// The file.
        path: PathBuf,
    },
}

fn default_lines() -> usize {
    4000
}

/// Digits per line of the arithmetic task.
pub const ARITH_LINE_DIGITS: usize = 12;

/// The held-out line of the arithmetic task (start 7, step 3), never in the training corpus.
pub const ARITH_HELD_OUT: (u8, u8) = (7, 3);

/// One line of the arithmetic task: the step as a letter (`a` = 1 … `i` = 9), `:`, then digits
/// `a, a+s, a+2s, …` (mod 10), then `\n`. Example: start 7, step 3 → `c:703692581470\n`.
pub fn arithmetic_line(start: u8, step: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(ARITH_LINE_DIGITS + 3);
    out.push(b'a' + (step - 1) % 9);
    out.push(b':');
    let mut d = start % 10;
    for _ in 0..ARITH_LINE_DIGITS {
        out.push(b'0' + d);
        d = (d + step) % 10;
    }
    out.push(b'\n');
    out
}

/// `lines` lines with (start, step) drawn from `seed`, step in 1..=9, skipping
/// [`ARITH_HELD_OUT`]. A model that learns the task must continue a line from its first digits.
pub fn arithmetic_corpus(lines: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ 0xa817_4e71_c0de_0001);
    let mut out = Vec::with_capacity(lines * (ARITH_LINE_DIGITS + 3));
    let mut made = 0;
    while made < lines {
        let start = (rng.next_u64() % 10) as u8;
        let step = (rng.next_u64() % 9) as u8 + 1;
        if (start, step) == ARITH_HELD_OUT {
            continue;
        }
        out.extend_from_slice(&arithmetic_line(start, step));
        made += 1;
    }
    out
}

/// Draws one batch: `inputs` and `targets` of `batch·t` bytes each (targets shifted by one).
pub fn sample_batch(corpus: &[u8], rng: &mut Rng, batch: usize, t: usize) -> (Vec<u8>, Vec<u8>) {
    let span = (corpus.len() - t) as u64;
    let mut x = Vec::with_capacity(batch * t);
    let mut y = Vec::with_capacity(batch * t);
    for _ in 0..batch {
        let off = (rng.next_u64() % span) as usize;
        x.extend_from_slice(&corpus[off..off + t]);
        y.extend_from_slice(&corpus[off + 1..off + t + 1]);
    }
    (x, y)
}
