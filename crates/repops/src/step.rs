//! One training step of the byte-level GPT as its canonical op list ([`program`]): what the
//! dispute game bisects at level 3 and below, and what the referee recomputes at the bottom.
//!
//! Each [`Op`] writes one new tensor of 32-bit words (f32 bits, or integers: window offsets,
//! tokens, counter halves). Every element of it is a **chain**: a fixed number of steps
//! ([`Op::chain_len`]), each a short straight-line function of the previous value and a few
//! input elements ([`Op::chain_step`]) — one `fma` of a dot product, one addition of a sum, one
//! whole element of an elementwise op, one sampler draw. The element is the chain's last value
//! (its low 32 bits). Inputs are elements of the state before the step ([`Tensor::State`]:
//! `params ‖ m ‖ v`; [`Tensor::Header`]), of the corpus, or of an earlier op's output, so a
//! referee that is given one chain step's inputs, each proven against what both sides agreed
//! on, recomputes that step alone. [`run`] plays the whole program; the trainer's fast kernels
//! give the same bits (`iollm-compute`'s `step_program` tests), so this is the normative order of
//! every operation of a step (`REPOPS.md` §3 in code).

use crate::commit::{self, Header};
use crate::merkle::{Hash, Hasher};
use crate::{functions, Binary32, F32};
use alloc::vec::Vec;

/// Vocabulary size: one token per byte.
pub const VOCAB: usize = 256;
/// SplitMix64's increment.
pub(crate) const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
/// Bits of LayerNorm's epsilon, 1e−5.
pub const LN_EPS: u32 = 0x3727_c5ac;
/// Rows that the causal products treat alike (`REPOPS.md` §3, attention).
pub const CAUSAL_GROUP: usize = 8;
/// Words of [`Tensor::Header`]: step (lo, hi), RNG state (lo, hi), `b1^t`, `b2^t`.
pub const HEADER_WORDS: usize = 6;

/// Everything a step's arithmetic depends on: the model shape, the batch, the corpus length and
/// the optimizer, floats as their bits (the config hash commits to the same values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepConfig {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Width.
    pub n_embd: usize,
    /// Context length (every training sequence is this long).
    pub n_ctx: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Corpus bytes.
    pub corpus_len: usize,
    /// Peak learning rate.
    pub lr: u32,
    /// AdamW β1.
    pub beta1: u32,
    /// AdamW β2.
    pub beta2: u32,
    /// AdamW ε.
    pub eps: u32,
    /// Decoupled weight decay (tensors of rank ≥ 2).
    pub weight_decay: u32,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
}

/// Where a chain step reads an input from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tensor {
    /// `params ‖ m ‖ v` of the state before the step (3·N words, f32 bits).
    State,
    /// The header of the state before the step ([`HEADER_WORDS`] words).
    Header,
    /// The corpus, one byte per word.
    Corpus,
    /// The output of op `i` of the program.
    Op(usize),
}

/// An operand of a product: element `(row, col)` of batch `(outer, inner)` is word
/// `base + outer·outer_stride + inner·inner_stride + row·row_stride + col·col_stride` of `t`.
/// A transposed operand is the same tensor with the two strides swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// The tensor read.
    pub t: Tensor,
    /// First word.
    pub base: usize,
    /// Stride of the outer batch index (the sequence).
    pub outer_stride: usize,
    /// Stride of the inner batch index (the head).
    pub inner_stride: usize,
    /// Stride of a row.
    pub row_stride: usize,
    /// Stride of a column.
    pub col_stride: usize,
}

impl View {
    fn dense(t: Tensor, base: usize, cols: usize) -> View {
        View { t, base, outer_stride: 0, inner_stride: 0, row_stride: cols, col_stride: 1 }
    }

    fn transposed(self) -> View {
        View { row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }

    fn at(&self, outer: usize, inner: usize, row: usize, col: usize) -> usize {
        self.base
            + outer * self.outer_stride
            + inner * self.inner_stride
            + row * self.row_stride
            + col * self.col_stride
    }
}

/// Which terms of a product's chain exist (`REPOPS.md` §3, attention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causal {
    /// Every output, every term.
    No,
    /// Outputs with `col > row` are `+0` (an empty chain).
    LowerOutputs,
    /// The chain of row `i` ends after term `8⌊i/8⌋ + 7`.
    LowerA,
    /// The chain of row `i` starts at term `8⌊i/8⌋`.
    UpperA,
}

