//! Forward and backward of every layer op, in the `repops-v4` order.
//!
//! All tensors are dense row-major `f32` slices. Conventions (see `REPOPS.md`):
//! - a *sum* is a left-to-right sequence of separately rounded additions over ascending index,
//!   starting from `+0.0`; a *dot* is an FMA chain over ascending index from `+0.0`
//!   (the matmul definition in [`crate::kernels`]);
//! - work is split across threads only along independent outputs (rows, heads), never inside
//!   a sum;
//! - backward functions **overwrite** their gradient outputs; accumulation across uses of a
//!   tensor is written out by the caller in a fixed order.

use crate::error::Result;
use crate::kernels::{
    fma_dispatch, gemm, gemm_strided, matmul_bias, transpose, transpose_8_rows, with_scratch,
    Causal, Mat, Scratch, Simd, Stored,
};
use crate::repops;
use rayon::prelude::*;
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use tracing::warn;

/// A device that runs the model matmuls: `c = a·b`, all dense row-major, with the same bits as
/// [`crate::kernels::matmul`] (the CUDA backend, `crate::cuda`, is one).
pub trait MatmulDevice: Send + Sync + std::fmt::Debug {
    /// Computes `c = a·b` (`a: m×k`, `b: k×n`); on an error `c` may hold anything.
    fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<()>;
}

/// How the kernels run. Never changes results.
#[derive(Clone, Debug)]
pub struct Exec {
    /// Instruction set for the CPU kernels.
    pub simd: Simd,
    /// Device for the model matmuls; `None` runs everything on the CPU.
    pub device: Option<Arc<dyn MatmulDevice>>,
    /// The first device error, after which every matmul runs on the CPU (shared by clones).
    device_failure: Arc<OnceLock<String>>,
}

impl Default for Exec {
    fn default() -> Self {
        Exec::cpu(Simd::detect())
    }
}

impl Exec {
    /// CPU only, with this instruction set.
    pub fn cpu(simd: Simd) -> Exec {
        Exec { simd, device: None, device_failure: Arc::default() }
    }

    /// The model matmuls on `device`, everything else on the CPU.
    pub fn with_device(simd: Simd, device: Arc<dyn MatmulDevice>) -> Exec {
        Exec { device: Some(device), ..Exec::cpu(simd) }
    }

    /// The device error that moved this executor's matmuls to the CPU, if one happened.
    pub fn device_failure(&self) -> Option<&str> {
        self.device_failure.get().map(String::as_str)
    }

    /// `c = op(a)·op(b)` (see [`crate::kernels::gemm`]) on the configured device.
    ///
    /// If the device fails, the product is computed on the CPU — the same bits, by the profile —
    /// and so is every later one; the error is logged once and kept
    /// ([`Exec::device_failure`]). A run never stops or changes its numbers because a GPU went
    /// away mid-run.
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
        if let (Some(device), None) = (&self.device, self.device_failure.get()) {
            let a =
                if la == Stored::Transposed { Cow::Owned(transpose(a, k, m)) } else { a.into() };
            let b =
                if lb == Stored::Transposed { Cow::Owned(transpose(b, n, k)) } else { b.into() };
            match device.matmul(&a, &b, c, m, k, n) {
                Ok(()) => return,
                Err(e) => {
                    if self.device_failure.set(e.to_string()).is_ok() {
                        warn!(
                            target: "compute",
                            error = %e,
                            "the device failed; the run continues on the CPU (same numerics)"
                        );
                    }
                }
            }
        }
        gemm(a, la, b, lb, c, m, k, n, self.simd, true);
    }

    /// `c = a·b + bias` (bias added to each row after the product, see
    /// [`crate::kernels::matmul_bias`]) on the configured device.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_bias(
        &self,
        a: &[f32],
        b: &[f32],
        bias: &[f32],
        c: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
    ) {
        if self.device.is_some() && self.device_failure.get().is_none() {
            self.gemm(a, Stored::Normal, b, Stored::Normal, c, m, k, n);
            c.par_chunks_mut(n).for_each(|row| {
                for (v, bb) in row.iter_mut().zip(bias) {
                    *v += *bb;
                }
            });
        } else {
            matmul_bias(a, b, bias, c, m, k, n, self.simd, true);
        }
    }
}

