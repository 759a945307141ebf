//! Weight matrices kept in their GGUF blocks (Q4_1, Q8_0) and multiplied by a row of
//! activations without expanding them in memory: decoding reads each weight once per token, so
//! reading 4- or 8-bit weights instead of `f32` ones is most of its speed.
//!
//! Each weight is expanded inside the kernel to the exact `f32` that [`crate::gguf`] gives
//! (`q·d + m` for Q4_1 as one FMA — `q·d` is exact, so it is the same value — and `q·d` for
//! Q8_0), then enters the element's FMA chain in ascending `k` from `+0`: the result has the
//! bits of [`crate::kernels::matvec`] over the expanded matrix (a test checks it).
//!
//! The blocks are repacked at load time into panels of [`LANES`] output columns, so that one
//! step of the chain loads the `LANES` quantized weights of one `k` from one place (vector
//! lanes hold different output columns, never a reordered sum).
//
// The kernel is compiled with AVX-512 / AVX2 + FMA enabled through `fma_dispatch!`; calling a
// `#[target_feature]` function is the only `unsafe` (see kernels.rs).

use crate::error::{Error, Result};
use crate::gguf::TensorType;
use crate::kernels::{fma_dispatch, Simd};
use rayon::prelude::*;

/// Output columns of one panel: two AVX-512 vectors of `f32`, so two independent FMA chains
/// are in flight at each step (one alone waits on the FMA's latency; measured 5-7 % slower).
pub const LANES: usize = 32;
/// Values of one GGUF block.
const BLOCK: usize = 32;

/// The block format of a [`QuantMatrix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// 4-bit `q`, scale `d` and minimum `m` per block.
    Q4_1,
    /// 8-bit signed `q`, scale `d` per block.
    Q8_0,
}

/// A `k×n` weight matrix (`y = x·W`) of `n` GGUF rows of `k` values, in panels.
pub struct QuantMatrix {
    format: Format,
    k: usize,
    n: usize,
    /// Per panel, per block: Q4_1 `[16 bytes][LANES]` (byte `t` holds values `t` and `t + 16`
    /// of the block, as GGUF packs them); Q8_0 `[32 values][LANES]`.
    q: Vec<u8>,
    /// Per panel, per block: `d` of each lane's block, widened from `f16` (exact).
    d: Vec<f32>,
    /// Per panel, per block: `m` of each lane's block (Q4_1 only).
    m: Vec<f32>,
}

impl QuantMatrix {
    /// Repacks the data of a GGUF tensor `[k, n]` (`n` rows of `k` values) of type `kind`.
    pub fn from_gguf(kind: TensorType, data: &[u8], k: usize, n: usize) -> Result<QuantMatrix> {
        let (format, block_bytes, q_bytes) = match kind {
            TensorType::Q4_1 => (Format::Q4_1, 20, 16),
            TensorType::Q8_0 => (Format::Q8_0, 34, 32),
            other => {
                return Err(Error::Unsupported(format!(
                    "{} weights are not kept quantized",
                    other.name()
                )))
            }
        };
        let blocks = k / BLOCK;
        if !k.is_multiple_of(BLOCK) || data.len() != n * blocks * block_bytes {
            return Err(Error::Gguf(format!("{} bytes do not hold a {k}×{n} matrix", data.len())));
        }
        let panels = n.div_ceil(LANES);
        let mut q = vec![0u8; panels * blocks * q_bytes * LANES];
        let mut d = vec![0.0f32; panels * blocks * LANES];
        let mut m = vec![0.0f32; if format == Format::Q4_1 { d.len() } else { 0 }];
        let f16 = |b: &[u8]| half::f16::from_le_bytes([b[0], b[1]]).to_f32();
        for j in 0..n {
            let (p, lane) = (j / LANES, j % LANES);
            for b in 0..blocks {
                let src = &data[(j * blocks + b) * block_bytes..][..block_bytes];
                let at = (p * blocks + b) * LANES + lane;
                d[at] = f16(&src[0..2]);
                let qs = match format {
                    Format::Q4_1 => {
                        m[at] = f16(&src[2..4]);
                        &src[4..20]
                    }
                    Format::Q8_0 => &src[2..34],
                };
                let base = (p * blocks + b) * q_bytes * LANES;
                for (t, byte) in qs.iter().enumerate() {
                    q[base + t * LANES + lane] = *byte;
                }
            }
        }
        Ok(QuantMatrix { format, k, n, q, d, m })
    }