/// What one op computes; each variant says its elements' chain. Fields name op indices
/// (inputs), parameter offsets (`wte`, `g`, …) and sizes, as the variant's formula uses them.
#[allow(missing_docs)] // The formula in each variant's doc names its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Window offset of sequence `s`: `mix(rng + (s+1)·γ) % span` (SplitMix64's draw `s`).
    Sample { span: u64 },
    /// `x` then `y`: word `r < n` is `corpus[offset[r/t] + r%t]`, word `n + r` the next byte.
    Tokens { offsets: usize, t: usize, n: usize },
    /// `wte[x[r]][i] + wpe[r % t][i]`.
    Embed { tokens: usize, wte: usize, wpe: usize, t: usize, c: usize },
    /// `c = a·b` per batch, `m×k` by `k×n`: `fma(a[i][p], b[p][j], acc)` over the terms
    /// [`Causal`] keeps, ascending from `+0`; then `× scale` and `+ bias[j]` where given.
    Matmul {
        a: View,
        b: View,
        m: usize,
        k: usize,
        n: usize,
        heads: usize,
        causal: Causal,
        scale: Option<u32>,
        bias: Option<View>,
    },
    /// Copies per-head blocks (`(seq, head, row, d)` dense, one tensor per part) into rows of
    /// `parts·c` columns: column `part·c + h·hd + d` of row `seq·t + row`.
    Heads { parts: Vec<usize>, t: usize, c: usize, n_head: usize },
    /// The profile's maximum of each row (`j ≤ i` when causal over `t×t` blocks), from `−inf`.
    RowMax { x: usize, width: usize, causal: bool },
    /// `exp(x − max[row])` (`+0` above the diagonal when causal).
    ExpShift { x: usize, max: usize, width: usize, causal: bool },
    /// Sum of each row (`j ≤ i` when causal), ascending from `+0`.
    RowSum { x: usize, width: usize, causal: bool },
    /// `x / sum[row]` (`+0` above the diagonal when causal).
    RowDiv { x: usize, sum: usize, width: usize, causal: bool },
    /// LayerNorm mean: `sum(x_row) / c`.
    LnMean { x: usize, c: usize },
    /// LayerNorm `rsqrt(sum((x − mean)·(x − mean)) / c + ε)`.
    LnRstd { x: usize, mean: usize, c: usize },
    /// `((x − mean)·rstd)·g + b`.
    LnApply { x: usize, mean: usize, rstd: usize, g: usize, b: usize, c: usize },
    /// `a + b`.
    Add { a: usize, b: usize },
    /// `gelu(x)`.
    Gelu { x: usize },
    /// `dy · gelu'(x)`.
    GeluGrad { x: usize, dy: usize },
    /// Cross-entropy `m + ln(sum(exp(x − m)))` of each logits row (`m` its maximum).
    LogSumExp { x: usize, max: usize },
    /// `lse[r] − x[r][y[r]]`.
    RowLoss { x: usize, lse: usize, tokens: usize, n: usize },
    /// `sum(loss) / n`, one element.
    MeanLoss { loss: usize, n: usize },
    /// `(exp(x − lse) − onehot(y))·(1/n)`.
    LogitsGrad { x: usize, lse: usize, tokens: usize, n: usize },
    /// Softmax backward's `dot(p_i, dp_i)` over `j ≤ i`, an `fma` chain from `+0`.
    RowDot { p: usize, dp: usize, t: usize },
    /// `(p·(dp − dot))·scale` for `j ≤ i`, else `+0`.
    ScoresGrad { p: usize, dp: usize, dot: usize, t: usize, scale: u32 },
    /// LayerNorm backward `sum(dy·g)` of each row.
    LnGradSum { dy: usize, g: usize, c: usize },
    /// LayerNorm backward `sum((dy·g)·((x − mean)·rstd))` of each row.
    LnGradDotSum { x: usize, mean: usize, rstd: usize, dy: usize, g: usize, c: usize },
    /// LayerNorm `dx = rstd·((dy·g − s1/c) − ((x − mean)·rstd)·(s2/c))`.
    LnGradX {
        x: usize,
        mean: usize,
        rstd: usize,
        dy: usize,
        g: usize,
        s1: usize,
        s2: usize,
        c: usize,
    },
    /// LayerNorm gain gradient: column sums over rows of `dy·((x − mean)·rstd)`.
    LnGainGrad { x: usize, mean: usize, rstd: usize, dy: usize, rows: usize, c: usize },
    /// Column sums over rows, ascending from `+0` (bias gradients).
    ColumnSum { x: usize, rows: usize, width: usize },
    /// Token-embedding gradient: the LM head's term, then `+ dx[r]` for each row `r` (ascending)
    /// whose token is this row's.
    EmbedGrad { head: usize, tokens: usize, dx: usize, n: usize, c: usize },
    /// Position-embedding gradient: the sum of `dx[r]` over rows `r ≡ pos (mod t)`, ascending.
    PosGrad { dx: usize, n: usize, t: usize, c: usize },
    /// The step's scalars: `lr`, `b1^(t+1)`, `b2^(t+1)`, `1 − b1^(t+1)`, `1 − b2^(t+1)`, then
    /// the next header's step and RNG state (lo, hi words).
    Scalars { beta1: u32, beta2: u32, lr: u32, warmup: u64, draws: u64 },
    /// AdamW of every parameter: `params' ‖ m' ‖ v'`.
    Adam { scalars: usize, grads: Vec<Grad>, n: usize, beta1: u32, beta2: u32, eps: u32, wd: u32 },
}

/// Where the gradient of a run of parameters lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grad {
    /// First parameter of the run.
    pub start: usize,
    /// Parameters in the run.
    pub len: usize,
    /// The op whose output holds the gradient (from its word 0).
    pub op: usize,
    /// Whether weight decay applies (tensors of rank ≥ 2).
    pub decay: bool,
}

/// One op of the program: what it computes and how many elements it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// What it computes.
    pub kind: Kind,
    /// Elements written.
    pub len: usize,
}