/// Runs `f` in `pool` while the pool's other workers wait for work spinning, not sleeping (as
/// OpenMP's default wait policy does). A rayon worker that finds no work sleeps after about
/// 20 µs, and waking it took about 45 µs on the 2-core VM of the benchmarks: longer than many
/// of a step's parallel regions. Each other worker runs a job that takes pending work
/// (`rayon::yield_now`), or else yields the CPU, until `f` returns. It cannot deadlock `f`: those jobs are the oldest in
/// the queue of `f`'s worker, so thieves take them before any work `f` pushes after them, and
/// `f`'s worker only pops its own queue newest first.
pub(crate) fn install_hot<R: Send>(pool: &rayon::ThreadPool, f: impl FnOnce() -> R + Send) -> R {
    /// Sets the flag when `f` returns or unwinds.
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    pool.install(|| {
        let done = AtomicBool::new(false);
        rayon::scope(|s| {
            for _ in 1..rayon::current_num_threads() {
                s.spawn(|_| {
                    while !done.load(Ordering::Acquire) {
                        if rayon::yield_now() != Some(rayon::Yield::Executed) {
                            // Lets other threads run when there are more workers than cores.
                            std::thread::yield_now();
                        }
                    }
                });
            }
            let _done = Done(&done);
            f()
        })
    })
}

fn sum(xs: impl Iterator<Item = f32>) -> f32 {
    let mut s = 0.0f32;
    for x in xs {
        s += x;
    }
    s
}

#[inline(always)]
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
    ex.matmul_bias(x, w, b, y, n, cin, cout);
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
    // Three independent results: running them side by side fills the gaps at the end of each.
    rayon::join(
        || ex.gemm(dy, Stored::Normal, w, Stored::Transposed, dx, n, cout, cin),
        || {
            ex.gemm(x, Stored::Transposed, dy, Stored::Normal, dw, cin, n, cout);
            column_sums(ex.simd, db, dy);
        },
    );
}

/// Columns of a sum over rows that one task owns.
const COLUMNS_PER_TASK: usize = 32;

/// `out[j] = sum over rows r ascending of m[r][j]` (`m` row-major, rows as wide as `out`).
/// Columns are split across threads, so every column is still one sum in ascending row order.
fn column_sums(simd: Simd, out: &mut [f32], m: &[f32]) {
    let width = out.len();
    out.par_chunks_mut(COLUMNS_PER_TASK)
        .enumerate()
        .for_each(|(blk, acc)| column_block_sum(simd, m, width, blk * COLUMNS_PER_TASK, acc));
}

fma_dispatch! {
    /// `acc[j] = sum over rows r ascending of m[r][j0 + j]` for rows of width `width`.
    fn column_block_sum(m: &[f32], width: usize, j0: usize, acc: &mut [f32]) {
        acc.fill(0.0);
        for row in m.chunks_exact(width) {
            for (a, v) in acc.iter_mut().zip(&row[j0..]) {
                *a += *v;
            }
        }
    }
}

