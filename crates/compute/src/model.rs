//! A GPT with a byte-level vocabulary (256), GPT-2 architecture (pre-LayerNorm blocks, learned
//! positions, tanh-GELU MLP of width 4·C, LM head tied to the token embedding).
//!
//! Parameters live in one flat `Vec<f32>` described by a [`Layout`] whose tensor names and
//! shapes are those of Hugging Face's `GPT2Model` (Conv1D weights stored `in × out`), so the
//! saved safetensors load there.

use crate::error::{Error, Result};
use crate::kernels::Stored;
use crate::ops::{self, Exec, LnCache};
use serde::{Deserialize, Serialize};

/// Vocabulary size: one token per byte.
pub const VOCAB: usize = 256;

/// Model shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// Width (embedding size); a multiple of `n_head`.
    pub n_embd: usize,
    /// Context length (maximum sequence length).
    pub n_ctx: usize,
}

/// Largest accepted model: 2^28 parameters (1 GiB of f32 weights).
pub const MAX_PARAMS: usize = 1 << 28;

impl GptConfig {
    /// Checks every dimension; the error says which one is wrong and why.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        for (name, v, max) in [
            ("n_layer", self.n_layer, 256),
            ("n_head", self.n_head, 256),
            ("n_embd", self.n_embd, 16_384),
            ("n_ctx", self.n_ctx, 16_384),
        ] {
            if v == 0 {
                return bad(format!("model.{name} must be at least 1"));
            }
            if v > max {
                return bad(format!("model.{name} = {v} is larger than the maximum {max}"));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return bad(format!(
                "model.n_embd ({}) must be a multiple of model.n_head ({})",
                self.n_embd, self.n_head
            ));
        }
        let n = self.n_params_u128();
        if n > MAX_PARAMS as u128 {
            return bad(format!("model has {n} parameters, more than the maximum {MAX_PARAMS}"));
        }
        Ok(())
    }

    fn n_params_u128(&self) -> u128 {
        let c = self.n_embd as u128;
        let per_layer = 12 * c * c + 13 * c;
        (VOCAB as u128) * c + self.n_ctx as u128 * c + self.n_layer as u128 * per_layer + 2 * c
    }

    /// Head size.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }
}

/// One named tensor inside the flat parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Hugging Face GPT-2 name, e.g. `h.0.attn.c_attn.weight`.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Offset into the flat vector.
    pub offset: usize,
}

impl Entry {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// True for an empty tensor (never, for valid configs).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The order and shapes of all parameters. This order is the order of the canonical encoding.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Entries in canonical order.
    pub entries: Vec<Entry>,
    /// Total elements.
    pub total: usize,
}

/// Offsets of one block's tensors.
#[derive(Clone, Copy, Debug)]
struct Block {
    ln1_g: usize,
    ln1_b: usize,
    attn_w: usize,
    attn_b: usize,
    proj_w: usize,
    proj_b: usize,
    ln2_g: usize,
    ln2_b: usize,
    fc_w: usize,
    fc_b: usize,
    fc2_w: usize,
    fc2_b: usize,
}

impl Layout {
    /// Layout of a (validated) config.
    pub fn new(cfg: &GptConfig) -> Layout {
        let c = cfg.n_embd;
        let mut entries = Vec::new();
        let mut off = 0;
        let mut push = |name: String, shape: Vec<usize>| {
            let e = Entry { name, shape, offset: off };
            off += e.len();
            entries.push(e);
        };
        push("wte.weight".into(), vec![VOCAB, c]);
        push("wpe.weight".into(), vec![cfg.n_ctx, c]);
        for l in 0..cfg.n_layer {
            push(format!("h.{l}.ln_1.weight"), vec![c]);
            push(format!("h.{l}.ln_1.bias"), vec![c]);
            push(format!("h.{l}.attn.c_attn.weight"), vec![c, 3 * c]);
            push(format!("h.{l}.attn.c_attn.bias"), vec![3 * c]);
            push(format!("h.{l}.attn.c_proj.weight"), vec![c, c]);
            push(format!("h.{l}.attn.c_proj.bias"), vec![c]);
            push(format!("h.{l}.ln_2.weight"), vec![c]);
            push(format!("h.{l}.ln_2.bias"), vec![c]);
            push(format!("h.{l}.mlp.c_fc.weight"), vec![c, 4 * c]);
            push(format!("h.{l}.mlp.c_fc.bias"), vec![4 * c]);
            push(format!("h.{l}.mlp.c_proj.weight"), vec![4 * c, c]);
            push(format!("h.{l}.mlp.c_proj.bias"), vec![c]);
        }
        push("ln_f.weight".into(), vec![c]);
        push("ln_f.bias".into(), vec![c]);
        Layout { entries, total: off }
    }

