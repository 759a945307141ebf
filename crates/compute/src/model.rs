//! A GPT with a byte-level vocabulary (256), GPT-2 architecture (pre-LayerNorm blocks, learned
//! positions, tanh-GELU MLP of width 4·C, LM head tied to the token embedding).
//!
//! Parameters live in one flat `Vec<f32>` described by a [`Layout`] whose tensor names and
//! shapes are those of Hugging Face's `GPT2Model` (Conv1D weights stored `in × out`), so the
//! saved safetensors load there.

use crate::error::{Error, Result};
use crate::kernels::Stored;
use crate::ops::{self, Exec, LnCache};
use iollm_repops::step::ParamLayout;
use serde::{Deserialize, Serialize};

/// Vocabulary size: one token per byte.
pub const VOCAB: usize = 256;

/// Model shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// Deterministic initial weights (`iollm_repops::init`, the definition the dispute game's
/// referee recomputes): LayerNorm gains 1, biases 0, every other tensor uniform in `[-a, a)`
/// with `a = 0.02·√3` (std 0.02), drawn in layout order from a SplitMix64 stream — integer
/// arithmetic and one f32 multiply, so identical everywhere.
pub fn init_params(layout: &Layout, seed: u64) -> Vec<f32> {
    let tensors = layout.entries.iter().map(|e| (e.offset, e.len(), e.shape.len() >= 2));
    let layout = ParamLayout { tensors: tensors.collect(), total: layout.total };
    let words = iollm_repops::init::params::<f32>(&layout, seed);
    words.into_iter().map(f32::from_bits).collect()
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

/// Activations of one forward pass, kept for backward. Every buffer is overwritten by
/// [`forward_into`], so one `Forward` serves step after step without allocating or zeroing.
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

impl Forward {
    /// Buffers for a batch of `b` sequences of `t` tokens.
    pub fn new(cfg: &GptConfig, b: usize, t: usize) -> Forward {
        let (n, c) = (b * t, cfg.n_embd);
        let buf = |len: usize| vec![0.0f32; len];
        let layers = (0..cfg.n_layer)
            .map(|_| LayerCache {
                x_in: buf(n * c),
                ln1: buf(n * c),
                ln1c: LnCache::default(),
                qkv: buf(n * 3 * c),
                probs: buf(b * cfg.n_head * t * t),
                att: buf(n * c),
                x_mid: buf(n * c),
                ln2: buf(n * c),
                ln2c: LnCache::default(),
                fc: buf(n * 4 * c),
                act: buf(n * 4 * c),
            })
            .collect();
        Forward {
            b,
            t,
            layers,
            x_final: buf(n * c),
            lnf: buf(n * c),
            lnfc: LnCache::default(),
            logits: buf(n * VOCAB),
        }
    }
}

/// Forward pass for `tokens: b×t` (row-major; `t ≤ n_ctx`) into new buffers.
pub fn forward(
    ex: &Exec,
    cfg: &GptConfig,
    layout: &Layout,
    p: &[f32],
    tokens: &[u8],
    b: usize,
    t: usize,
) -> Forward {
    let mut fw = Forward::new(cfg, b, t);
    forward_into(ex, cfg, layout, p, tokens, &mut fw);
    fw
}

/// Forward pass for `tokens: fw.b × fw.t` into the buffers of `fw`.
pub fn forward_into(
    ex: &Exec,
    cfg: &GptConfig,
    layout: &Layout,
    p: &[f32],
    tokens: &[u8],
    fw: &mut Forward,
) {
    let c = cfg.n_embd;
    let (b, t) = (fw.b, fw.t);
    let n = b * t;
    let wte = &p[0..VOCAB * c];
    let wpe = &p[VOCAB * c..VOCAB * c + cfg.n_ctx * c];
    let w = |off: usize, len: usize| &p[off..off + len];
    match fw.layers.first_mut() {
        Some(first) => ops::embedding_fwd(tokens, t, wte, wpe, &mut first.x_in, c),
        None => ops::embedding_fwd(tokens, t, wte, wpe, &mut fw.x_final, c),
    }
    // One line per op: `ln(x, gain, bias, out, cache)`, `linear(x, weight, bias, out, cin, cout)`.
    let ln = |x: &[f32], g: usize, bias: usize, y: &mut [f32], cache: &mut LnCache| {
        ops::layernorm_fwd(ex, x, w(g, c), w(bias, c), y, cache, c)
    };
    let linear = |x: &[f32], wt: usize, bias: usize, y: &mut [f32], cin: usize, cout: usize| {
        ops::linear_fwd(ex, x, w(wt, cin * cout), w(bias, cout), y, n, cin, cout)
    };
    for l in 0..cfg.n_layer {
        let o = layout.block(l);
        let (done, rest) = fw.layers.split_at_mut(l + 1);
        let lc = &mut done[l];
        ln(&lc.x_in, o.ln1_g, o.ln1_b, &mut lc.ln1, &mut lc.ln1c);
        linear(&lc.ln1, o.attn_w, o.attn_b, &mut lc.qkv, c, 3 * c);
        ops::attention_fwd(ex, &lc.qkv, &mut lc.att, &mut lc.probs, b, t, c, cfg.n_head);
        // x_mid = x_in + proj(att)
        linear(&lc.att, o.proj_w, o.proj_b, &mut lc.x_mid, c, c);
        ops::add_into(&lc.x_in, &mut lc.x_mid);
        ln(&lc.x_mid, o.ln2_g, o.ln2_b, &mut lc.ln2, &mut lc.ln2c);
        linear(&lc.ln2, o.fc_w, o.fc_b, &mut lc.fc, c, 4 * c);
        ops::gelu_fwd(ex, &lc.fc, &mut lc.act);
        // x_out = x_mid + mlp(act), the next layer's input.
        let x_out = match rest.first_mut() {
            Some(next) => &mut next.x_in,
            None => &mut fw.x_final,
        };
        linear(&lc.act, o.fc2_w, o.fc2_b, x_out, 4 * c, c);
        ops::add_into(&lc.x_mid, x_out);
    }
    let (g, bb) = layout.lnf();
    ln(&fw.x_final, g, bb, &mut fw.lnf, &mut fw.lnfc);
    ex.gemm(&fw.lnf, Stored::Normal, wte, Stored::Transposed, &mut fw.logits, n, c, VOCAB);
}

/// Scratch gradients of the activations, reused across backward passes (every buffer is
/// overwritten before it is read).
pub struct Backward {
    dlnf: Vec<f32>,
    dx: Vec<f32>,
    dact: Vec<f32>,
    dfc: Vec<f32>,
    dln2: Vec<f32>,
    dxm: Vec<f32>,
    datt: Vec<f32>,
    dqkv: Vec<f32>,
    dln1: Vec<f32>,
    dxi: Vec<f32>,
}

impl Backward {
    /// Buffers for a batch of `b` sequences of `t` tokens.
    pub fn new(cfg: &GptConfig, b: usize, t: usize) -> Backward {
        let (n, c) = (b * t, cfg.n_embd);
        let buf = |len: usize| vec![0.0f32; len];
        Backward {
            dlnf: buf(n * c),
            dx: buf(n * c),
            dact: buf(n * 4 * c),
            dfc: buf(n * 4 * c),
            dln2: buf(n * c),
            dxm: buf(n * c),
            datt: buf(n * c),
            dqkv: buf(n * 3 * c),
            dln1: buf(n * c),
            dxi: buf(n * c),
        }
    }
}

/// Splits out the weight and bias gradients of one linear layer (`w` at `w_off` holding
/// `w_len` values, then its bias of `b_len` values at `b_off > w_off`).
fn linear_grads(
    grad: &mut [f32],
    w_off: usize,
    w_len: usize,
    b_off: usize,
    b_len: usize,
) -> (&mut [f32], &mut [f32]) {
    let (dw, rest) = grad[w_off..].split_at_mut(w_len);
    (dw, &mut rest[b_off - w_off - w_len..][..b_len])
}

/// Splits out the gain and bias gradients of one LayerNorm (bias right after the gain).
fn ln_grads(grad: &mut [f32], g_off: usize, c: usize) -> (&mut [f32], &mut [f32]) {
    grad[g_off..g_off + 2 * c].split_at_mut(c)
}

/// Backward pass from `dlogits` (`(b·t)×256`); overwrites `grad` (same layout as `p`), using
/// `bw` (for the same batch shape as `fw`) as scratch.
///
/// Fixed accumulation order: residual gradients are `upstream + branch`; the tied `wte`
/// gradient is the LM-head term first, then embedding rows added in ascending row order.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    ex: &Exec,
    cfg: &GptConfig,
    layout: &Layout,
    p: &[f32],
    tokens: &[u8],
    fw: &Forward,
    dlogits: &[f32],
    grad: &mut [f32],
    bw: &mut Backward,
) {
    let c = cfg.n_embd;
    let (b, t) = (fw.b, fw.t);
    let n = b * t;
    let wte = &p[0..VOCAB * c];
    let w = |off: usize, len: usize| &p[off..off + len];
    let Backward { dlnf, dx, dact, dfc, dln2, dxm, datt, dqkv, dln1, dxi } = bw;
    // Tied head: logits = lnf · wteᵀ. The two gradients are independent: side by side.
    let dwte = &mut grad[0..VOCAB * c];
    rayon::join(
        || ex.gemm(dlogits, Stored::Normal, wte, Stored::Normal, dlnf, n, VOCAB, c),
        || ex.gemm(dlogits, Stored::Transposed, &fw.lnf, Stored::Normal, dwte, VOCAB, n, c),
    );
    let (g_off, _) = layout.lnf();
    let (dg, db) = ln_grads(grad, g_off, c);
    ops::layernorm_bwd(ex, &fw.x_final, w(g_off, c), &fw.lnfc, dlnf, dx, dg, db, c);
    for l in (0..cfg.n_layer).rev() {
        let o = layout.block(l);
        let lc = &fw.layers[l];
        // MLP branch: x_out = x_mid + fc2(gelu(fc(ln2(x_mid)))).
        let (dw, db) = linear_grads(grad, o.fc2_w, 4 * c * c, o.fc2_b, c);
        ops::linear_bwd(ex, &lc.act, w(o.fc2_w, 4 * c * c), dx, dact, dw, db, n, 4 * c, c);
        ops::gelu_bwd(ex, &lc.fc, dact, dfc);
        let (dw, db) = linear_grads(grad, o.fc_w, 4 * c * c, o.fc_b, 4 * c);
        ops::linear_bwd(ex, &lc.ln2, w(o.fc_w, 4 * c * c), dfc, dln2, dw, db, n, c, 4 * c);
        let (dg, db) = ln_grads(grad, o.ln2_g, c);
        ops::layernorm_bwd(ex, &lc.x_mid, w(o.ln2_g, c), &lc.ln2c, dln2, dxm, dg, db, c);
        // dx_mid = dx + dxm, kept in dxm.
        ops::add_into(dx, dxm);
        let dx_mid = &*dxm;
        // Attention branch: x_mid = x_in + proj(attn(qkv(ln1(x_in)))).
        let (dw, db) = linear_grads(grad, o.proj_w, c * c, o.proj_b, c);
        ops::linear_bwd(ex, &lc.att, w(o.proj_w, c * c), dx_mid, datt, dw, db, n, c, c);
        ops::attention_bwd(ex, &lc.qkv, &lc.probs, datt, dqkv, b, t, c, cfg.n_head);
        let (dw, db) = linear_grads(grad, o.attn_w, 3 * c * c, o.attn_b, 3 * c);
        ops::linear_bwd(ex, &lc.ln1, w(o.attn_w, 3 * c * c), dqkv, dln1, dw, db, n, c, 3 * c);
        let (dg, db) = ln_grads(grad, o.ln1_g, c);
        ops::layernorm_bwd(ex, &lc.x_in, w(o.ln1_g, c), &lc.ln1c, dln1, dxi, dg, db, c);
        // dx = dx_mid + dxi: the sum goes to dxi, whose buffer becomes dx.
        ops::add_into(dx_mid, dxi);
        std::mem::swap(dx, dxi);
    }
    let (dwte, rest) = grad.split_at_mut(VOCAB * c);
    ops::embedding_bwd(tokens, t, dx, dwte, &mut rest[..cfg.n_ctx * c], c);
}
