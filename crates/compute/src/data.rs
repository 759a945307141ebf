//! Deterministic randomness and training data.
//!
//! The random stream is SplitMix64 (one `u64` of state, saved in every checkpoint). Data is a
//! byte corpus — a file, or the built-in synthetic *arithmetic* task — and each step draws
//! `batch_size` windows of `n_ctx + 1` bytes at offsets `next_u64() % (len − n_ctx)`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
