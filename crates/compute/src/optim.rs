//! AdamW in the `repops-v4` order.

use crate::kernels::{fma_dispatch, Simd};
use crate::repops::one_nan;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// AdamW hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdamW {
    /// Peak learning rate.
    pub lr: f32,
    /// First-moment decay.
    #[serde(default = "d_b1")]
    pub beta1: f32,
    /// Second-moment decay.
    #[serde(default = "d_b2")]
    pub beta2: f32,
    /// Denominator epsilon.
    #[serde(default = "d_eps")]
    pub eps: f32,
    /// Decoupled weight decay, applied to tensors of rank ≥ 2 only.
    #[serde(default)]
    pub weight_decay: f32,
    /// Linear warm-up steps.
    #[serde(default)]
    pub warmup_steps: u64,
}

fn d_b1() -> f32 {
    0.9
}
fn d_b2() -> f32 {
    0.999
}
fn d_eps() -> f32 {
    1e-8
}

impl AdamW {
    /// Learning rate of step `step` (0-based): `lr·((step+1)/warmup)` during warm-up, else `lr`.
    pub fn lr_at(&self, step: u64) -> f32 {
        if step < self.warmup_steps {
            self.lr * ((step + 1) as f32 / self.warmup_steps as f32)
        } else {
            self.lr
        }
    }

    /// One update of `p` in place. `b1pow`/`b2pow` are `beta^step` *after* this step's
    /// multiplication (the caller keeps them in the state). Per element, each operation
    /// separately rounded, no FMA:
    /// `m = b1·m + (1−b1)·g`, `v = b2·v + (1−b2)·(g·g)`, `mh = m/(1−b1pow)`, `vh = v/(1−b2pow)`,
    /// `p = p − lr·(mh/(sqrt(vh)+eps) + wd·p)`, the `wd·p` term only where decay is on:
    /// `decay` lists runs of elements as `(end, on)`, ends ascending, the last one `p.len()`.
    /// Elements are independent, so chunks of the whole vector run in parallel (one parallel
    /// region) on the current rayon pool.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &self,
        simd: Simd,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        lr: f32,
        b1pow: f32,
        b2pow: f32,
        decay: &[(usize, bool)],
    ) {
        assert_eq!(decay.last().map(|r| r.0), Some(p.len()), "decay runs must cover p");
        let k = Coefficients {
            b1: self.beta1,
            b2: self.beta2,
            ob1: 1.0 - self.beta1,
            ob2: 1.0 - self.beta2,
            bc1: 1.0 - b1pow,
            bc2: 1.0 - b2pow,
            lr,
            eps: self.eps,
            wd: self.weight_decay,
        };
        const CHUNK: usize = 1 << 14;
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
            .enumerate()
            .for_each(|(ci, ((p, g), (m, v)))| {
                // The chunk's elements, cut where the decay runs change.
                let (start, end) = (ci * CHUNK, ci * CHUNK + p.len());
                let mut pos = start;
                let mut run = decay.partition_point(|r| r.0 <= pos);
                while pos < end {
                    let (run_end, on) = decay[run];
                    let span = pos - start..run_end.min(end) - start;
                    let wd = if on { k.wd } else { 0.0 };
                    let (p, g) = (&mut p[span.clone()], &g[span.clone()]);
                    adamw_chunk(simd, &k, wd, p, g, &mut m[span.clone()], &mut v[span]);
                    pos = run_end.min(end);
                    run += 1;
                }
            });
    }
}

/// The per-step constants of [`AdamW::update`].
struct Coefficients {
    b1: f32,
    b2: f32,
    ob1: f32,
    ob2: f32,
    bc1: f32,
    bc2: f32,
    lr: f32,
    eps: f32,
    wd: f32,
}

fma_dispatch! {
    /// [`AdamW::update`] on one chunk with weight decay `wd`. Vectorised with the wider
    /// instruction sets; no operation here is an FMA (Rust never contracts `a·b + c`), so the
    /// bits do not change. A NaN it writes is the profile's one ([`one_nan`]), as the step
    /// program's AdamW op writes it.
    fn adamw_chunk(
        k: &Coefficients,
        wd: f32,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        for i in 0..p.len() {
            let gi = g[i];
            let mi = k.b1 * m[i] + k.ob1 * gi;
            let vi = k.b2 * v[i] + k.ob2 * (gi * gi);
            let mh = mi / k.bc1;
            let vh = vi / k.bc2;
            p[i] = one_nan(p[i] - k.lr * (mh / (vh.sqrt() + k.eps) + wd * p[i]));
            m[i] = one_nan(mi);
            v[i] = one_nan(vi);
        }
    }
}