/// The residual connection `x[i] = a[i] + x[i]` in place (IEEE addition is commutative, so this
/// is `a + x` however the operands are named).
pub fn add_into(a: &[f32], x: &mut [f32]) {
    x.par_chunks_mut(1 << 14).zip(a.par_chunks(1 << 14)).for_each(|(xc, ac)| {
        for (v, w) in xc.iter_mut().zip(ac) {
            *v += *w;
        }
    });
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
/// `rstd = rsqrt(var + eps)`, `y = ((x−mean)·rstd)·g + b`. The statistics go to `cache`
/// (resized to the row count; its buffers are reused).
pub fn layernorm_fwd(
    ex: &Exec,
    x: &[f32],
    g: &[f32],
    b: &[f32],
    y: &mut [f32],
    cache: &mut LnCache,
    c: usize,
) {
    let n = x.len() / c;
    cache.mean.resize(n, 0.0);
    cache.rstd.resize(n, 0.0);
    const G: usize = ROWS_PER_GROUP;
    y.par_chunks_mut(G * c)
        .zip(x.par_chunks(G * c))
        .zip(cache.mean.par_chunks_mut(G).zip(cache.rstd.par_chunks_mut(G)))
        .for_each(|((yg, xg), (mean, rstd))| layernorm_fwd_rows(ex.simd, xg, g, b, yg, mean, rstd));
}

fma_dispatch! {
    /// [`layernorm_fwd`] of a group of rows (`mean.len()` of them).
    fn layernorm_fwd_rows(
        xg: &[f32],
        g: &[f32],
        b: &[f32],
        yg: &mut [f32],
        mean: &mut [f32],
        rstd: &mut [f32]
    ) {
        let c = g.len();
        interleaved_row_sums(mean, xg, c);
        for m in mean.iter_mut() {
            *m /= c as f32;
        }
        // The squared deviations go to `yg` first; the output overwrites them.
        for ((yr, xr), &m) in yg.chunks_mut(c).zip(xg.chunks(c)).zip(mean.iter()) {
            for (v, &xv) in yr.iter_mut().zip(xr) {
                *v = (xv - m) * (xv - m);
            }
        }
        interleaved_row_sums(rstd, yg, c);
        for (r, (yr, xr)) in yg.chunks_mut(c).zip(xg.chunks(c)).enumerate() {
            let m = mean[r];
            let rs = repops::rsqrt(rstd[r] / c as f32 + LN_EPS);
            for (((v, &xv), &gv), &bv) in yr.iter_mut().zip(xr).zip(g).zip(b) {
                *v = ((xv - m) * rs) * gv + bv;
            }
            rstd[r] = rs;
        }
    }
}

/// Rows a row-wise op takes together: their sums are independent chains, so interleaving them
/// keeps the adders busy while each row's sum keeps its own ascending order.
const ROWS_PER_GROUP: usize = 16;

/// `out[r] = sum(terms[r])` (a [`sum`]: ascending, from `+0.0`) for every row `r` of `terms`
/// (rows of width `c`, one per element of `out`), eight rows at a time ([`sum8`]).
#[inline(always)]
fn interleaved_row_sums(out: &mut [f32], terms: &[f32], c: usize) {
    assert_eq!(terms.len(), out.len() * c);
    for (sums, rows) in out.chunks_mut(8).zip(terms.chunks(8 * c)) {
        if sums.len() == 8 {
            sums.copy_from_slice(&sum8(std::array::from_fn(|r| &rows[r * c..(r + 1) * c])));
        } else {
            for (s, row) in sums.iter_mut().zip(rows.chunks(c)) {
                *s = sum(row.iter().copied());
            }
        }
    }
}

/// The [`sum`]s of eight rows of equal length, advanced together: 64 columns at a time are
/// transposed (exact data movement) so that one vector add continues all eight chains, each in
/// its own ascending order.
#[inline(always)]
fn sum8(rows: [&[f32]; 8]) -> [f32; 8] {
    let len = rows[0].len();
    let mut columns = [0.0f32; 8 * 64];
    let mut acc = [0.0f32; 8];
    for p0 in (0..len).step_by(64) {
        let w = 64.min(len - p0);
        let block: [&[f32]; 8] = std::array::from_fn(|r| &rows[r][p0..p0 + w]);
        transpose_8_rows(Simd::detect(), block, &mut columns, 8);
        for column in columns[..8 * w].chunks_exact(8) {
            for (a, v) in acc.iter_mut().zip(column) {
                *a += *v;
            }
        }
    }
    acc
}

/// Backward of [`layernorm_fwd`]. With `xhat = (x−mean)·rstd` and `d = dy·g`:
/// `dx = rstd·((d − sum(d)/c) − xhat·(sum(d·xhat)/c))`; `dg = sum_rows(dy·xhat)`,
/// `db = sum_rows(dy)` (rows ascending).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_bwd(
    ex: &Exec,
    x: &[f32],
    g: &[f32],
    cache: &LnCache,
    dy: &[f32],
    dx: &mut [f32],
    dg: &mut [f32],
    db: &mut [f32],
    c: usize,
) {
    const G: usize = ROWS_PER_GROUP;
    // Three independent results, side by side.
    let rows = || {
        dx.par_chunks_mut(G * c)
            .zip(x.par_chunks(G * c).zip(dy.par_chunks(G * c)))
            .zip(cache.mean.par_chunks(G).zip(cache.rstd.par_chunks(G)))
            .for_each(|((dxg, (xg, dyg)), (mean, rstd))| {
                layernorm_bwd_rows(ex.simd, xg, dyg, g, mean, rstd, dxg)
            })
    };
    let gain = || {
        dg.par_chunks_mut(COLUMNS_PER_TASK).enumerate().for_each(|(blk, acc)| {
            let j0 = blk * COLUMNS_PER_TASK;
            layernorm_gain_grad(ex.simd, x, dy, &cache.mean, &cache.rstd, j0, acc)
        })
    };
    rayon::join(rows, || rayon::join(gain, || column_sums(ex.simd, db, dy)));
}

