//! Finite-difference checks of every op's backward.

use crate::common::fill;
use iollm_compute::ops::{self, Exec};

/// Compares `analytic` with central differences of `loss` at up to 24 coordinates of `x`.
fn check(name: &str, x: &[f32], analytic: &[f32], loss: &dyn Fn(&[f32]) -> f64) {
    assert_eq!(x.len(), analytic.len(), "{name}: gradient length");
    let h = 1e-2f32;
    let stride = (x.len() / 24).max(1);
    let mut worst = 0.0f64;
    for i in (0..x.len()).step_by(stride) {
        let mut xp = x.to_vec();
        xp[i] += h;
        let mut xm = x.to_vec();
        xm[i] -= h;
        let num = (loss(&xp) - loss(&xm)) / (xp[i] as f64 - xm[i] as f64);
        let err =
            (num - analytic[i] as f64).abs() / (num.abs().max(analytic[i].abs() as f64).max(0.1));
        worst = worst.max(err);
        assert!(err < 2e-2, "{name}[{i}]: analytic {} vs numeric {num}", analytic[i]);
    }
    assert!(worst.is_finite());
}

fn weighted(out: &[f32], w: &[f32]) -> f64 {
    out.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum()
}

#[test]
fn linear() {
    let ex = Exec::default();
    let (n, cin, cout) = (5, 7, 9);
    let (x, w, b, dy) = (fill(n * cin, 1), fill(cin * cout, 2), fill(cout, 3), fill(n * cout, 4));
    let f = |x: &[f32], w: &[f32], b: &[f32]| {
        let mut y = vec![0.0; n * cout];
        ops::linear_fwd(&ex, x, w, b, &mut y, n, cin, cout);
        weighted(&y, &dy)
    };
    let (mut dx, mut dw, mut db) = (vec![0.0; n * cin], vec![0.0; cin * cout], vec![0.0; cout]);
    ops::linear_bwd(&ex, &x, &w, &dy, &mut dx, &mut dw, &mut db, n, cin, cout);
    check("linear.dx", &x, &dx, &|v| f(v, &w, &b));
    check("linear.dw", &w, &dw, &|v| f(&x, v, &b));
    check("linear.db", &b, &db, &|v| f(&x, &w, v));
}

#[test]
fn layernorm() {
    let (n, c) = (4, 16);
    let x: Vec<f32> = fill(n * c, 5).iter().map(|v| v * 3.0).collect();
    let (g, b, dy) = (fill(c, 6), fill(c, 7), fill(n * c, 8));
    let f = |x: &[f32], g: &[f32], b: &[f32]| {
        let mut y = vec![0.0; n * c];
        ops::layernorm_fwd(&Exec::default(), x, g, b, &mut y, &mut Default::default(), c);
        weighted(&y, &dy)
    };
    let mut y = vec![0.0; n * c];
    let mut cache = ops::LnCache::default();
    ops::layernorm_fwd(&Exec::default(), &x, &g, &b, &mut y, &mut cache, c);
    let (mut dx, mut dg, mut db) = (vec![0.0; n * c], vec![0.0; c], vec![0.0; c]);
    ops::layernorm_bwd(&Exec::default(), &x, &g, &cache, &dy, &mut dx, &mut dg, &mut db, c);
    check("layernorm.dx", &x, &dx, &|v| f(v, &g, &b));
    check("layernorm.dg", &g, &dg, &|v| f(&x, v, &b));
    check("layernorm.db", &b, &db, &|v| f(&x, &g, v));
}

#[test]
fn gelu() {
    let x: Vec<f32> = fill(64, 9).iter().map(|v| v * 4.0).collect();
    let dy = fill(64, 10);
    let f = |x: &[f32]| {
        let mut y = vec![0.0; x.len()];
        ops::gelu_fwd(&Exec::default(), x, &mut y);
        weighted(&y, &dy)
    };
    let mut dx = vec![0.0; 64];
    ops::gelu_bwd(&Exec::default(), &x, &dy, &mut dx);
    check("gelu.dx", &x, &dx, &f);
}