    fn block(&self, l: usize) -> Block {
        let e = &self.entries[2 + 12 * l..2 + 12 * (l + 1)];
        Block {
            ln1_g: e[0].offset,
            ln1_b: e[1].offset,
            attn_w: e[2].offset,
            attn_b: e[3].offset,
            proj_w: e[4].offset,
            proj_b: e[5].offset,
            ln2_g: e[6].offset,
            ln2_b: e[7].offset,
            fc_w: e[8].offset,
            fc_b: e[9].offset,
            fc2_w: e[10].offset,
            fc2_b: e[11].offset,
        }
    }

    fn lnf(&self) -> (usize, usize) {
        let n = self.entries.len();
        (self.entries[n - 2].offset, self.entries[n - 1].offset)
    }
}

/// Deterministic initial weights: LayerNorm gains 1, biases 0, every other tensor uniform in
/// `[-a, a)` with `a = 0.02·√3` (std 0.02), drawn in layout order from a SplitMix64 stream —
/// integer arithmetic and one f32 multiply, so identical everywhere.
pub fn init_params(layout: &Layout, seed: u64) -> Vec<f32> {
    let mut rng = crate::data::Rng::new(seed ^ 0x1011_1a2b_3c4d_5e6f);
    let a = 0.02f32 * 3.0f32.sqrt();
    let mut p = vec![0.0f32; layout.total];
    for e in &layout.entries {
        let dst = &mut p[e.offset..e.offset + e.len()];
        if e.name.contains(".ln_") || e.name.starts_with("ln_f") {
            let fill = if e.name.ends_with("weight") { 1.0 } else { 0.0 };
            dst.iter_mut().for_each(|v| *v = fill);
        } else if e.name.ends_with("bias") {
            dst.iter_mut().for_each(|v| *v = 0.0);
        } else {
            for v in dst.iter_mut() {
                // 24 random bits → [-1, 1) exactly, then one rounding.
                let u = (rng.next_u64() >> 40) as i32 - (1 << 23);
                *v = (u as f32 / (1 << 23) as f32) * a;
            }
        }
    }
    p
}

struct LayerCache {
    x_in: Vec<f32>,
    ln1: Vec<f32>,
    ln1c: LnCache,
    qkv: Vec<f32>,
    probs: Vec<f32>,
    att: Vec<f32>,
    x_mid: Vec<f32>,
    ln2: Vec<f32>,
    ln2c: LnCache,
    fc: Vec<f32>,
    act: Vec<f32>,
}

/// Activations of one forward pass, kept for backward.
pub struct Forward {
    b: usize,
    t: usize,
    layers: Vec<LayerCache>,
    x_final: Vec<f32>,
    lnf: Vec<f32>,
    lnfc: LnCache,
    /// Logits, `(b·t) × 256`.
    pub logits: Vec<f32>,
}

