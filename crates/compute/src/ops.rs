//! Forward and backward of every layer op, in the `repops-v1` order.
//!
//! All tensors are dense row-major `f32` slices. Conventions (see `REPOPS.md`):
//! - a *sum* is a left-to-right sequence of separately rounded additions over ascending index,
//!   starting from `+0.0`; a *dot* is an FMA chain over ascending index from `+0.0`
//!   (the matmul definition in [`crate::kernels`]);
//! - work is split across threads only along independent outputs (rows, heads), never inside
//!   a sum;
//! - backward functions **overwrite** their gradient outputs; accumulation across uses of a
//!   tensor is written out by the caller in a fixed order.

use crate::kernels::{fma_dispatch, gemm, Simd, Stored};
use crate::repops;
use rayon::prelude::*;

/// How the kernels run. Never changes results.
#[derive(Clone, Debug)]
pub struct Exec {
    /// Instruction set for the CPU matmul kernel.
    pub simd: Simd,
    /// Device for model matmuls (feature `cuda`); `None` runs everything on the CPU.
    #[cfg(feature = "cuda")]
    pub gpu: Option<std::sync::Arc<crate::cuda::CudaBackend>>,
}

impl Default for Exec {
    fn default() -> Self {
        Exec::cpu(Simd::detect())
    }
}

impl Exec {
    /// CPU only, with this instruction set.
    pub fn cpu(simd: Simd) -> Exec {
        Exec {
            simd,
            #[cfg(feature = "cuda")]
            gpu: None,
        }
    }

    /// `c = op(a)·op(b)` (see [`crate::kernels::gemm`]) on the configured device.
    ///
    /// # Panics
    /// With a GPU configured, if the device fails mid-run (the trainer cannot continue and must
    /// not write a checkpoint computed differently).
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        a: &[f32],
        la: Stored,
        b: &[f32],
        lb: Stored,
        c: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
    ) {
        #[cfg(feature = "cuda")]
        if let Some(gpu) = &self.gpu {
            use crate::kernels::transpose;
            use std::borrow::Cow;
            let a =
                if la == Stored::Transposed { Cow::Owned(transpose(a, k, m)) } else { a.into() };
            let b =
                if lb == Stored::Transposed { Cow::Owned(transpose(b, n, k)) } else { b.into() };
            if let Err(e) = gpu.matmul(&a, &b, c, m, k, n) {
                panic!("CUDA matmul failed: {e}");
            }
            return;
        }
        gemm(a, la, b, lb, c, m, k, n, self.simd, true);
    }
}

fn sum(xs: impl Iterator<Item = f32>) -> f32 {
    let mut s = 0.0f32;
    for x in xs {
        s += x;
    }
    s
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        s = x.mul_add(*y, s);
    }
    s
}

/// `y = x·w + b` for `x: n×cin`, `w: cin×cout`, `b: cout` (bias added after the dot).
pub fn linear_fwd(
    ex: &Exec,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    n: usize,
    cin: usize,
    cout: usize,
) {
    ex.gemm(x, Stored::Normal, w, Stored::Normal, y, n, cin, cout);
    y.par_chunks_mut(cout).for_each(|row| {
        for (v, bb) in row.iter_mut().zip(b) {
            *v += *bb;
        }
    });
}

/// Backward of [`linear_fwd`]: `dx = dy·wᵀ`, `dw = xᵀ·dy` (a dot over rows in ascending order),
/// `db[j] = sum_i dy[i][j]`.
pub fn linear_bwd(
    ex: &Exec,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    n: usize,
    cin: usize,
    cout: usize,
) {
    ex.gemm(dy, Stored::Normal, w, Stored::Transposed, dx, n, cout, cin);
    ex.gemm(x, Stored::Transposed, dy, Stored::Normal, dw, cin, n, cout);
    db.iter_mut().for_each(|v| *v = 0.0);
    for row in dy.chunks(cout) {
        for (acc, v) in db.iter_mut().zip(row) {
            *acc += *v;
        }
    }
}

/// Statistics saved by [`layernorm_fwd`] for the backward pass.
#[derive(Clone, Debug, Default)]
pub struct LnCache {
    /// Per-row mean.
    pub mean: Vec<f32>,
    /// Per-row `rsqrt(var + eps)`.
    pub rstd: Vec<f32>,
}

/// LayerNorm epsilon (GPT-2's 1e-5).
pub const LN_EPS: f32 = 1e-5;