#[test]
fn attention() {
    let ex = Exec::default();
    let (b, t, c, nh) = (2, 5, 8, 2);
    let qkv = fill(b * t * 3 * c, 11);
    let dy = fill(b * t * c, 12);
    let f = |q: &[f32]| {
        let mut o = vec![0.0; b * t * c];
        ops::attention_fwd(&ex, q, &mut o, &mut vec![0.0; b * nh * t * t], b, t, c, nh);
        weighted(&o, &dy)
    };
    let mut o = vec![0.0; b * t * c];
    let mut probs = vec![0.0; b * nh * t * t];
    ops::attention_fwd(&ex, &qkv, &mut o, &mut probs, b, t, c, nh);
    let mut d = vec![0.0; qkv.len()];
    ops::attention_bwd(&ex, &qkv, &probs, &dy, &mut d, b, t, c, nh);
    check("attention.dqkv", &qkv, &d, &f);
}

#[test]
fn cross_entropy() {
    let (n, v) = (3, 256);
    let logits: Vec<f32> = fill(n * v, 13).iter().map(|x| x * 3.0).collect();
    let targets = [3u8, 200, 17];
    let f = |l: &[f32]| {
        let mut d = vec![0.0; n * v];
        ops::cross_entropy(&Exec::default(), l, &targets, v, &mut d) as f64
    };
    let mut d = vec![0.0; n * v];
    ops::cross_entropy(&Exec::default(), &logits, &targets, v, &mut d);
    check("cross_entropy.dlogits", &logits, &d, &f);
}

#[test]
fn embedding_and_residual() {
    let (t, c) = (3, 4);
    let tokens = [1u8, 2, 1, 0, 2, 2];
    let (wte, wpe, dy) = (fill(256 * c, 14), fill(t * c, 15), fill(6 * c, 16));
    let f = |wte: &[f32], wpe: &[f32]| {
        let mut x = vec![0.0; 6 * c];
        ops::embedding_fwd(&tokens, t, wte, wpe, &mut x, c);
        weighted(&x, &dy)
    };
    let (mut dwte, mut dwpe) = (vec![0.0; 256 * c], vec![0.0; t * c]);
    ops::embedding_bwd(&tokens, t, &dy, &mut dwte, &mut dwpe, c);
    check("embedding.dwte", &wte[..4 * c], &dwte[..4 * c], &|v| {
        let mut w = wte.clone();
        w[..4 * c].copy_from_slice(v);
        f(&w, &wpe)
    });
    check("embedding.dwpe", &wpe, &dwpe, &|v| f(&wte, v));
}

#[test]
fn whole_model() {
    use iollm_compute::model::{self, Layout};
    let ex = Exec::default();
    let cfg = iollm_compute::GptConfig { n_layer: 2, n_head: 2, n_embd: 8, n_ctx: 6 };
    let layout = Layout::new(&cfg);
    let mut p = model::init_params(&layout, 3);
    // Larger weights than the init so every path carries signal.
    p.iter_mut().zip(fill(layout.total, 17)).for_each(|(a, r)| *a += 0.3 * r);
    let (b, t) = (2, 6);
    let x: Vec<u8> = (0..b * t).map(|i| (i * 37 % 256) as u8).collect();
    let y: Vec<u8> = (0..b * t).map(|i| (i * 91 % 256) as u8).collect();
    let loss = |p: &[f32]| {
        let fw = model::forward(&ex, &cfg, &layout, p, &x, b, t);
        let mut d = vec![0.0; b * t * 256];
        ops::cross_entropy(&ex, &fw.logits, &y, 256, &mut d) as f64
    };
    let fw = model::forward(&ex, &cfg, &layout, &p, &x, b, t);
    let mut d = vec![0.0; b * t * 256];
    ops::cross_entropy(&ex, &fw.logits, &y, 256, &mut d);
    let mut g = vec![0.0; layout.total];
    let mut bw = model::Backward::new(&cfg, b, t);
    model::backward(&ex, &cfg, &layout, &p, &x, &fw, &d, &mut g, &mut bw);
    for e in &layout.entries {
        let r = e.offset..e.offset + e.len();
        check(&e.name, &p[r.clone()], &g[r.clone()], &|v| {
            let mut q = p.clone();
            q[r.clone()].copy_from_slice(v);
            loss(&q)
        });
    }
}