/// Forward pass for `tokens: b×t` (row-major; `t ≤ n_ctx`).
pub fn forward(
    ex: &Exec,
    cfg: &GptConfig,
    layout: &Layout,
    p: &[f32],
    tokens: &[u8],
    b: usize,
    t: usize,
) -> Forward {
    let c = cfg.n_embd;
    let n = b * t;
    let wte = &p[0..VOCAB * c];
    let wpe = &p[VOCAB * c..VOCAB * c + cfg.n_ctx * c];
    let mut x = vec![0.0f32; n * c];
    ops::embedding_fwd(tokens, t, wte, wpe, &mut x, c);
    let mut layers = Vec::with_capacity(cfg.n_layer);
    for l in 0..cfg.n_layer {
        let o = layout.block(l);
        let w = |off: usize, len: usize| &p[off..off + len];
        let mut ln1 = vec![0.0f32; n * c];
        let ln1c = ops::layernorm_fwd(&x, w(o.ln1_g, c), w(o.ln1_b, c), &mut ln1, c);
        let mut qkv = vec![0.0f32; n * 3 * c];
        ops::linear_fwd(
            ex,
            &ln1,
            w(o.attn_w, 3 * c * c),
            w(o.attn_b, 3 * c),
            &mut qkv,
            n,
            c,
            3 * c,
        );
        let mut att = vec![0.0f32; n * c];
        let probs = ops::attention_fwd(ex, &qkv, &mut att, b, t, c, cfg.n_head);
        let mut proj = vec![0.0f32; n * c];
        ops::linear_fwd(ex, &att, w(o.proj_w, c * c), w(o.proj_b, c), &mut proj, n, c, c);
        let x_mid: Vec<f32> = x.iter().zip(&proj).map(|(a, b)| a + b).collect();
        let mut ln2 = vec![0.0f32; n * c];
        let ln2c = ops::layernorm_fwd(&x_mid, w(o.ln2_g, c), w(o.ln2_b, c), &mut ln2, c);
        let mut fc = vec![0.0f32; n * 4 * c];
        ops::linear_fwd(ex, &ln2, w(o.fc_w, 4 * c * c), w(o.fc_b, 4 * c), &mut fc, n, c, 4 * c);
        let mut act = vec![0.0f32; n * 4 * c];
        ops::gelu_fwd(ex, &fc, &mut act);
        let mut mlp = vec![0.0f32; n * c];
        ops::linear_fwd(ex, &act, w(o.fc2_w, 4 * c * c), w(o.fc2_b, c), &mut mlp, n, 4 * c, c);
        let x_out: Vec<f32> = x_mid.iter().zip(&mlp).map(|(a, b)| a + b).collect();
        let x_in = std::mem::replace(&mut x, x_out);
        layers.push(LayerCache { x_in, ln1, ln1c, qkv, probs, att, x_mid, ln2, ln2c, fc, act });
    }
    let (g, bb) = layout.lnf();
    let mut lnf = vec![0.0f32; n * c];
    let lnfc = ops::layernorm_fwd(&x, &p[g..g + c], &p[bb..bb + c], &mut lnf, c);
    let mut logits = vec![0.0f32; n * VOCAB];
    ex.gemm(&lnf, Stored::Normal, wte, Stored::Transposed, &mut logits, n, c, VOCAB);
    Forward { b, t, layers, x_final: x, lnf, lnfc, logits }
}

