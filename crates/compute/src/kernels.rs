//! Matrix multiply, the one hot kernel, in the `repops-v1` order.
//!
//! `C = A·B` (row-major, `A: m×k`, `B: k×n`) defines every output element as the FMA chain
//! `c = fma(a[i][k-1], b[k-1][j], … fma(a[i][0], b[0][j], +0.0))` — products taken in ascending
//! `p`, starting from `+0.0`, one rounding per step. Tiling, SIMD width and the row split across
//! threads only decide *which elements are computed together*, never the order of the chain of
//! one element, so every code path gives the same bits.
//!
//! The SIMD paths are the same generic Rust code compiled inside functions that enable AVX-512F
//! or AVX2+FMA (`#[target_feature]`), picked by run-time CPU detection. Vector lanes hold
//! *different* output columns, so no reduction is ever reassociated.
//
// `unsafe` is allowed here, and only here, because calling a `#[target_feature]` function is
// unsafe: each call is guarded by `is_x86_feature_detected!` for exactly the features enabled.
#![allow(unsafe_code)]

use rayon::prelude::*;

/// Which instruction set the kernels use. All give identical bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// Portable code; `mul_add` is the platform's correctly rounded `fmaf`.
    Scalar,
    /// AVX2 + FMA3 (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

impl Simd {
    /// The best level this CPU supports.
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                return Simd::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Simd::Avx2;
            }
        }
        Simd::Scalar
    }

    /// `self` if this CPU supports it, else the best supported lower level.
    pub fn clamp_to_cpu(self) -> Simd {
        let best = Simd::detect();
        match (self, best) {
            (Simd::Scalar, _) => Simd::Scalar,
            (Simd::Avx2, Simd::Scalar) => Simd::Scalar,
            (Simd::Avx2, _) => Simd::Avx2,
            (Simd::Avx512, b) => b,
        }
    }
}