fma_dispatch! {
    /// `dx` of [`layernorm_bwd`] for a group of rows (`mean.len()` of them): per row `xhat`,
    /// `d` and `d·xhat` (in `dxg` and two buffers), their two sums, then `dx`.
    fn layernorm_bwd_rows(
        xg: &[f32],
        dyg: &[f32],
        g: &[f32],
        mean: &[f32],
        rstd: &[f32],
        dxg: &mut [f32]
    ) {
        let c = g.len();
        let n = xg.len();
        let (mut xhat, mut dxhat) = (vec![0.0f32; n], vec![0.0f32; n]);
        let d = &mut *dxg;
        for r in 0..mean.len() {
            let (m, rs) = (mean[r], rstd[r]);
            let span = r * c..(r + 1) * c;
            let (xr, dyr) = (&xg[span.clone()], &dyg[span.clone()]);
            let (xh, dd, p) = (&mut xhat[span.clone()], &mut d[span.clone()], &mut dxhat[span]);
            for i in 0..c {
                xh[i] = (xr[i] - m) * rs;
                dd[i] = dyr[i] * g[i];
                p[i] = dd[i] * xh[i];
            }
        }
        let (mut s1, mut s2) = ([0.0f32; ROWS_PER_GROUP], [0.0f32; ROWS_PER_GROUP]);
        let rows = mean.len();
        interleaved_row_sums(&mut s1[..rows], d, c);
        interleaved_row_sums(&mut s2[..rows], &dxhat, c);
        for (r, dxr) in dxg.chunks_mut(c).enumerate() {
            let (m1, m2, rs) = (s1[r] / c as f32, s2[r] / c as f32, rstd[r]);
            for (v, &xh) in dxr.iter_mut().zip(&xhat[r * c..(r + 1) * c]) {
                // `*v` holds d.
                *v = rs * ((*v - m1) - xh * m2);
            }
        }
    }
}