/// LayerNorm over rows of width `c`: `mean = sum(x)/c`, `var = sum((x−mean)·(x−mean))/c`,
/// `rstd = rsqrt(var + eps)`, `y = ((x−mean)·rstd)·g + b`.
pub fn layernorm_fwd(x: &[f32], g: &[f32], b: &[f32], y: &mut [f32], c: usize) -> LnCache {
    let n = x.len() / c;
    let mut mean = vec![0.0f32; n];
    let mut rstd = vec![0.0f32; n];
    y.par_chunks_mut(c)
        .zip(x.par_chunks(c))
        .zip(mean.par_iter_mut().zip(rstd.par_iter_mut()))
        .for_each(|((yr, xr), (mu, rs))| {
            let m = sum(xr.iter().copied()) / c as f32;
            let var = sum(xr.iter().map(|v| (v - m) * (v - m))) / c as f32;
            let r = repops::rsqrt(var + LN_EPS);
            for i in 0..c {
                yr[i] = ((xr[i] - m) * r) * g[i] + b[i];
            }
            *mu = m;
            *rs = r;
        });
    LnCache { mean, rstd }
}

/// Backward of [`layernorm_fwd`]. With `xhat = (x−mean)·rstd` and `d = dy·g`:
/// `dx = rstd·((d − sum(d)/c) − xhat·(sum(d·xhat)/c))`; `dg = sum_rows(dy·xhat)`,
/// `db = sum_rows(dy)` (rows ascending).
pub fn layernorm_bwd(
    x: &[f32],
    g: &[f32],
    cache: &LnCache,
    dy: &[f32],
    dx: &mut [f32],
    dg: &mut [f32],
    db: &mut [f32],
    c: usize,
) {
    dx.par_chunks_mut(c).zip(x.par_chunks(c)).zip(dy.par_chunks(c)).enumerate().for_each(
        |(r, ((dxr, xr), dyr))| {
            let (m, rs) = (cache.mean[r], cache.rstd[r]);
            let mut s1 = 0.0f32;
            let mut s2 = 0.0f32;
            for i in 0..c {
                let xhat = (xr[i] - m) * rs;
                let d = dyr[i] * g[i];
                s1 += d;
                s2 += d * xhat;
            }
            let m1 = s1 / c as f32;
            let m2 = s2 / c as f32;
            for i in 0..c {
                let xhat = (xr[i] - m) * rs;
                let d = dyr[i] * g[i];
                dxr[i] = rs * ((d - m1) - xhat * m2);
            }
        },
    );
    dg.iter_mut().for_each(|v| *v = 0.0);
    db.iter_mut().for_each(|v| *v = 0.0);
    for (r, (xr, dyr)) in x.chunks(c).zip(dy.chunks(c)).enumerate() {
        let (m, rs) = (cache.mean[r], cache.rstd[r]);
        for i in 0..c {
            let xhat = (xr[i] - m) * rs;
            dg[i] += dyr[i] * xhat;
            db[i] += dyr[i];
        }
    }
}

fma_dispatch! {
    /// `y = gelu(x)` elementwise on one chunk.
    pub fn gelu_chunk(x: &[f32], y: &mut [f32]) {
        for (o, i) in y.iter_mut().zip(x) {
            *o = repops::gelu(*i);
        }
    }
}

fma_dispatch! {
    /// `dx = dy · gelu'(x)` on one chunk.
    pub fn gelu_grad_chunk(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        for i in 0..dx.len() {
            dx[i] = dy[i] * repops::gelu_grad(x[i]);
        }
    }
}

/// Elementwise [`repops::gelu`].
pub fn gelu_fwd(ex: &Exec, x: &[f32], y: &mut [f32]) {
    y.par_chunks_mut(4096).zip(x.par_chunks(4096)).for_each(|(yc, xc)| gelu_chunk(ex.simd, xc, yc));
}

/// `dx = dy · gelu'(x)`.
pub fn gelu_bwd(ex: &Exec, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    dx.par_chunks_mut(4096)
        .zip(x.par_chunks(4096).zip(dy.par_chunks(4096)))
        .for_each(|(dc, (xc, dyc))| gelu_grad_chunk(ex.simd, xc, dyc, dc));
}

fma_dispatch! {
    /// Causal softmax of one attention row in place: scale `row[..=i]`, `exp(x − max)`, divide
    /// by the sum; zero the rest.
    pub fn attention_softmax_row(row: &mut [f32], i: usize, scale: f32) {
        let mut m = f32::NEG_INFINITY;
        for v in row[..=i].iter_mut() {
            *v *= scale;
            m = m.max(*v);
        }
        // The exponentials first, then their sum in index order: the same operations as one
        // fused loop, but the exponentials vectorise.
        for v in row[..=i].iter_mut() {
            *v = repops::exp(*v - m);
        }
        let s = sum(row[..=i].iter().copied());
        for v in row[..=i].iter_mut() {
            *v /= s;
        }
        row[i + 1..].iter_mut().for_each(|v| *v = 0.0);
    }
}

