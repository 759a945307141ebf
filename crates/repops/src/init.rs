//! The state a job without a base model starts from (`REPOPS.md` §5), defined once for the
//! trainer and the referee: every parameter a function of the seed and its index alone, so the
//! dispute game can settle a disputed `h_0` by recomputing one 4 KiB chunk of it
//! ([`chunk`]). LayerNorm gains are 1, biases 0, every other tensor uniform in `[-a, a)`,
//! `a = 0.02·√3` rounded once: the `k`-th drawn weight (in layout order, over the drawn tensors
//! only) takes SplitMix64's `k + 1`-th output of the stream `seed ^` [`SEED_MIX`], its top 24
//! bits `u` made `(u − 2^23) / 2^23 · a` (exact, then one rounding). The moments `m`, `v` are
//! `+0`, the header is [`header`].

use crate::commit::{Header, CHUNK_WORDS};
use crate::merkle::Hash;
use crate::step::{splitmix, ParamLayout, GAMMA};
use crate::Binary32;
use alloc::vec::Vec;

/// What the weight stream's seed is mixed with (the sampler's stream takes the seed itself).
pub const SEED_MIX: u64 = 0x1011_1a2b_3c4d_5e6f;
/// Bits of `a`: `0.02f32 × √3f32`, rounded once.
pub const SCALE: u32 = 0x3d0d_e3bd;
/// Bits of 1.
const ONE: u32 = 0x3f80_0000;
/// Bits of `2^−23`.
const TWO_TO_MINUS_23: u32 = 0x3400_0000;

/// How a tensor starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Drawn from the weight stream (every tensor of rank 2).
    Drawn,
    /// 1 (LayerNorm gains).
    One,
    /// `+0` (biases).
    Zero,
}

impl ParamLayout {
    /// How tensor `i` (in layout order) starts: `wte`, `wpe` and the four matrices of a block
    /// drawn, the LayerNorm gains 1, the rest `+0`.
    pub fn fill(&self, i: usize) -> Fill {
        let (_, _, matrix) = self.tensors[i];
        let last_gain = self.tensors.len().saturating_sub(2);
        let gain = i == last_gain || (i >= 2 && i < last_gain && matches!((i - 2) % 12, 0 | 6));
        if matrix {
            Fill::Drawn
        } else if gain {
            Fill::One
        } else {
            Fill::Zero
        }
    }
}

/// The `k`-th drawn weight (from 0) of the stream of `seed`.
pub fn drawn<F: Binary32>(seed: u64, k: u64) -> u32 {
    let state = (seed ^ SEED_MIX).wrapping_add(k.wrapping_add(1).wrapping_mul(GAMMA));
    let u = (splitmix(state) >> 40) as i32 - (1 << 23);
    // `× 2^−23` is the exact division by `2^23` (cheaper in soft float: the referee computes
    // a whole chunk of these).
    (F::from_i32(u) * F::from_bits(TWO_TO_MINUS_23) * F::from_bits(SCALE)).to_bits()
}

/// Every initial parameter of `layout` for `seed`, in layout order.
pub fn params<F: Binary32>(layout: &ParamLayout, seed: u64) -> Vec<u32> {
    let mut out = Vec::with_capacity(layout.total);
    let mut k = 0u64;
    for (i, &(_, len, _)) in layout.tensors.iter().enumerate() {
        match layout.fill(i) {
            Fill::Drawn => {
                out.extend((k..k + len as u64).map(|k| drawn::<F>(seed, k)));
                k += len as u64;
            }
            Fill::One => out.resize(out.len() + len, ONE),
            Fill::Zero => out.resize(out.len() + len, 0),
        }
    }
    out
}

/// Chunk `index` of the initial tensors `params ‖ m ‖ v` for `seed` (`None` past the last):
/// what the referee compares the executor's chunk with.
pub fn chunk<F: Binary32>(layout: &ParamLayout, seed: u64, index: u64) -> Option<Vec<u32>> {
    let n = layout.total as u64;
    let first = index.checked_mul(CHUNK_WORDS as u64)?;
    let end = first.checked_add(CHUNK_WORDS as u64)?.min(n.checked_mul(3)?);
    if first >= end {
        return None;
    }
    let mut out = Vec::with_capacity((end - first) as usize);
    let mut drawn_before = 0u64;
    for (i, &(off, len, _)) in layout.tensors.iter().enumerate() {
        let (off, len) = (off as u64, len as u64);
        let (lo, hi) = (first.max(off), end.min(off + len));
        if lo < hi {
            match layout.fill(i) {
                Fill::Drawn => {
                    out.extend((lo..hi).map(|w| drawn::<F>(seed, drawn_before + (w - off))))
                }
                Fill::One => out.resize(out.len() + (hi - lo) as usize, ONE),
                Fill::Zero => out.resize(out.len() + (hi - lo) as usize, 0),
            }
        }
        if layout.fill(i) == Fill::Drawn {
            drawn_before += len;
        }
    }
    // The moments.
    out.resize((end - first) as usize, 0);
    Some(out)
}

/// The initial header of a run whose config hash is `config_hash`: step 0, the sampler's
/// stream at `seed`, `β1^0 = β2^0 = 1`, loss `+0`, `params` parameters.
pub fn header(config_hash: Hash, seed: u64, params: u64) -> Header {
    Header { config_hash, step: 0, rng: seed, b1pow: ONE, b2pow: ONE, loss: 0, params }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::StepConfig;
    use crate::F32;

    fn layout(n_layer: usize) -> ParamLayout {
        ParamLayout::new(&StepConfig {
            n_layer,
            n_head: 2,
            n_embd: 32,
            n_ctx: 16,
            batch: 1,
            corpus_len: 1 << 12,
            lr: 0,
            beta1: 0,
            beta2: 0,
            eps: 0,
            weight_decay: 0,
            warmup_steps: 0,
        })
    }

    #[test]
    fn every_chunk_is_the_same_words_as_the_whole() {
        let layout = layout(2);
        let mut whole = params::<F32>(&layout, 7);
        whole.resize(3 * layout.total, 0);
        let chunks = crate::commit::chunk_count(whole.len() as u64);
        for (c, expected) in whole.chunks(CHUNK_WORDS).enumerate() {
            assert_eq!(chunk::<F32>(&layout, 7, c as u64).as_deref(), Some(expected), "chunk {c}");
        }
        assert_eq!(chunk::<F32>(&layout, 7, chunks), None);
        assert_eq!(chunk::<F32>(&layout, 7, u64::MAX), None);
    }

    #[test]
    fn the_fills_are_the_models() {
        let layout = layout(2);
        let fills: Vec<Fill> = (0..layout.tensors.len()).map(|i| layout.fill(i)).collect();
        use Fill::*;
        let block = [One, Zero, Drawn, Zero, Drawn, Zero, One, Zero, Drawn, Zero, Drawn, Zero];
        let mut expected = alloc::vec![Drawn, Drawn];
        expected.extend(block);
        expected.extend(block);
        expected.extend([One, Zero]);
        assert_eq!(fills, expected);
    }

    #[test]
    fn drawn_weights_are_in_range_and_differ_by_seed() {
        let bound = F32::from_bits(SCALE);
        for k in 0..4096 {
            let w = F32::from_bits(drawn::<F32>(3, k));
            assert!(!w.lt(-bound) && w.lt(bound), "weight {k}");
        }
        assert_ne!(drawn::<F32>(3, 0), drawn::<F32>(4, 0));
    }
}