#[inline(always)]
fn f<F: Binary32>(bits: u32) -> F {
    F::from_bits(bits)
}

/// A chain value from a float: the profile has one NaN (`REPOPS.md` §1), so whatever NaN the
/// machine made (x86 `0xffc00000`, CUDA `0x7fffffff`, a payload read from a state) is written
/// as `0x7fc00000`. Whether a value is a NaN never depends on a payload, so hardware and soft
/// floats write the same bits.
#[inline(always)]
fn w<F: Binary32>(x: F) -> u64 {
    u64::from(if x.is_nan() { F::NAN } else { x }.to_bits())
}

/// The low word of a chain value.
#[inline(always)]
fn lo(v: u64) -> u32 {
    v as u32
}

pub(crate) fn splitmix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The terms `p` of row `i`'s chain in a product with `k` terms.
fn terms(causal: Causal, i: usize, j: usize, k: usize) -> (usize, usize) {
    let group = i / CAUSAL_GROUP * CAUSAL_GROUP;
    match causal {
        Causal::No => (0, k),
        Causal::LowerOutputs if j > i => (0, 0),
        Causal::LowerOutputs => (0, k),
        Causal::LowerA => (0, (group + CAUSAL_GROUP).min(k)),
        Causal::UpperA => (group.min(k), k),
    }
}

/// Whether element `e` of `t×t` blocks lies on or below the diagonal, and its row's index.
fn causal_at(e: usize, width: usize, causal: bool) -> (bool, usize) {
    let (row, j) = (e / width, e % width);
    (!causal || j <= row % width, row)
}

impl Op {
    /// How many steps the chain of element `e` has (0: the element is `+0`).
    pub fn chain_len(&self, e: usize) -> usize {
        match &self.kind {
            Kind::Matmul { m, n, causal, scale, bias, k, .. } => {
                let (i, j) = (e / n % m, e % n);
                let (p0, p1) = terms(*causal, i, j, *k);
                if *causal == Causal::LowerOutputs && j > i {
                    return 0;
                }
                p1 - p0 + usize::from(scale.is_some()) + usize::from(bias.is_some())
            }
            Kind::RowMax { width, causal, .. } | Kind::RowSum { width, causal, .. } => {
                if *causal {
                    e % width + 1
                } else {
                    *width
                }
            }
            Kind::RowDot { t, .. } => e % t + 1,
            // Above the diagonal the element is +0 by definition (and nothing reads it).
            Kind::ExpShift { width, causal, .. } | Kind::RowDiv { width, causal, .. } => {
                usize::from(causal_at(e, *width, *causal).0)
            }
            Kind::ScoresGrad { t, .. } => usize::from(causal_at(e, *t, true).0),
            Kind::LnMean { c, .. } | Kind::LnRstd { c, .. } => c + 1,
            Kind::LogSumExp { .. } => VOCAB + 1,
            Kind::LnGradSum { c, .. } | Kind::LnGradDotSum { c, .. } => *c,
            Kind::MeanLoss { n, .. } => n + 1,
            Kind::LnGainGrad { rows, .. } | Kind::ColumnSum { rows, .. } => *rows,
            Kind::EmbedGrad { n, .. } => n + 1,
            Kind::PosGrad { n, t, c, .. } => {
                let pos = e / c;
                if pos < *t {
                    crate::ceil_div((n - pos) as u64, *t as u64) as usize
                } else {
                    0
                }
            }
            _ => 1,
        }
    }