    /// Input values per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output values per row.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `y = x·W` for one row `x`; panels split across the current rayon pool when `parallel`.
    pub fn matvec(&self, x: &[f32], y: &mut [f32], simd: Simd, parallel: bool) {
        assert_eq!(x.len(), self.k, "QuantMatrix::matvec: x does not hold k values");
        assert_eq!(y.len(), self.n, "QuantMatrix::matvec: y does not hold n values");
        let blocks = self.k / BLOCK;
        let q_bytes = match self.format {
            Format::Q4_1 => 16,
            Format::Q8_0 => 32,
        };
        let (panel_q, panel_s) = (blocks * q_bytes * LANES, blocks * LANES);
        let run = |(p, ys): (usize, &mut [f32])| {
            let q = &self.q[p * panel_q..][..panel_q];
            let d = &self.d[p * panel_s..][..panel_s];
            let mut acc = [0.0f32; LANES];
            match self.format {
                Format::Q4_1 => {
                    q4_1_panel(simd, x, q, d, &self.m[p * panel_s..][..panel_s], &mut acc)
                }
                Format::Q8_0 => q8_0_panel(simd, x, q, d, &mut acc),
            }
            ys.copy_from_slice(&acc[..ys.len()]);
        };
        if parallel {
            y.par_chunks_mut(LANES).enumerate().for_each(run);
        } else {
            y.chunks_mut(LANES).enumerate().for_each(run);
        }
    }
}

impl QuantMatrix {
    /// `y = x·W` for `m` rows `x` (`m×k`, into `y`: `m×n`): one row by [`QuantMatrix::matvec`],
    /// more by groups of [`ROWS`], so each weight is expanded once per group (decoding several
    /// requests together). Panels split across the current rayon pool when `parallel`.
    pub fn matmul(&self, x: &[f32], m: usize, y: &mut [f32], simd: Simd, parallel: bool) {
        let (k, n) = (self.k, self.n);
        assert_eq!(x.len(), m * k, "QuantMatrix::matmul: x does not hold m·k values");
        assert_eq!(y.len(), m * n, "QuantMatrix::matmul: y does not hold m·n values");
        if m == 1 {
            return self.matvec(x, y, simd, parallel);
        }
        let blocks = k / BLOCK;
        let q_bytes = match self.format {
            Format::Q4_1 => 16,
            Format::Q8_0 => 32,
        };
        let (panel_q, panel_s) = (blocks * q_bytes * LANES, blocks * LANES);
        let run = |p: usize| -> Vec<[f32; LANES]> {
            let q = &self.q[p * panel_q..][..panel_q];
            let d = &self.d[p * panel_s..][..panel_s];
            let mut out = vec![[0.0f32; LANES]; m];
            for (g, xs) in x.chunks(ROWS * k).enumerate() {
                let mut acc = [[0.0f32; LANES]; ROWS];
                match self.format {
                    Format::Q4_1 => {
                        q4_1_rows(simd, xs, k, q, d, &self.m[p * panel_s..][..panel_s], &mut acc)
                    }
                    Format::Q8_0 => q8_0_rows(simd, xs, k, q, d, &mut acc),
                }
                let rows = xs.len() / k;
                out[g * ROWS..g * ROWS + rows].copy_from_slice(&acc[..rows]);
            }
            out
        };
        let panels = n.div_ceil(LANES);
        let columns: Vec<Vec<[f32; LANES]>> = if parallel {
            (0..panels).into_par_iter().map(run).collect()
        } else {
            (0..panels).map(run).collect()
        };
        for (p, rows) in columns.iter().enumerate() {
            let w = LANES.min(n - p * LANES);
            for (r, acc) in rows.iter().enumerate() {
                y[r * n + p * LANES..][..w].copy_from_slice(&acc[..w]);
            }
        }
    }
}

/// Rows [`QuantMatrix::matmul`] computes together.
pub const ROWS: usize = 4;