fma_dispatch! {
    /// One row of [`cross_entropy`]: returns the row loss, writes the row gradient.
    pub fn cross_entropy_row(xr: &[f32], tg: usize, inv_n: f32, dr: &mut [f32]) -> f32 {
        let m = xr.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut s = 0.0f32;
        for x in xr {
            s += repops::exp(x - m);
        }
        let lse = m + repops::ln(s);
        for j in 0..xr.len() {
            let p = repops::exp(xr[j] - lse);
            let onehot = if j == tg { 1.0 } else { 0.0 };
            dr[j] = (p - onehot) * inv_n;
        }
        lse - xr[tg]
    }
}

/// `x = wte[tok] + wpe[t]` for tokens `tok: b×t` (row `bi·t + ti`).
pub fn embedding_fwd(tokens: &[u8], t: usize, wte: &[f32], wpe: &[f32], x: &mut [f32], c: usize) {
    x.par_chunks_mut(c).enumerate().for_each(|(r, xr)| {
        let tok = tokens[r] as usize;
        let pos = r % t;
        for i in 0..c {
            xr[i] = wte[tok * c + i] + wpe[pos * c + i];
        }
    });
}

/// Backward of [`embedding_fwd`]: `dwpe[p] = sum over rows with position p` (rows ascending);
/// `dwte[tok] += dx[row]` added **onto the existing contents** of `dwte`, rows ascending (the
/// tied LM head writes its gradient there first).
pub fn embedding_bwd(
    tokens: &[u8],
    t: usize,
    dx: &[f32],
    dwte: &mut [f32],
    dwpe: &mut [f32],
    c: usize,
) {
    dwpe.iter_mut().for_each(|v| *v = 0.0);
    for (r, dr) in dx.chunks(c).enumerate() {
        let tok = tokens[r] as usize;
        let pos = r % t;
        for i in 0..c {
            dwte[tok * c + i] += dr[i];
            dwpe[pos * c + i] += dr[i];
        }
    }
}

/// Attention probabilities saved for the backward pass: `b·h` blocks of `t×t`.
pub type AttnCache = Vec<f32>;

fn gather_head(
    qkv: &[f32],
    bi: usize,
    t: usize,
    c: usize,
    part: usize,
    h: usize,
    hd: usize,
) -> Vec<f32> {
    let mut out = vec![0.0f32; t * hd];
    for ti in 0..t {
        let row = &qkv[(bi * t + ti) * 3 * c..][..3 * c];
        out[ti * hd..(ti + 1) * hd].copy_from_slice(&row[part * c + h * hd..][..hd]);
    }
    out
}