    /// Step `pos` of element `e`'s chain from the previous value `acc` (`0` before step 0),
    /// reading inputs through `read`. Element `e` is the low word of its last step's value.
    pub fn chain_step<F: Binary32>(
        &self,
        e: usize,
        pos: usize,
        acc: u64,
        read: &impl Fn(Tensor, usize) -> u32,
    ) -> u64 {
        let op = |i: usize, k: usize| read(Tensor::Op(i), k);
        let x = |i: usize, k: usize| f::<F>(op(i, k));
        let state = |k: usize| f::<F>(read(Tensor::State, k));
        let a = f::<F>(lo(acc));
        match &self.kind {
            Kind::Sample { span } => {
                let rng =
                    u64::from(read(Tensor::Header, 2)) | u64::from(read(Tensor::Header, 3)) << 32;
                splitmix(rng.wrapping_add((e as u64 + 1).wrapping_mul(GAMMA))) % span
            }
            Kind::Tokens { offsets, t, n } => {
                let r = e % n;
                let at = op(*offsets, r / t) as usize + r % t + e / n;
                u64::from(read(Tensor::Corpus, at))
            }
            Kind::Embed { tokens, wte, wpe, t, c } => {
                let (r, i) = (e / c, e % c);
                let tok = op(*tokens, r) as usize;
                w(state(wte + tok * c + i) + state(wpe + (r % t) * c + i))
            }
            Kind::Matmul { a: va, b: vb, m, k, n, heads, causal, scale, bias } => {
                let (z, i, j) = (e / (m * n), e / n % m, e % n);
                let (zo, zi) = (z / heads, z % heads);
                let (p0, p1) = terms(*causal, i, j, *k);
                let terms = p1 - p0;
                let get = |v: &View, r: usize, col: usize| f::<F>(read(v.t, v.at(zo, zi, r, col)));
                if pos < terms {
                    let p = p0 + pos;
                    return w(get(va, i, p).mul_add(get(vb, p, j), a));
                }
                match (pos - terms, scale) {
                    (0, Some(s)) => w(a * f(*s)),
                    _ => w(a + get(bias.as_ref().expect("bias step"), 0, j)),
                }
            }
            Kind::Heads { parts, t, c, n_head } => {
                let width = parts.len() * c;
                let (r, col) = (e / width, e % width);
                let (part, h, d) = (col / c, col % c / (c / n_head), col % (c / n_head));
                let hd = c / n_head;
                u64::from(op(parts[part], (((r / t) * n_head + h) * t + r % t) * hd + d))
            }
            Kind::RowMax { x: src, width, .. } => {
                let prev = if pos == 0 { F::NEG_INFINITY } else { a };
                w(prev.max(x(*src, e * width + pos)))
            }
            Kind::ExpShift { x: src, max, width, causal } => match causal_at(e, *width, *causal) {
                (true, row) => w(functions::exp(x(*src, e) - x(*max, row))),
                (false, _) => 0,
            },
            Kind::RowSum { x: src, width, .. } => w(a + x(*src, e * width + pos)),
            Kind::RowDiv { x: src, sum, width, causal } => match causal_at(e, *width, *causal) {
                (true, row) => w(x(*src, e) / x(*sum, row)),
                (false, _) => 0,
            },
            Kind::LnMean { c, .. } if pos == *c => w(a / F::from_i32(*c as i32)),
            Kind::LnMean { x: src, c } => w(a + x(*src, e * c + pos)),
            Kind::LnRstd { c, .. } if pos == *c => {
                w(functions::rsqrt(a / F::from_i32(*c as i32) + f(LN_EPS)))
            }
            Kind::LnRstd { x: src, mean, c } => {
                let d = x(*src, e * c + pos) - x(*mean, e);
                w(a + d * d)
            }
            Kind::LnApply { x: src, mean, rstd, g, b, c } => {
                let (r, i) = (e / c, e % c);
                w(((x(*src, e) - x(*mean, r)) * x(*rstd, r)) * state(g + i) + state(b + i))
            }
            Kind::Add { a: l, b: r } => w(x(*l, e) + x(*r, e)),
            Kind::Gelu { x: src } => w(functions::gelu(x(*src, e))),
            Kind::GeluGrad { x: src, dy } => w(x(*dy, e) * functions::gelu_grad(x(*src, e))),
            Kind::LogSumExp { x: src, max } => {
                let m = x(*max, e);
                if pos == VOCAB {
                    w(m + functions::ln(a))
                } else {
                    w(a + functions::exp(x(*src, e * VOCAB + pos) - m))
                }
            }
            Kind::RowLoss { x: src, lse, tokens, n } => {
                let y = op(*tokens, n + e) as usize;
                w(x(*lse, e) - x(*src, e * VOCAB + y))
            }
            Kind::MeanLoss { n, .. } if pos == *n => w(a / F::from_i32(*n as i32)),
            Kind::MeanLoss { loss, .. } => w(a + x(*loss, pos)),
            Kind::LogitsGrad { x: src, lse, tokens, n } => {
                let (r, j) = (e / VOCAB, e % VOCAB);
                let p = functions::exp(x(*src, e) - x(*lse, r));
                let onehot = if op(*tokens, n + r) as usize == j { F::ONE } else { F::ZERO };
                w((p - onehot) * (F::ONE / F::from_i32(*n as i32)))
            }
            Kind::RowDot { p, dp, t } => w(x(*p, e * t + pos).mul_add(x(*dp, e * t + pos), a)),
            Kind::ScoresGrad { p, dp, dot, t, scale } => match causal_at(e, *t, true) {
                (true, row) => w((x(*p, e) * (x(*dp, e) - x(*dot, row))) * f(*scale)),
                (false, _) => 0,
            },
            Kind::LnGradSum { dy, g, c } => w(a + x(*dy, e * c + pos) * state(g + pos)),
            Kind::LnGradDotSum { x: src, mean, rstd, dy, g, c } => {
                let k = e * c + pos;
                let xhat = (x(*src, k) - x(*mean, e)) * x(*rstd, e);
                w(a + (x(*dy, k) * state(g + pos)) * xhat)
            }
            Kind::LnGradX { x: src, mean, rstd, dy, g, s1, s2, c } => {
                let (r, i) = (e / c, e % c);
                let cf = F::from_i32(*c as i32);
                let rs = x(*rstd, r);
                let xhat = (x(*src, e) - x(*mean, r)) * rs;
                let d = x(*dy, e) * state(g + i);
                w(rs * ((d - x(*s1, r) / cf) - xhat * (x(*s2, r) / cf)))
            }
            Kind::LnGainGrad { x: src, mean, rstd, dy, c, .. } => {
                let k = pos * c + e;
                let xhat = (x(*src, k) - x(*mean, pos)) * x(*rstd, pos);
                w(a + x(*dy, k) * xhat)
            }
            Kind::ColumnSum { x: src, width, .. } => w(a + x(*src, pos * width + e)),
            Kind::EmbedGrad { head, tokens, dx, c, .. } => {
                if pos == 0 {
                    return u64::from(op(*head, e));
                }
                let r = pos - 1;
                if op(*tokens, r) as usize == e / c {
                    w(a + x(*dx, r * c + e % c))
                } else {
                    acc
                }
            }
            Kind::PosGrad { dx, t, c, .. } => {
                let r = e / c + pos * t;
                w(a + x(*dx, r * c + e % c))
            }
            Kind::Scalars { beta1, beta2, lr, warmup, draws } => {
                let header = |k: usize| read(Tensor::Header, k);
                let step = u64::from(header(0)) | u64::from(header(1)) << 32;
                let b1pow = f::<F>(header(4)) * f(*beta1);
                let b2pow = f::<F>(header(5)) * f(*beta2);
                match e {
                    0 if step < *warmup => {
                        w(f::<F>(*lr) * (F::from_u64(step + 1) / F::from_u64(*warmup)))
                    }
                    0 => u64::from(*lr),
                    1 => w(b1pow),
                    2 => w(b2pow),
                    3 => w(F::ONE - b1pow),
                    4 => w(F::ONE - b2pow),
                    5 | 6 => (step + 1) >> (32 * (e - 5)) & 0xffff_ffff,
                    _ => {
                        let rng = u64::from(header(2)) | u64::from(header(3)) << 32;
                        rng.wrapping_add(draws.wrapping_mul(GAMMA)) >> (32 * (e - 7)) & 0xffff_ffff
                    }
                }
            }
            Kind::Adam { scalars, grads, n, beta1, beta2, eps, wd } => {
                let (part, i) = (e / n, e % n);
                let run = &grads[grads.partition_point(|g| g.start + g.len <= i)];
                let g = x(run.op, i - run.start);
                let (b1, b2) = (f::<F>(*beta1), f::<F>(*beta2));
                let m = b1 * state(n + i) + (F::ONE - b1) * g;
                let v = b2 * state(2 * n + i) + (F::ONE - b2) * (g * g);
                let p = match part {
                    0 => {
                        let s = |k: usize| x(*scalars, k);
                        let (mh, vh) = (m / s(3), v / s(4));
                        let decay = if run.decay { f::<F>(*wd) } else { F::ZERO };
                        let p = state(i);
                        p - s(0) * (mh / (vh.sqrt() + f(*eps)) + decay * p)
                    }
                    1 => m,
                    _ => v,
                };
                w(p)
            }
        }
    }