fma_dispatch! {
    /// Q4_1 panel for up to [`ROWS`] rows of `x` (`k` apart):
    /// `acc[r][l] = Σ_k x[r][k]·(q·d + m)` in ascending `k`, each weight expanded once.
    fn q4_1_rows(x: &[f32], k: usize, q: &[u8], d: &[f32], m: &[f32], acc: &mut [[f32; LANES]; ROWS]) {
        let rows = x.len() / k;
        for b in 0..k / BLOCK {
            let d: &[f32; LANES] = d[b * LANES..][..LANES].try_into().expect("a lane each");
            let m: &[f32; LANES] = m[b * LANES..][..LANES].try_into().expect("a lane each");
            let qb = &q[b * 16 * LANES..][..16 * LANES];
            for half in 0..2 {
                for t in 0..16 {
                    let bytes: &[u8; LANES] = qb[t * LANES..][..LANES].try_into().expect("lanes");
                    let mut w = [0.0f32; LANES];
                    for l in 0..LANES {
                        let nibble = if half == 0 { bytes[l] & 0x0f } else { bytes[l] >> 4 };
                        w[l] = f32::from(nibble).mul_add(d[l], m[l]);
                    }
                    let at = b * BLOCK + half * 16 + t;
                    for (r, a) in acc.iter_mut().enumerate().take(rows) {
                        let xv = x[r * k + at];
                        for l in 0..LANES {
                            a[l] = xv.mul_add(w[l], a[l]);
                        }
                    }
                }
            }
        }
    }
}

fma_dispatch! {
    /// Q8_0 panel for up to [`ROWS`] rows of `x` (`k` apart):
    /// `acc[r][l] = Σ_k x[r][k]·(q·d)` in ascending `k`, each weight expanded once.
    fn q8_0_rows(x: &[f32], k: usize, q: &[u8], d: &[f32], acc: &mut [[f32; LANES]; ROWS]) {
        let rows = x.len() / k;
        for b in 0..k / BLOCK {
            let d: &[f32; LANES] = d[b * LANES..][..LANES].try_into().expect("a lane each");
            let qb = &q[b * BLOCK * LANES..][..BLOCK * LANES];
            for t in 0..BLOCK {
                let bytes: &[u8; LANES] = qb[t * LANES..][..LANES].try_into().expect("lanes");
                let mut w = [0.0f32; LANES];
                for l in 0..LANES {
                    w[l] = f32::from(bytes[l] as i8) * d[l];
                }
                let at = b * BLOCK + t;
                for (r, a) in acc.iter_mut().enumerate().take(rows) {
                    let xv = x[r * k + at];
                    for l in 0..LANES {
                        a[l] = xv.mul_add(w[l], a[l]);
                    }
                }
            }
        }
    }
}

fma_dispatch! {
    /// One panel of Q4_1 columns: `acc[l] = Σ_k x[k]·(q·d + m)` in ascending `k`.
    fn q4_1_panel(x: &[f32], q: &[u8], d: &[f32], m: &[f32], acc: &mut [f32; LANES]) {
        for (b, xb) in x.chunks_exact(BLOCK).enumerate() {
            let d: &[f32; LANES] = d[b * LANES..][..LANES].try_into().expect("a lane each");
            let m: &[f32; LANES] = m[b * LANES..][..LANES].try_into().expect("a lane each");
            let qb = &q[b * 16 * LANES..][..16 * LANES];
            // Values 0..16 of the block are the low nibbles, 16..32 the high ones.
            for (half, xs) in xb.chunks_exact(16).enumerate() {
                for (t, xv) in xs.iter().enumerate() {
                    let bytes: &[u8; LANES] = qb[t * LANES..][..LANES].try_into().expect("lanes");
                    for l in 0..LANES {
                        let nibble = if half == 0 { bytes[l] & 0x0f } else { bytes[l] >> 4 };
                        let w = f32::from(nibble).mul_add(d[l], m[l]);
                        acc[l] = xv.mul_add(w, acc[l]);
                    }
                }
            }
        }
    }
}