fma_dispatch! {
    /// `acc[j] = sum over rows r ascending of dy[r][j0+j]·xhat[r][j0+j]` (the gain gradient of
    /// [`layernorm_bwd`] for one block of columns).
    fn layernorm_gain_grad(
        x: &[f32],
        dy: &[f32],
        mean: &[f32],
        rstd: &[f32],
        j0: usize,
        acc: &mut [f32]
    ) {
        let c = x.len() / mean.len();
        acc.fill(0.0);
        for (r, (xr, dyr)) in x.chunks_exact(c).zip(dy.chunks_exact(c)).enumerate() {
            let (m, rs) = (mean[r], rstd[r]);
            for ((a, &xv), &dv) in acc.iter_mut().zip(&xr[j0..]).zip(&dyr[j0..]) {
                *a += dv * ((xv - m) * rs);
            }
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
    /// Causal softmax of one head's `t×t` scores in place: row `i` over `j ≤ i` is scaled,
    /// `m = max`, `e = exp(x − m)`, divided by `sum(e)`; `j > i` is `+0`. The row sums advance
    /// eight rows at a time (`sum8`) over the longest row of the eight: the zeros past a
    /// shorter row's end add nothing (exponentials are `≥ +0`, so a sum is never `−0`).
    pub fn attention_softmax(p: &mut [f32], t: usize, scale: f32) {
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let live = &mut row[..=i];
            for v in live.iter_mut() {
                *v *= scale;
            }
            let m = max_of(live);
            for v in live.iter_mut() {
                *v = repops::exp(*v - m);
            }
            row[i + 1..].fill(0.0);
        }
        let mut sums = vec![0.0f32; t];
        for (g, s) in sums.chunks_mut(8).enumerate() {
            let i0 = g * 8;
            if s.len() == 8 {
                s.copy_from_slice(&sum8(std::array::from_fn(|r| &p[(i0 + r) * t..][..i0 + 8])));
            } else {
                for (r, v) in s.iter_mut().enumerate() {
                    let i = i0 + r;
                    *v = sum(p[i * t..=i * t + i].iter().copied());
                }
            }
        }
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            for v in row[..=i].iter_mut() {
                *v /= sums[i];
            }
        }
    }
}

/// The largest value ([`repops::max`]: NaNs are passed over, `+0` above `−0`), taken sixteen
/// lanes at a time: a total order, so the same bits as the ascending chain the step program
/// defines (`iollm_repops::step`).
#[inline(always)]
fn max_of(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = xs.chunks_exact(16);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l = repops::max(*l, *v);
        }
    }
    lanes.iter().chain(rest).fold(f32::NEG_INFINITY, |m, v| repops::max(m, *v))
}

fma_dispatch! {
    /// One row of [`cross_entropy`]: returns the row loss, writes the row gradient.
    pub fn cross_entropy_row(xr: &[f32], tg: usize, inv_n: f32, dr: &mut [f32]) -> f32 {
        let m = xr.iter().fold(f32::NEG_INFINITY, |a, &b| repops::max(a, b));
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
    // Each task owns whole rows of `dwte` / `dwpe` and visits the `dx` rows that feed them in
    // ascending order, so every element is still one sum over ascending rows.
    let mut by_token: Vec<Vec<usize>> = vec![Vec::new(); dwte.len() / c];
    for (r, &tok) in tokens.iter().enumerate() {
        by_token[tok as usize].push(r);
    }
    dwte.par_chunks_mut(c).zip(by_token.par_iter()).for_each(|(wr, rows)| {
        for &r in rows {
            for (w, d) in wr.iter_mut().zip(&dx[r * c..(r + 1) * c]) {
                *w += *d;
            }
        }
    });
    dwpe.par_chunks_mut(c).enumerate().for_each(|(pos, wr)| {
        wr.fill(0.0);
        // Positions `t..n_ctx` get no rows: their gradient is zero.
        let rows = if pos < t { pos..tokens.len() } else { 0..0 };
        for r in rows.step_by(t) {
            for (w, d) in wr.iter_mut().zip(&dx[r * c..(r + 1) * c]) {
                *w += *d;
            }
        }
    });
}

thread_local! {
    /// One batch's per-head results of the attention, head-major.
    static HEADS: Scratch = const { Cell::new(Vec::new()) };
    /// One head's score-sized temporaries.
    static HEAD_TMP: Scratch = const { Cell::new(Vec::new()) };
}

/// The inverse of reading one head's columns: `heads` holds, head-major, `parts` blocks of
/// `t×hd` per head of one batch element; they go to columns `part·c + h·hd` of `rows` (row
/// width `width`).
fn scatter_heads(heads: &[f32], rows: &mut [f32], width: usize, c: usize, nh: usize, parts: usize) {
    let t = rows.len() / width;
    let hd = c / nh;
    for (ti, row) in rows.chunks_exact_mut(width).enumerate() {
        for h in 0..nh {
            for part in 0..parts {
                let src = &heads[((h * parts + part) * t + ti) * hd..][..hd];
                row[part * c + h * hd..][..hd].copy_from_slice(src);
            }
        }
    }
}

/// Head `h`'s columns of part `part` (0 = q, 1 = k, 2 = v) of one batch element's `qkv` rows,
/// read where they are stored.
fn head_of(qkv_b: &[f32], c: usize, hd: usize, part: usize, h: usize, stored: Stored) -> Mat<'_> {
    Mat { data: &qkv_b[part * c + h * hd..], ld: 3 * c, stored }
}