    /// Element `e`: its whole chain, played from `0`.
    pub fn element<F: Binary32>(&self, e: usize, read: &impl Fn(Tensor, usize) -> u32) -> u32 {
        let mut acc = 0;
        for pos in 0..self.chain_len(e) {
            acc = self.chain_step::<F>(e, pos, acc, read);
        }
        lo(acc)
    }
}

/// Parameter offsets in layout order (Hugging Face GPT-2 order, as `iollm-compute`'s
/// `Layout`): `wte`, `wpe`, twelve tensors per block, `ln_f` gain and bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    /// `(offset, len, rank ≥ 2)` of each tensor.
    pub tensors: Vec<(usize, usize, bool)>,
    /// Total parameters.
    pub total: usize,
}

impl ParamLayout {
    /// The layout of a config's model.
    pub fn new(cfg: &StepConfig) -> ParamLayout {
        let c = cfg.n_embd;
        let mut shapes = Vec::new();
        shapes.push((VOCAB * c, true));
        shapes.push((cfg.n_ctx * c, true));
        for _ in 0..cfg.n_layer {
            let block = [
                (c, false),
                (c, false),
                (3 * c * c, true),
                (3 * c, false),
                (c * c, true),
                (c, false),
                (c, false),
                (c, false),
                (4 * c * c, true),
                (4 * c, false),
                (4 * c * c, true),
                (c, false),
            ];
            shapes.extend_from_slice(&block);
        }
        shapes.push((c, false));
        shapes.push((c, false));
        let mut tensors = Vec::new();
        let mut off = 0;
        for (len, matrix) in shapes {
            tensors.push((off, len, matrix));
            off += len;
        }
        ParamLayout { tensors, total: off }
    }

    fn offset(&self, i: usize) -> usize {
        self.tensors[i].0
    }
}

/// Indices of the ops a player or the trainer looks for in a [`Program`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The ops, in canonical order.
    pub ops: Vec<Op>,
    /// The op holding the mean loss (one element).
    pub loss: usize,
    /// The op holding the step's scalars ([`Kind::Scalars`]).
    pub scalars: usize,
    /// The last op: AdamW, `params' ‖ m' ‖ v'`.
    pub adam: usize,
    /// Parameters.
    pub params: usize,
}

/// Builds the program one op at a time, handing out each op's index.
struct Builder {
    ops: Vec<Op>,
}

impl Builder {
    fn push(&mut self, kind: Kind, len: usize) -> usize {
        self.ops.push(Op { kind, len });
        self.ops.len() - 1
    }
}