/// Defines `pub fn $name(simd: Simd, args…)` that runs `$body` compiled with FMA enabled
/// (`#[target_feature(enable = "avx2,fma")]`) when `simd` is not `Scalar` and the CPU has it,
/// else as portable code. `mul_add` is the same correctly rounded operation either way, so the
/// result bits do not change — only whether it is an instruction or a libm call.
macro_rules! fma_dispatch {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        // The unsafe here is the target-feature call, guarded by run-time detection (see above).
        #[allow(unsafe_code)]
        pub fn $name(simd: Simd, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn fast($($arg: $ty),*) $(-> $ret)? { imp($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            if simd.clamp_to_cpu() != Simd::Scalar {
                // SAFETY: `clamp_to_cpu` is Avx2 or Avx512 only if avx2 and fma were detected.
                return unsafe { fast($($arg),*) };
            }
            let _ = simd;
            imp($($arg),*)
        }
    };
}
pub(crate) use fma_dispatch;

/// Rows per register tile.
const MR: usize = 6;
/// Columns per register tile (two AVX-512 vectors).
const NR: usize = 32;

/// `c = a·b` (overwrites `c`), `a: m×k`, `b: k×n`, all row-major and dense.
/// Rows of `c` are split across the current rayon pool when `parallel` is set.
pub fn matmul(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    simd: Simd,
    parallel: bool,
) {
    assert_eq!(a.len(), m * k, "matmul: a is not m×k");
    assert_eq!(b.len(), k * n, "matmul: b is not k×n");
    assert_eq!(c.len(), m * n, "matmul: c is not m×n");
    if m == 0 || n == 0 {
        return;
    }
    let simd = simd.clamp_to_cpu();
    // Enough rows per task to amortise scheduling; a multiple of MR.
    let rows_per_task =
        if parallel { (MR * 4).max(((1 << 16) / (k * n).max(1)) / MR * MR) } else { m };
    if parallel && m > rows_per_task {
        c.par_chunks_mut(rows_per_task * n).enumerate().for_each(|(t, cc)| {
            let r0 = t * rows_per_task;
            let rows = cc.len() / n;
            gemm(&a[r0 * k..(r0 + rows) * k], b, cc, rows, k, n, simd);
        });
    } else {
        gemm(a, b, c, m, k, n, simd);
    }
}

fn gemm(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize, simd: Simd) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `clamp_to_cpu` returned Avx512 only if avx512f and fma were detected.
        Simd::Avx512 => unsafe { gemm_avx512(a, b, c, m, k, n) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `clamp_to_cpu` returned Avx2 only if avx2 and fma were detected.
        Simd::Avx2 => unsafe { gemm_avx2(a, b, c, m, k, n) },
        _ => gemm_generic(a, b, c, m, k, n),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn gemm_avx512(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    gemm_generic(a, b, c, m, k, n)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_avx2(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    gemm_generic(a, b, c, m, k, n)
}

/// Depth of one k-block: a `KC × NR` panel of `b` stays in L1 while a column of tiles is
/// computed. Splitting `k` does not change the chain: the next block continues from the values
/// the previous one stored in `c`.
const KC: usize = 128;

#[inline(always)]
fn gemm_generic(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    if k == 0 {
        c.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let mut p0 = 0;
    while p0 < k {
        let kc = KC.min(k - p0);
        let first = p0 == 0;
        let mut j0 = 0;
        while j0 + NR <= n {
            let bp = &b[p0 * n + j0..];
            let mut i0 = 0;
            while i0 + MR <= m {
                tile::<MR, NR>(&a[i0 * k + p0..], k, bp, n, kc, &mut c[i0 * n + j0..], n, first);
                i0 += MR;
            }
            while i0 < m {
                tile::<1, NR>(&a[i0 * k + p0..], k, bp, n, kc, &mut c[i0 * n + j0..], n, first);
                i0 += 1;
            }
            j0 += NR;
        }
        if j0 < n {
            for i in 0..m {
                let arow = &a[i * k + p0..i * k + p0 + kc];
                for j in j0..n {
                    let mut s = if first { 0.0f32 } else { c[i * n + j] };
                    for (p, &av) in arow.iter().enumerate() {
                        s = av.mul_add(b[(p0 + p) * n + j], s);
                    }
                    c[i * n + j] = s;
                }
            }
        }
        p0 += kc;
    }
}

/// One `M×N` register tile: continues the FMA chain of each of its elements over `k` more
/// products (from `+0` when `first`, else from the value in `c`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<const M: usize, const N: usize>(
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    k: usize,
    c: &mut [f32],
    ldc: usize,
    first: bool,
) {
    let mut acc = [[0.0f32; N]; M];
    if !first {
        for (i, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(&c[i * ldc..i * ldc + N]);
        }
    }
    for p in 0..k {
        let brow: &[f32; N] = b[p * ldb..p * ldb + N].try_into().expect("tile row");
        for (i, row) in acc.iter_mut().enumerate() {
            let av = a[i * lda + p];
            for j in 0..N {
                row[j] = av.mul_add(brow[j], row[j]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        c[i * ldc..i * ldc + N].copy_from_slice(row);
    }
}

/// `out = aᵀ` for row-major `a: rows×cols` (exact, no arithmetic).
pub fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BS: usize = 16;
    let mut out = vec![0.0f32; a.len()];
    for i0 in (0..rows).step_by(BS) {
        for j0 in (0..cols).step_by(BS) {
            for i in i0..(i0 + BS).min(rows) {
                for j in j0..(j0 + BS).min(cols) {
                    out[j * rows + i] = a[i * cols + j];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn every_path_gives_the_same_bits_as_the_definition() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (5, 7, 33),
            (9, 64, 96),
            (33, 17, 70),
            (64, 64, 256),
            (13, 300, 40),
            (7, 0, 3),
        ] {
            let a = fill(m * k, 1);
            let b = fill(k * n, 2);
            let mut want = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0.0f32;
                    for p in 0..k {
                        s = a[i * k + p].mul_add(b[p * n + j], s);
                    }
                    want[i * n + j] = s;
                }
            }
            for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                for parallel in [false, true] {
                    let mut c = vec![0.0; m * n];
                    matmul(&a, &b, &mut c, m, k, n, simd, parallel);
                    let same = c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{simd:?} parallel={parallel} differs at {m}x{k}x{n}");
                }
            }
        }
    }
}