/// A dense `t×t` matrix of one head as a product operand.
fn square(data: &[f32], t: usize, stored: Stored) -> Mat<'_> {
    Mat { data, ld: t, stored }
}

/// Causal multi-head self-attention. `qkv: (b·t)×3c` holds q, k, v side by side (GPT-2 layout),
/// head `h` uses columns `h·hd..(h+1)·hd` of each. Per head: `S = (Q·Kᵀ)·scale` with
/// `scale = rsqrt(hd)`; row `i` over `j ≤ i`: `m = max S`, `e = exp(S − m)`, `P = e / sum(e)`,
/// `P[i][j>i] = +0`; `O = P·V`. Heads run in parallel; each is sequential. The products
/// leave out what the mask makes zero or unwanted ([`Causal`]). `probs` receives the `b·nh`
/// blocks of `P` (`t×t` each) that [`attention_bwd`] needs.
#[allow(clippy::too_many_arguments)]
pub fn attention_fwd(
    ex: &Exec,
    qkv: &[f32],
    out: &mut [f32],
    probs: &mut [f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    assert_eq!(probs.len(), b * nh * t * t, "attention_fwd: probs must hold b·nh·t·t values");
    let hd = c / nh;
    let scale = repops::rsqrt(hd as f32);
    out.par_chunks_mut(t * c)
        .zip(qkv.par_chunks(t * 3 * c).zip(probs.par_chunks_mut(nh * t * t)))
        .for_each(|(out_b, (qkv_b, probs_b))| {
            with_scratch(&HEADS, t * c, |heads| {
                heads
                    .par_chunks_mut(t * hd)
                    .zip(probs_b.par_chunks_mut(t * t))
                    .enumerate()
                    .for_each(|(h, (o, p))| {
                        let q = head_of(qkv_b, c, hd, 0, h, Stored::Normal);
                        let k = head_of(qkv_b, c, hd, 1, h, Stored::Transposed);
                        let v = head_of(qkv_b, c, hd, 2, h, Stored::Normal);
                        gemm_strided(q, k, p, t, t, hd, t, Causal::LowerOutputs, ex.simd);
                        attention_softmax(ex.simd, p, t, scale);
                        let p = square(p, t, Stored::Normal);
                        gemm_strided(p, v, o, hd, t, t, hd, Causal::LowerA, ex.simd);
                    });
                scatter_heads(heads, out_b, c, c, nh, 1);
            })
        });
}

/// Backward of [`attention_fwd`]: `dP = dO·Vᵀ`, `dV = Pᵀ·dO`,
/// `dS[i][j] = (P[i][j]·(dP[i][j] − dot_j≤i(P[i], dP[i])))·scale` for `j ≤ i` (else `+0`),
/// `dQ = dS·K`, `dK = dSᵀ·Q`. Writes all of `dqkv`.
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd(
    ex: &Exec,
    qkv: &[f32],
    probs: &[f32],
    dout: &[f32],
    dqkv: &mut [f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    assert_eq!(probs.len(), b * nh * t * t, "attention_bwd: probs must hold b·nh·t·t values");
    let hd = c / nh;
    let scale = repops::rsqrt(hd as f32);
    dqkv.par_chunks_mut(t * 3 * c)
        .zip(qkv.par_chunks(t * 3 * c).zip(dout.par_chunks(t * c)))
        .zip(probs.par_chunks(nh * t * t))
        .for_each(|((dqkv_b, (qkv_b, dout_b)), probs_b)| {
            with_scratch(&HEADS, 3 * t * c, |heads| {
                heads
                    .par_chunks_mut(3 * t * hd)
                    .zip(probs_b.par_chunks(t * t))
                    .enumerate()
                    .for_each(|(h, (grads, p))| {
                        let (dq, rest) = grads.split_at_mut(t * hd);
                        let (dk, dv) = rest.split_at_mut(t * hd);
                        with_scratch(&HEAD_TMP, 2 * t * t, |tmp| {
                            let (dp, ds) = tmp.split_at_mut(t * t);
                            let dout_h =
                                Mat { data: &dout_b[h * hd..], ld: c, stored: Stored::Normal };
                            let vt = head_of(qkv_b, c, hd, 2, h, Stored::Transposed);
                            gemm_strided(
                                dout_h,
                                vt,
                                dp,
                                t,
                                t,
                                hd,
                                t,
                                Causal::LowerOutputs,
                                ex.simd,
                            );
                            let pt = square(p, t, Stored::Transposed);
                            gemm_strided(pt, dout_h, dv, hd, t, t, hd, Causal::UpperA, ex.simd);
                            ds.fill(0.0);
                            for i in 0..t {
                                let r = i * t..i * t + i + 1;
                                softmax_grad_row(
                                    ex.simd,
                                    &p[r.clone()],
                                    &dp[r.clone()],
                                    &mut ds[r],
                                    scale,
                                );
                            }
                            let k = head_of(qkv_b, c, hd, 1, h, Stored::Normal);
                            let dsm = square(ds, t, Stored::Normal);
                            gemm_strided(dsm, k, dq, hd, t, t, hd, Causal::LowerA, ex.simd);
                            let q = head_of(qkv_b, c, hd, 0, h, Stored::Normal);
                            let dst = square(ds, t, Stored::Transposed);
                            gemm_strided(dst, q, dk, hd, t, t, hd, Causal::UpperA, ex.simd);
                        })
                    });
                scatter_heads(heads, dqkv_b, 3 * c, c, nh, 3);
            })
        });
}

fma_dispatch! {
    /// One causal row of the softmax backward: `ds[j] = (p[j]·(dp[j] − dot(p, dp)))·scale`.
    fn softmax_grad_row(p: &[f32], dp: &[f32], ds: &mut [f32], scale: f32) {
        let d = dot(p, dp);
        for j in 0..ds.len() {
            ds[j] = (p[j] * (dp[j] - d)) * scale;
        }
    }
}

/// Mean cross-entropy of `logits: n×v` against `targets`. Per row: `m = max`,
/// `lse = m + ln(sum(exp(x − m)))`, `loss_r = lse − x[target]`; result `sum(loss_r)/n`.
/// Writes `dlogits = (exp(x − lse) − onehot)·(1/n)`. A NaN loss is the profile's one.
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
    crate::repops::one_nan(sum(losses.into_iter()) / n as f32)
}

/// Row-wise log-softmax-free probabilities for sampling: `exp(x − m)/sum`.
pub fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| repops::max(a, b));
    let e: Vec<f32> = x.iter().map(|v| repops::exp(v - m)).collect();
    let s = sum(e.iter().copied());
    e.into_iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::install_hot;
    use rayon::prelude::*;

    #[test]
    fn install_hot_runs_nested_parallel_work_and_returns_or_unwinds() {
        for threads in [1, 2, 8] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let sum: u64 = install_hot(&pool, || {
                (0..1000u64).map(|_| (0..100u64).into_par_iter().sum::<u64>()).sum()
            });
            assert_eq!(sum, 1000 * 4950, "{threads} threads");
            // A panic in `f` must reach the caller, not leave the spinning workers waiting.
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                install_hot(&pool, || -> u32 { panic!("step failed") })
            }));
            assert!(res.is_err(), "{threads} threads: the panic was lost");
            assert_eq!(install_hot(&pool, || 7), 7, "{threads} threads: pool unusable after");
        }
    }
}