/// The tensors one LayerNorm's forward leaves for its backward.
#[derive(Clone, Copy)]
struct Ln {
    x: usize,
    mean: usize,
    rstd: usize,
    g: usize,
}

/// The forward tensors of one block.
struct BlockOut {
    ln1: Ln,
    ln1_out: usize,
    qkv: usize,
    probs: usize,
    att: usize,
    ln2: Ln,
    ln2_out: usize,
    fc: usize,
    act: usize,
}

/// The canonical op list of one step of `cfg` (forward, loss, backward, AdamW), in the order
/// the trainer runs them.
pub fn program(cfg: &StepConfig) -> Program {
    let layout = ParamLayout::new(cfg);
    let (c, t, nh) = (cfg.n_embd, cfg.n_ctx, cfg.n_head);
    let hd = c / nh;
    let n = cfg.batch * t;
    let mut b = Builder { ops: Vec::new() };
    let state = |off: usize, cols: usize| View::dense(Tensor::State, off, cols);
    let out = |op: usize, cols: usize| View::dense(Tensor::Op(op), 0, cols);
    let span = (cfg.corpus_len - t) as u64;
    let offsets = b.push(Kind::Sample { span }, cfg.batch);
    let tokens = b.push(Kind::Tokens { offsets, t, n }, 2 * n);
    let (wte, wpe) = (layout.offset(0), layout.offset(1));
    let mut x = b.push(Kind::Embed { tokens, wte, wpe, t, c }, n * c);
    let layernorm = |b: &mut Builder, x: usize, g: usize| {
        let mean = b.push(Kind::LnMean { x, c }, n);
        let rstd = b.push(Kind::LnRstd { x, mean, c }, n);
        let y = b.push(Kind::LnApply { x, mean, rstd, g, b: g + c, c }, n * c);
        (Ln { x, mean, rstd, g }, y)
    };
    let linear = |b: &mut Builder, x: usize, wt: usize, cin: usize, cout: usize| {
        let (a, bw) = (out(x, cin), state(wt, cout));
        let bias = Some(state(wt + cin * cout, cout));
        let kind = Kind::Matmul {
            a,
            b: bw,
            m: n,
            k: cin,
            n: cout,
            heads: 1,
            causal: Causal::No,
            scale: None,
            bias,
        };
        b.push(kind, n * cout)
    };
    // One head's `t×hd` block of part `part` of `qkv` (0 q, 1 k, 2 v), batched over (seq, head).
    let head = |qkv: usize, part: usize| View {
        t: Tensor::Op(qkv),
        base: part * c,
        outer_stride: t * 3 * c,
        inner_stride: hd,
        row_stride: 3 * c,
        col_stride: 1,
    };
    // A dense per-(seq, head) block of `rows × cols`.
    let block = |op: usize, rows: usize, cols: usize| View {
        t: Tensor::Op(op),
        base: 0,
        outer_stride: nh * rows * cols,
        inner_stride: rows * cols,
        row_stride: cols,
        col_stride: 1,
    };
    let per_head = |a: View, bv: View, m: usize, k: usize, nn: usize, causal: Causal, scale| {
        Kind::Matmul { a, b: bv, m, k, n: nn, heads: nh, causal, scale, bias: None }
    };
    let scale = functions::rsqrt(F32::from_i32(hd as i32)).to_bits();
    let zt = cfg.batch * nh * t * t;
    let mut blocks = Vec::new();
    for l in 0..cfg.n_layer {
        let o = |i: usize| layout.offset(2 + 12 * l + i);
        let (ln1, ln1_out) = layernorm(&mut b, x, o(0));
        let qkv = linear(&mut b, ln1_out, o(2), c, 3 * c);
        let kt = head(qkv, 1).transposed();
        let s = b.push(per_head(head(qkv, 0), kt, t, hd, t, Causal::LowerOutputs, Some(scale)), zt);
        let max = b.push(Kind::RowMax { x: s, width: t, causal: true }, zt / t);
        let e = b.push(Kind::ExpShift { x: s, max, width: t, causal: true }, zt);
        let sum = b.push(Kind::RowSum { x: e, width: t, causal: true }, zt / t);
        let probs = b.push(Kind::RowDiv { x: e, sum, width: t, causal: true }, zt);
        let pv = per_head(block(probs, t, t), head(qkv, 2), t, t, hd, Causal::LowerA, None);
        let heads_out = b.push(pv, cfg.batch * nh * t * hd);
        let att = b.push(Kind::Heads { parts: alloc::vec![heads_out], t, c, n_head: nh }, n * c);
        let proj = linear(&mut b, att, o(4), c, c);
        let x_mid = b.push(Kind::Add { a: proj, b: x }, n * c);
        let (ln2, ln2_out) = layernorm(&mut b, x_mid, o(6));
        let fc = linear(&mut b, ln2_out, o(8), c, 4 * c);
        let act = b.push(Kind::Gelu { x: fc }, n * 4 * c);
        let fc2 = linear(&mut b, act, o(10), 4 * c, c);
        x = b.push(Kind::Add { a: fc2, b: x_mid }, n * c);
        blocks.push(BlockOut { ln1, ln1_out, qkv, probs, att, ln2, ln2_out, fc, act });
    }
    let lnf_g = layout.offset(layout.tensors.len() - 2);
    let (lnf, lnf_out) = layernorm(&mut b, x, lnf_g);
    let wte_t = state(wte, c).transposed();
    let logits_kind = Kind::Matmul {
        a: out(lnf_out, c),
        b: wte_t,
        m: n,
        k: c,
        n: VOCAB,
        heads: 1,
        causal: Causal::No,
        scale: None,
        bias: None,
    };
    let logits = b.push(logits_kind, n * VOCAB);
    let max = b.push(Kind::RowMax { x: logits, width: VOCAB, causal: false }, n);
    let lse = b.push(Kind::LogSumExp { x: logits, max }, n);
    let row_loss = b.push(Kind::RowLoss { x: logits, lse, tokens, n }, n);
    let loss = b.push(Kind::MeanLoss { loss: row_loss, n }, 1);
    let dlogits = b.push(Kind::LogitsGrad { x: logits, lse, tokens, n }, n * VOCAB);

    // Backward. `grads` collects where each parameter tensor's gradient lands.
    let mut grads: Vec<(usize, usize)> = Vec::new();
    let product = |b: &mut Builder, a: View, bv: View, m: usize, k: usize, nn: usize| {
        let kind = Kind::Matmul {
            a,
            b: bv,
            m,
            k,
            n: nn,
            heads: 1,
            causal: Causal::No,
            scale: None,
            bias: None,
        };
        b.push(kind, m * nn)
    };
    let dlnf = product(&mut b, out(dlogits, VOCAB), state(wte, c), n, VOCAB, c);
    let dwte_head = product(&mut b, out(dlogits, VOCAB).transposed(), out(lnf_out, c), VOCAB, n, c);
    let layernorm_bwd = |b: &mut Builder, ln: Ln, dy: usize, grads: &mut Vec<(usize, usize)>| {
        let Ln { x, mean, rstd, g } = ln;
        let s1 = b.push(Kind::LnGradSum { dy, g, c }, n);
        let s2 = b.push(Kind::LnGradDotSum { x, mean, rstd, dy, g, c }, n);
        let dx = b.push(Kind::LnGradX { x, mean, rstd, dy, g, s1, s2, c }, n * c);
        let dg = b.push(Kind::LnGainGrad { x, mean, rstd, dy, rows: n, c }, c);
        let db = b.push(Kind::ColumnSum { x: dy, rows: n, width: c }, c);
        grads.push((g, dg));
        grads.push((g + c, db));
        dx
    };
    let linear_bwd = |b: &mut Builder,
                      x: usize,
                      wt: usize,
                      dy: usize,
                      cin: usize,
                      cout: usize,
                      grads: &mut Vec<(usize, usize)>| {
        let dx = product(b, out(dy, cout), state(wt, cout).transposed(), n, cout, cin);
        let dw = product(b, out(x, cin).transposed(), out(dy, cout), cin, n, cout);
        let db = b.push(Kind::ColumnSum { x: dy, rows: n, width: cout }, cout);
        grads.push((wt, dw));
        grads.push((wt + cin * cout, db));
        dx
    };
    let mut dx = layernorm_bwd(&mut b, lnf, dlnf, &mut grads);
    for l in (0..cfg.n_layer).rev() {
        let o = |i: usize| layout.offset(2 + 12 * l + i);
        let bo = &blocks[l];
        let dact = linear_bwd(&mut b, bo.act, o(10), dx, 4 * c, c, &mut grads);
        let dfc = b.push(Kind::GeluGrad { x: bo.fc, dy: dact }, n * 4 * c);
        let dln2 = linear_bwd(&mut b, bo.ln2_out, o(8), dfc, c, 4 * c, &mut grads);
        let dxm = layernorm_bwd(&mut b, bo.ln2, dln2, &mut grads);
        let dx_mid = b.push(Kind::Add { a: dxm, b: dx }, n * c);
        let datt = linear_bwd(&mut b, bo.att, o(4), dx_mid, c, c, &mut grads);
        // Attention backward per (seq, head); `datt` is read per head where it lies.
        let dout = View {
            t: Tensor::Op(datt),
            base: 0,
            outer_stride: t * c,
            inner_stride: hd,
            row_stride: c,
            col_stride: 1,
        };
        let dp = b.push(
            per_head(dout, head(bo.qkv, 2).transposed(), t, hd, t, Causal::LowerOutputs, None),
            zt,
        );
        let dv = b.push(
            per_head(block(bo.probs, t, t).transposed(), dout, t, t, hd, Causal::UpperA, None),
            cfg.batch * nh * t * hd,
        );
        let dot = b.push(Kind::RowDot { p: bo.probs, dp, t }, zt / t);
        let ds = b.push(Kind::ScoresGrad { p: bo.probs, dp, dot, t, scale }, zt);
        let dq = b.push(
            per_head(block(ds, t, t), head(bo.qkv, 1), t, t, hd, Causal::LowerA, None),
            cfg.batch * nh * t * hd,
        );
        let dk = b.push(
            per_head(block(ds, t, t).transposed(), head(bo.qkv, 0), t, t, hd, Causal::UpperA, None),
            cfg.batch * nh * t * hd,
        );
        let dqkv =
            b.push(Kind::Heads { parts: alloc::vec![dq, dk, dv], t, c, n_head: nh }, n * 3 * c);
        let dln1 = linear_bwd(&mut b, bo.ln1_out, o(2), dqkv, c, 3 * c, &mut grads);
        let dxi = layernorm_bwd(&mut b, bo.ln1, dln1, &mut grads);
        dx = b.push(Kind::Add { a: dxi, b: dx_mid }, n * c);
    }
    let dwte = b.push(Kind::EmbedGrad { head: dwte_head, tokens, dx, n, c }, VOCAB * c);
    let dwpe = b.push(Kind::PosGrad { dx, n, t, c }, cfg.n_ctx * c);
    grads.push((wte, dwte));
    grads.push((wpe, dwpe));
    let scalars = b.push(
        Kind::Scalars {
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            lr: cfg.lr,
            warmup: cfg.warmup_steps,
            draws: cfg.batch as u64,
        },
        9,
    );
    let mut runs: Vec<Grad> = layout
        .tensors
        .iter()
        .map(|&(start, len, decay)| {
            let op = grads.iter().find(|g| g.0 == start).expect("every tensor has a gradient").1;
            Grad { start, len, op, decay }
        })
        .collect();
    runs.sort_by_key(|g| g.start);
    let adam = b.push(
        Kind::Adam {
            scalars,
            grads: runs,
            n: layout.total,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            wd: cfg.weight_decay,
        },
        3 * layout.total,
    );
    Program { ops: b.ops, loss, scalars, adam, params: layout.total }
}