/// Backward pass from `dlogits` (`(b·t)×256`); overwrites `grad` (same layout as `p`).
///
/// Fixed accumulation order: residual gradients are `upstream + branch`; the tied `wte`
/// gradient is the LM-head term first, then embedding rows added in ascending row order.
pub fn backward(
    ex: &Exec,
    cfg: &GptConfig,
    layout: &Layout,
    p: &[f32],
    tokens: &[u8],
    fw: &Forward,
    dlogits: &[f32],
    grad: &mut [f32],
) {
    let c = cfg.n_embd;
    let (b, t) = (fw.b, fw.t);
    let n = b * t;
    let wte = &p[0..VOCAB * c];
    // Tied head: logits = lnf · wteᵀ.
    let mut dlnf = vec![0.0f32; n * c];
    ex.gemm(dlogits, Stored::Normal, wte, Stored::Normal, &mut dlnf, n, VOCAB, c);
    let dwte = &mut grad[0..VOCAB * c];
    ex.gemm(dlogits, Stored::Transposed, &fw.lnf, Stored::Normal, dwte, VOCAB, n, c);
    let (g_off, b_off) = layout.lnf();
    let mut dx = vec![0.0f32; n * c];
    {
        let (mut dg, mut db) = (vec![0.0f32; c], vec![0.0f32; c]);
        ops::layernorm_bwd(
            &fw.x_final,
            &p[g_off..g_off + c],
            &fw.lnfc,
            &dlnf,
            &mut dx,
            &mut dg,
            &mut db,
            c,
        );
        grad[g_off..g_off + c].copy_from_slice(&dg);
        grad[b_off..b_off + c].copy_from_slice(&db);
    }
    for l in (0..cfg.n_layer).rev() {
        let o = layout.block(l);
        let lc = &fw.layers[l];
        // MLP branch: x_out = x_mid + fc2(gelu(fc(ln2(x_mid)))).
        let mut dact = vec![0.0f32; n * 4 * c];
        {
            let (dw, rest) = grad[o.fc2_w..].split_at_mut(4 * c * c);
            let db = &mut rest[o.fc2_b - o.fc2_w - 4 * c * c..][..c];
            ops::linear_bwd(
                ex,
                &lc.act,
                &p[o.fc2_w..o.fc2_w + 4 * c * c],
                &dx,
                &mut dact,
                dw,
                db,
                n,
                4 * c,
                c,
            );
        }
        let mut dfc = vec![0.0f32; n * 4 * c];
        ops::gelu_bwd(ex, &lc.fc, &dact, &mut dfc);
        let mut dln2 = vec![0.0f32; n * c];
        {
            let (dw, rest) = grad[o.fc_w..].split_at_mut(4 * c * c);
            let db = &mut rest[o.fc_b - o.fc_w - 4 * c * c..][..4 * c];
            ops::linear_bwd(
                ex,
                &lc.ln2,
                &p[o.fc_w..o.fc_w + 4 * c * c],
                &dfc,
                &mut dln2,
                dw,
                db,
                n,
                c,
                4 * c,
            );
        }
        let mut dxm = vec![0.0f32; n * c];
        {
            let (mut dg, mut db) = (vec![0.0f32; c], vec![0.0f32; c]);
            ops::layernorm_bwd(
                &lc.x_mid,
                &p[o.ln2_g..o.ln2_g + c],
                &lc.ln2c,
                &dln2,
                &mut dxm,
                &mut dg,
                &mut db,
                c,
            );
            grad[o.ln2_g..o.ln2_g + c].copy_from_slice(&dg);
            grad[o.ln2_b..o.ln2_b + c].copy_from_slice(&db);
        }
        let dx_mid: Vec<f32> = dx.iter().zip(&dxm).map(|(a, b)| a + b).collect();
        // Attention branch: x_mid = x_in + proj(attn(qkv(ln1(x_in)))).
        let mut datt = vec![0.0f32; n * c];
        {
            let (dw, rest) = grad[o.proj_w..].split_at_mut(c * c);
            let db = &mut rest[o.proj_b - o.proj_w - c * c..][..c];
            ops::linear_bwd(
                ex,
                &lc.att,
                &p[o.proj_w..o.proj_w + c * c],
                &dx_mid,
                &mut datt,
                dw,
                db,
                n,
                c,
                c,
            );
        }
        let mut dqkv = vec![0.0f32; n * 3 * c];
        ops::attention_bwd(ex, &lc.qkv, &lc.probs, &datt, &mut dqkv, b, t, c, cfg.n_head);
        let mut dln1 = vec![0.0f32; n * c];
        {
            let (dw, rest) = grad[o.attn_w..].split_at_mut(3 * c * c);
            let db = &mut rest[o.attn_b - o.attn_w - 3 * c * c..][..3 * c];
            ops::linear_bwd(
                ex,
                &lc.ln1,
                &p[o.attn_w..o.attn_w + 3 * c * c],
                &dqkv,
                &mut dln1,
                dw,
                db,
                n,
                c,
                3 * c,
            );
        }
        let mut dxi = vec![0.0f32; n * c];
        {
            let (mut dg, mut db) = (vec![0.0f32; c], vec![0.0f32; c]);
            ops::layernorm_bwd(
                &lc.x_in,
                &p[o.ln1_g..o.ln1_g + c],
                &lc.ln1c,
                &dln1,
                &mut dxi,
                &mut dg,
                &mut db,
                c,
            );
            grad[o.ln1_g..o.ln1_g + c].copy_from_slice(&dg);
            grad[o.ln1_b..o.ln1_b + c].copy_from_slice(&db);
        }
        dx = dx_mid.iter().zip(&dxi).map(|(a, b)| a + b).collect();
    }
    let (dwte, rest) = grad.split_at_mut(VOCAB * c);
    ops::embedding_bwd(tokens, t, &dx, dwte, &mut rest[..cfg.n_ctx * c], c);
}