/// Causal multi-head self-attention. `qkv: (b·t)×3c` holds q, k, v side by side (GPT-2 layout),
/// head `h` uses columns `h·hd..(h+1)·hd` of each. Per head: `S = (Q·Kᵀ)·scale` with
/// `scale = rsqrt(hd)`; row `i` over `j ≤ i`: `m = max S`, `e = exp(S − m)`, `P = e / sum(e)`,
/// `P[i][j>i] = +0`; `O = P·V`. Heads run in parallel; each is sequential.
pub fn attention_fwd(
    ex: &Exec,
    qkv: &[f32],
    out: &mut [f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) -> AttnCache {
    let hd = c / nh;
    let scale = repops::rsqrt(hd as f32);
    let per_head: Vec<(Vec<f32>, Vec<f32>)> = (0..b * nh)
        .into_par_iter()
        .map(|bh| {
            let (bi, h) = (bh / nh, bh % nh);
            let q = gather_head(qkv, bi, t, c, 0, h, hd);
            let k = gather_head(qkv, bi, t, c, 1, h, hd);
            let v = gather_head(qkv, bi, t, c, 2, h, hd);
            let mut p = vec![0.0f32; t * t];
            gemm(&q, Stored::Normal, &k, Stored::Transposed, &mut p, t, hd, t, ex.simd, false);
            for i in 0..t {
                attention_softmax_row(ex.simd, &mut p[i * t..(i + 1) * t], i, scale);
            }
            let mut o = vec![0.0f32; t * hd];
            gemm(&p, Stored::Normal, &v, Stored::Normal, &mut o, t, t, hd, ex.simd, false);
            (p, o)
        })
        .collect();
    let mut cache = Vec::with_capacity(b * nh * t * t);
    for (bh, (p, o)) in per_head.into_iter().enumerate() {
        let (bi, h) = (bh / nh, bh % nh);
        cache.extend_from_slice(&p);
        for ti in 0..t {
            out[(bi * t + ti) * c + h * hd..][..hd].copy_from_slice(&o[ti * hd..(ti + 1) * hd]);
        }
    }
    cache
}

/// Backward of [`attention_fwd`]: `dP = dO·Vᵀ`, `dV = Pᵀ·dO`,
/// `dS[i][j] = (P[i][j]·(dP[i][j] − dot_j≤i(P[i], dP[i])))·scale` for `j ≤ i` (else `+0`),
/// `dQ = dS·K`, `dK = dSᵀ·Q`. Writes all of `dqkv`.
pub fn attention_bwd(
    ex: &Exec,
    qkv: &[f32],
    probs: &AttnCache,
    dout: &[f32],
    dqkv: &mut [f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hd = c / nh;
    let scale = repops::rsqrt(hd as f32);
    let per_head: Vec<[Vec<f32>; 3]> = (0..b * nh)
        .into_par_iter()
        .map(|bh| {
            let (bi, h) = (bh / nh, bh % nh);
            let q = gather_head(qkv, bi, t, c, 0, h, hd);
            let k = gather_head(qkv, bi, t, c, 1, h, hd);
            let v = gather_head(qkv, bi, t, c, 2, h, hd);
            let p = &probs[bh * t * t..(bh + 1) * t * t];
            let mut dout_h = vec![0.0f32; t * hd];
            for ti in 0..t {
                dout_h[ti * hd..(ti + 1) * hd]
                    .copy_from_slice(&dout[(bi * t + ti) * c + h * hd..][..hd]);
            }
            let mut dp = vec![0.0f32; t * t];
            gemm(
                &dout_h,
                Stored::Normal,
                &v,
                Stored::Transposed,
                &mut dp,
                t,
                hd,
                t,
                ex.simd,
                false,
            );
            let mut dv = vec![0.0f32; t * hd];
            gemm(p, Stored::Transposed, &dout_h, Stored::Normal, &mut dv, t, t, hd, ex.simd, false);
            let mut ds = vec![0.0f32; t * t];
            for i in 0..t {
                let pr = &p[i * t..i * t + i + 1];
                let dpr = &dp[i * t..i * t + i + 1];
                let d = dot(pr, dpr);
                for j in 0..=i {
                    ds[i * t + j] = (pr[j] * (dpr[j] - d)) * scale;
                }
            }
            let mut dq = vec![0.0f32; t * hd];
            gemm(&ds, Stored::Normal, &k, Stored::Normal, &mut dq, t, t, hd, ex.simd, false);
            let mut dk = vec![0.0f32; t * hd];
            gemm(&ds, Stored::Transposed, &q, Stored::Normal, &mut dk, t, t, hd, ex.simd, false);
            [dq, dk, dv]
        })
        .collect();
    for (bh, parts) in per_head.into_iter().enumerate() {
        let (bi, h) = (bh / nh, bh % nh);
        for (part, g) in parts.iter().enumerate() {
            for ti in 0..t {
                dqkv[(bi * t + ti) * 3 * c + part * c + h * hd..][..hd]
                    .copy_from_slice(&g[ti * hd..(ti + 1) * hd]);
            }
        }
    }
}

/// Mean cross-entropy of `logits: n×v` against `targets`. Per row: `m = max`,
/// `lse = m + ln(sum(exp(x − m)))`, `loss_r = lse − x[target]`; result `sum(loss_r)/n`.
/// Writes `dlogits = (exp(x − lse) − onehot)·(1/n)`.
pub fn cross_entropy(
    ex: &Exec,
    logits: &[f32],
    targets: &[u8],
    v: usize,
    dlogits: &mut [f32],
) -> f32 {
    let n = targets.len();
    let inv_n = 1.0 / n as f32;
    let mut losses = vec![0.0f32; n];
    dlogits
        .par_chunks_mut(v)
        .zip(logits.par_chunks(v))
        .zip(losses.par_iter_mut().zip(targets.par_iter()))
        .for_each(|((dr, xr), (loss, &tg))| {
            *loss = cross_entropy_row(ex.simd, xr, tg as usize, inv_n, dr)
        });
    sum(losses.into_iter()) / n as f32
}

/// Row-wise log-softmax-free probabilities for sampling: `exp(x − m)/sum`.
pub fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f32> = x.iter().map(|v| repops::exp(v - m)).collect();
    let s = sum(e.iter().copied());
    e.into_iter().map(|v| v / s).collect()
}