/// Every op's output of one step from the state before it: `state` is `params ‖ m ‖ v` (f32
/// bits), `header` the [`Tensor::Header`] words. The next state is
/// [`Program::next_state`] of the result.
pub fn run<F: Binary32>(
    prog: &Program,
    state: &[u32],
    header: &[u32; HEADER_WORDS],
    corpus: &[u8],
) -> Vec<Vec<u32>> {
    run_with::<F>(prog, state, header, corpus, |_, _| {})
}

/// [`run`], handing each op's output to `alter` before later ops read it (tests inject faults
/// with it: a consistent cheat, every later op computed from the altered value).
pub fn run_with<F: Binary32>(
    prog: &Program,
    state: &[u32],
    header: &[u32; HEADER_WORDS],
    corpus: &[u8],
    alter: impl FnMut(usize, &mut Vec<u32>),
) -> Vec<Vec<u32>> {
    run_each::<F>(prog, (state, header, corpus), alter, |op, element| {
        (0..op.len).map(element).collect()
    })
}

/// [`run_with`], each op's output made by `each` from the op and its element function (which
/// any thread may call, for any element, in any order): a caller with threads computes an op's
/// elements in parallel, with the same bits.
pub fn run_each<F: Binary32>(
    prog: &Program,
    (state, header, corpus): (&[u32], &[u32; HEADER_WORDS], &[u8]),
    mut alter: impl FnMut(usize, &mut Vec<u32>),
    mut each: impl FnMut(&Op, &(dyn Fn(usize) -> u32 + Sync)) -> Vec<u32>,
) -> Vec<Vec<u32>> {
    let mut outs: Vec<Vec<u32>> = Vec::with_capacity(prog.ops.len());
    for (k, op) in prog.ops.iter().enumerate() {
        let mut values = {
            let read = |t: Tensor, i: usize| match t {
                Tensor::State => state[i],
                Tensor::Header => header[i],
                Tensor::Corpus => u32::from(corpus[i]),
                Tensor::Op(k) => outs[k][i],
            };
            each(op, &|e| op.element::<F>(e, &read))
        };
        alter(k, &mut values);
        outs.push(values);
    }
    outs
}