fma_dispatch! {
    /// One panel of Q8_0 columns: `acc[l] = Σ_k x[k]·(q·d)` in ascending `k`.
    fn q8_0_panel(x: &[f32], q: &[u8], d: &[f32], acc: &mut [f32; LANES]) {
        for (b, xb) in x.chunks_exact(BLOCK).enumerate() {
            let d: &[f32; LANES] = d[b * LANES..][..LANES].try_into().expect("a lane each");
            let qb = &q[b * BLOCK * LANES..][..BLOCK * LANES];
            for (t, xv) in xb.iter().enumerate() {
                let bytes: &[u8; LANES] = qb[t * LANES..][..LANES].try_into().expect("lanes");
                for l in 0..LANES {
                    let w = f32::from(bytes[l] as i8) * d[l];
                    acc[l] = xv.mul_add(w, acc[l]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{matvec, transpose};

    /// Random GGUF blocks of `kind` for `n` rows of `k` (scales of every magnitude, subnormal
    /// f16 included).
    fn blocks(kind: TensorType, k: usize, n: usize, seed: u64) -> Vec<u8> {
        let mut r = crate::data::Rng::new(seed);
        let mut out = Vec::new();
        for _ in 0..n * k / BLOCK {
            let f16 = |r: &mut crate::data::Rng| {
                let bits = (r.next_u64() as u16) & 0x7bff; // finite
                half::f16::from_bits(bits ^ ((r.next_u64() as u16) & 0x8000)).to_le_bytes()
            };
            out.extend(f16(&mut r));
            if kind == TensorType::Q4_1 {
                out.extend(f16(&mut r));
                out.extend((0..16).map(|_| r.next_u64() as u8));
            } else {
                out.extend((0..32).map(|_| r.next_u64() as u8));
            }
        }
        out
    }

    /// The expanded matrix as `crate::gguf` gives it, `[k][n]`.
    fn expanded(kind: TensorType, data: &[u8], k: usize, n: usize) -> Vec<f32> {
        let bytes = {
            // A one-tensor GGUF file around the data.
            let mut f = b"GGUF".to_vec();
            f.extend(3u32.to_le_bytes());
            f.extend(1u64.to_le_bytes());
            f.extend(0u64.to_le_bytes());
            f.extend(1u64.to_le_bytes());
            f.push(b'w');
            f.extend(2u32.to_le_bytes());
            f.extend((k as u64).to_le_bytes());
            f.extend((n as u64).to_le_bytes());
            f.extend(if kind == TensorType::Q4_1 { 3u32 } else { 8u32 }.to_le_bytes());
            f.extend(0u64.to_le_bytes());
            f.resize(f.len().div_ceil(32) * 32, 0);
            f.extend(data);
            f
        };
        let g = crate::gguf::Gguf::parse(bytes).unwrap();
        let rows = g.dequantize("w", &[k as u64, n as u64]).unwrap();
        transpose(&rows, n, k)
    }

    #[test]
    fn a_quantized_product_has_the_bits_of_the_expanded_one() {
        for kind in [TensorType::Q4_1, TensorType::Q8_0] {
            for (k, n) in [(64, 40), (576, 192), (32, 1), (96, 17)] {
                let data = blocks(kind, k, n, k as u64 * 31 + n as u64);
                let w = expanded(kind, &data, k, n);
                let qm = QuantMatrix::from_gguf(kind, &data, k, n).unwrap();
                let rows = 7;
                let x: Vec<f32> =
                    (0..rows * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 16.0).collect();
                let mut want = vec![0.0; rows * n];
                for r in 0..rows {
                    matvec(
                        &x[r * k..][..k],
                        &w,
                        &mut want[r * n..][..n],
                        k,
                        n,
                        Simd::Scalar,
                        false,
                    );
                }
                for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                    for parallel in [false, true] {
                        for m in [1, rows] {
                            let mut y = vec![f32::NAN; m * n];
                            qm.matmul(&x[..m * k], m, &mut y, simd, parallel);
                            let bits =
                                |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                            assert_eq!(
                                bits(&y),
                                bits(&want[..m * n]),
                                "{kind:?} {k}×{n} {simd:?} {m} rows"
                            );
                        }
                    }
                }
            }
        }
        let err = QuantMatrix::from_gguf(TensorType::Q4_1, &[0; 19], 32, 1).err().unwrap();
        assert!(err.to_string().contains("do not hold"), "{err}");
    }
}