impl Program {
    /// The state after the step, from [`run`]'s outputs: `params' ‖ m' ‖ v'` and the header.
    pub fn next_state<'a>(&self, outs: &'a [Vec<u32>]) -> (&'a [u32], [u32; HEADER_WORDS]) {
        let s = &outs[self.scalars];
        (&outs[self.adam], [s[5], s[6], s[7], s[8], s[1], s[2]])
    }

    /// The header of the state after the step, from the outputs of the scalars op and the
    /// loss op.
    pub fn next_header(&self, config_hash: &Hash, scalars: &[u32], loss: u32) -> Option<Header> {
        let word = |i: usize| scalars.get(i).copied().map(u64::from);
        Some(Header {
            config_hash: *config_hash,
            step: word(5)? | word(6)? << 32,
            rng: word(7)? | word(8)? << 32,
            b1pow: *scalars.get(1)?,
            b2pow: *scalars.get(2)?,
            loss,
            params: self.params as u64,
        })
    }

    /// The state root after the step: the last transition of the game's level 3, from the
    /// cumulative root after AdamW (whose output root is the next tensors root) to `h_{i+1}`.
    pub fn next_state_root<H: Hasher>(
        &self,
        profile: &str,
        config_hash: &Hash,
        scalars: &[u32],
        loss: u32,
        adam_root: &Hash,
    ) -> Option<Hash> {
        let header = self.next_header(config_hash, scalars, loss)?.encode(profile);
        Some(commit::state_root::<H>(&header, adam_root))
    }
}
