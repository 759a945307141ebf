//! Llama-family inference (SmolLM2, Llama 2/3 shapes) from a GGUF file, on the profile's
//! numerics: every logit has the same bits on any thread count, instruction set and batch.
//!
//! The block is RMSNorm → grouped-query attention with RoPE (adjacent pairs, as llama.cpp's
//! `LLAMA_ROPE_TYPE_NORM` over GGUF's permuted Q/K weights) → residual → RMSNorm → SwiGLU →
//! residual; the head is the output norm and the output matrix (or the token embedding, tied).
//! Each op is defined in `REPOPS.md` §3 ("Llama inference"): matmuls are the profile's FMA
//! chains, sums run in ascending order, and the only transcendentals are the profile's `exp`,
//! `ln`, `sin_cos` and `rsqrt`. Every row of every op depends only on that token and on its
//! own sequence's earlier keys and values, so a request decodes to the same tokens alone or in a
//! batch of any size, in one prefill or token by token ([`Llama::forward`]).
//!
//! Weights are expanded from their GGUF blocks ([`crate::gguf`]) to `f32` when loaded and kept
//! as `[in][out]` matrices, read by [`kernels::matvec`] (a few rows: decoding) or
//! [`kernels::gemm`] (a prefill; on the GPU with `Backend::Cuda`, through [`Exec::gemm`]). All
//! compute the same chain per element.

use crate::data::Rng;
use crate::error::{Error, Result};
use crate::gguf::{Gguf, TensorType, Value};
use crate::kernels::{self, fma_dispatch, Simd, Stored};
use crate::ops::Exec;
use crate::quant::{QuantMatrix, ROWS};
use crate::repops;
use crate::train::Runtime;
use rayon::prelude::*;
use std::path::Path;

/// Shape and constants of a Llama-family model, from the GGUF metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Tokens in the vocabulary.
    pub vocab: usize,
    /// Width of the residual stream.
    pub dim: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention: `heads / kv_heads` queries share one).
    pub kv_heads: usize,
    /// Width of the SwiGLU hidden layer.
    pub hidden: usize,
    /// Longest sequence the model was trained for (and this runtime accepts).
    pub context: usize,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// RMSNorm epsilon.
    pub eps: f32,
}

impl LlamaConfig {
    /// Values per head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads
    }

    /// Values of one token's keys (and of its values).
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim()
    }

    /// Reads the `llama.*` metadata; refuses what this runtime does not implement.
    pub fn from_gguf(g: &Gguf) -> Result<LlamaConfig> {
        let arch = g.str("general.architecture")?;
        if arch != "llama" {
            return Err(Error::Unsupported(format!(
                "architecture {arch:?}: this runtime runs \"llama\" (Llama, SmolLM, Mistral-shaped) models"
            )));
        }
        if let Ok(kind) = g.str("llama.rope.scaling.type") {
            if kind != "none" {
                return Err(Error::Unsupported(format!("RoPE scaling {kind:?}")));
            }
        }
        if g.metadata.contains_key("llama.expert_count") {
            return Err(Error::Unsupported("mixture-of-experts layers".into()));
        }
        let heads = g.usize("llama.attention.head_count")?;
        let cfg = LlamaConfig {
            vocab: g.tensor("token_embd.weight")?.dims.get(1).copied().unwrap_or(0) as usize,
            dim: g.usize("llama.embedding_length")?,
            layers: g.usize("llama.block_count")?,
            heads,
            kv_heads: match g.metadata.get("llama.attention.head_count_kv") {
                Some(_) => g.usize("llama.attention.head_count_kv")?,
                None => heads,
            },
            hidden: g.usize("llama.feed_forward_length")?,
            context: g.usize("llama.context_length")?,
            rope_base: match g.metadata.get("llama.rope.freq_base") {
                Some(_) => g.f32("llama.rope.freq_base")?,
                None => 10_000.0,
            },
            eps: g.f32("llama.attention.layer_norm_rms_epsilon")?,
        };
        cfg.validate()?;
        if let Some(Value::Int(rope)) = g.metadata.get("llama.rope.dimension_count") {
            if *rope != cfg.head_dim() as i128 {
                return Err(Error::Unsupported(format!(
                    "RoPE over {rope} of each head's {} values",
                    cfg.head_dim()
                )));
            }
        }
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Gguf(m));
        if [self.vocab, self.dim, self.layers, self.heads, self.kv_heads, self.hidden, self.context]
            .contains(&0)
        {
            return fail(format!("a dimension of {self:?} is zero"));
        }
        if !self.dim.is_multiple_of(self.heads)
            || !self.heads.is_multiple_of(self.kv_heads)
            || !self.head_dim().is_multiple_of(2)
        {
            return fail(format!(
                "{} heads ({} key/value heads) do not divide width {} into even heads",
                self.heads, self.kv_heads, self.dim
            ));
        }
        if !(self.rope_base.is_finite()
            && self.rope_base > 1.0
            && self.eps.is_finite()
            && self.eps > 0.0)
        {
            return fail(format!("RoPE base {} or epsilon {}", self.rope_base, self.eps));
        }
        // A sane bound on what a header may make us allocate (a 70B model is 8192 wide).
        if self.dim > 65_536 || self.hidden > 262_144 || self.vocab > 1 << 20 || self.layers > 1024
        {
            return fail(format!("implausible shape {self:?}"));
        }
        Ok(())
    }
}

/// A weight matrix `y = x·W`: expanded to `[in][out]` for products of many rows, and kept in
/// its GGUF blocks (when quantized) for single rows, which read it once per token.
struct Linear {
    dense: Vec<f32>,
    quant: Option<QuantMatrix>,
    k: usize,
    n: usize,
}

impl Linear {
    /// GGUF tensor `name` of dimensions `[k, n]` (`n` rows of `k`).
    fn load(g: &Gguf, name: &str, k: usize, n: usize) -> Result<Linear> {
        let (kind, data) = g.raw(name, &[k as u64, n as u64])?;
        let quant = match kind {
            TensorType::Q4_1 | TensorType::Q8_0 => Some(QuantMatrix::from_gguf(kind, data, k, n)?),
            _ => None,
        };
        let rows = g.dequantize(name, &[k as u64, n as u64])?;
        Ok(Linear { dense: kernels::transpose(&rows, n, k), quant, k, n })
    }

    /// `x·W` for `m` rows: by columns for a few rows (every thread works on each row, reading
    /// the quantized blocks), as a blocked product over the expanded matrix for many. Same
    /// bits either way.
    fn apply(&self, x: &[f32], m: usize, exec: &Exec) -> Vec<f32> {
        let simd = exec.simd;
        let (k, n) = (self.k, self.n);
        let mut y = vec![0.0f32; m * n];
        if let (Some(q), true) = (&self.quant, m <= 4 * ROWS) {
            q.matmul(x, m, &mut y, simd, true);
        } else if m < 4 {
            for (xr, yr) in x.chunks_exact(k).zip(y.chunks_exact_mut(n)) {
                kernels::matvec(xr, &self.dense, yr, k, n, simd, true);
            }
        } else {
            exec.gemm(x, Stored::Normal, &self.dense, Stored::Normal, &mut y, m, k, n);
        }
        y
    }
}

/// One block's weights.
struct Block {
    attn_norm: Vec<f32>,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: Vec<f32>,
    w_gate: Linear,
    w_up: Linear,
    w_down: Linear,
}

/// A loaded Llama-family model.
pub struct Llama {
    /// Its shape.
    pub config: LlamaConfig,
    /// Token embedding, `[vocab][dim]`.
    embed: Vec<f32>,
    /// The output matrix (the token embedding when tied).
    output: Linear,
    out_norm: Vec<f32>,
    blocks: Vec<Block>,
    /// `ln(rope_base)`, once.
    ln_base: f32,
    /// Instruction set, and the device prefills' matmuls run on.
    exec: Exec,
    pool: rayon::ThreadPool,
}

/// Positions of one block of the key cache: keys are stored by blocks of this many positions,
/// each value's positions side by side (`[block][kv value][position]`), so one vector
/// instruction continues the score chains of that many positions.
const KEY_BLOCK: usize = 16;

/// One sequence's keys and values, every layer (positions `0..len`): keys by blocks of
/// [`KEY_BLOCK`] positions, values by position.
#[derive(Clone, Debug, Default)]
pub struct KvCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    len: usize,
}

impl KvCache {
    /// Tokens held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no token.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Tokens that continue one sequence in a [`Llama::forward`] batch.
pub struct Piece<'a> {
    /// The sequence's cache (grows by `tokens.len()`).
    pub cache: &'a mut KvCache,
    /// New tokens, at positions `cache.len()..`.
    pub tokens: &'a [u32],
}

impl Llama {
    /// Loads a GGUF file.
    pub fn load(path: &Path, rt: &Runtime) -> Result<Llama> {
        Llama::from_gguf(&Gguf::read(path)?, rt)
    }

    /// Expands a parsed GGUF's weights.
    pub fn from_gguf(g: &Gguf, rt: &Runtime) -> Result<Llama> {
        let cfg = LlamaConfig::from_gguf(g)?;
        // The device first: a missing GPU fails before the weights are expanded.
        let exec = rt.exec()?;
        let (d, kv, h, v) = (cfg.dim, cfg.kv_dim(), cfg.hidden, cfg.vocab);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rt.threads.max(1))
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot start threads: {e}")))?;
        let blocks = pool.install(|| {
            (0..cfg.layers)
                .map(|i| {
                    let n = |t: &str| format!("blk.{i}.{t}.weight");
                    Ok(Block {
                        attn_norm: g.dequantize(&n("attn_norm"), &[d as u64])?,
                        wq: Linear::load(g, &n("attn_q"), d, d)?,
                        wk: Linear::load(g, &n("attn_k"), d, kv)?,
                        wv: Linear::load(g, &n("attn_v"), d, kv)?,
                        wo: Linear::load(g, &n("attn_output"), d, d)?,
                        ffn_norm: g.dequantize(&n("ffn_norm"), &[d as u64])?,
                        w_gate: Linear::load(g, &n("ffn_gate"), d, h)?,
                        w_up: Linear::load(g, &n("ffn_up"), d, h)?,
                        w_down: Linear::load(g, &n("ffn_down"), h, d)?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let embed = g.dequantize("token_embd.weight", &[d as u64, v as u64])?;
        let output = pool.install(|| match g.tensor("output.weight") {
            Ok(_) => Linear::load(g, "output.weight", d, v),
            Err(_) => Linear::load(g, "token_embd.weight", d, v),
        })?;
        Ok(Llama {
            ln_base: repops::ln(cfg.rope_base),
            out_norm: g.dequantize("output_norm.weight", &[d as u64])?,
            config: cfg,
            embed,
            output,
            blocks,
            exec,
            pool,
        })
    }

    /// The device error that moved this model's matmuls to the CPU (same bits), if one did.
    pub fn device_failure(&self) -> Option<&str> {
        self.exec.device_failure()
    }

    /// An empty cache for one sequence.
    pub fn cache(&self) -> KvCache {
        KvCache {
            k: vec![Vec::new(); self.config.layers],
            v: vec![Vec::new(); self.config.layers],
            len: 0,
        }
    }

    /// Runs every piece's new tokens through the model together and returns, for each piece,
    /// the next-token logits after each of its tokens (`all`) or after its last one. Each
    /// cache grows by its tokens. Nothing changes when a token is out of the vocabulary, a
    /// sequence would outgrow the context, or a piece is empty.
    pub fn forward(&self, pieces: &mut [Piece], all: bool) -> Result<Vec<Vec<Vec<f32>>>> {
        let cfg = &self.config;
        for p in pieces.iter() {
            if p.tokens.is_empty() {
                return Err(Error::InvalidInput("a sequence has no new token".into()));
            }
            if let Some(t) = p.tokens.iter().find(|t| **t as usize >= cfg.vocab) {
                return Err(Error::InvalidInput(format!(
                    "token {t} is not in the vocabulary of {}",
                    cfg.vocab
                )));
            }
            if p.cache.len + p.tokens.len() > cfg.context {
                return Err(Error::InvalidInput(format!(
                    "{} tokens exceed the model's context of {}",
                    p.cache.len + p.tokens.len(),
                    cfg.context
                )));
            }
        }
        // Row `r` of the batch: which piece, which position.
        let rows: Vec<(usize, usize)> = pieces
            .iter()
            .enumerate()
            .flat_map(|(i, p)| (0..p.tokens.len()).map(move |j| (i, p.cache.len + j)))
            .collect();
        let tokens: Vec<u32> = pieces.iter().flat_map(|p| p.tokens.iter().copied()).collect();
        let out = crate::ops::install_hot(&self.pool, || self.run(pieces, &rows, &tokens, all));
        for p in pieces.iter_mut() {
            p.cache.len += p.tokens.len();
        }
        Ok(out)
    }

    fn run(
        &self,
        pieces: &mut [Piece],
        rows: &[(usize, usize)],
        tokens: &[u32],
        all: bool,
    ) -> Vec<Vec<Vec<f32>>> {
        let cfg = &self.config;
        let (t, d, kv, hd) = (rows.len(), cfg.dim, cfg.kv_dim(), cfg.head_dim());
        let mut x = vec![0.0f32; t * d];
        for (row, tok) in x.chunks_exact_mut(d).zip(tokens) {
            row.copy_from_slice(&self.embed[*tok as usize * d..][..d]);
        }
        let rope = self.rope_table(rows);
        let mut h = vec![0.0f32; t * d];
        for (layer, b) in self.blocks.iter().enumerate() {
            rms_norm(self.exec.simd, &x, &b.attn_norm, cfg.eps, &mut h);
            let mut q = b.wq.apply(&h, t, &self.exec);
            let mut k = b.wk.apply(&h, t, &self.exec);
            let v = b.wv.apply(&h, t, &self.exec);
            rotate(&mut q, hd, &rope);
            rotate(&mut k, hd, &rope);
            for (r, &(i, pos)) in rows.iter().enumerate() {
                push_key(&mut pieces[i].cache.k[layer], pos, &k[r * kv..][..kv]);
                pieces[i].cache.v[layer].extend_from_slice(&v[r * kv..][..kv]);
            }
            let att = self.attention(pieces, rows, layer, &q);
            let o = b.wo.apply(&att, t, &self.exec);
            add_into(&o, &mut x);
            rms_norm(self.exec.simd, &x, &b.ffn_norm, cfg.eps, &mut h);
            let mut g = b.w_gate.apply(&h, t, &self.exec);
            let u = b.w_up.apply(&h, t, &self.exec);
            silu_mul(self.exec.simd, &mut g, &u);
            let down = b.w_down.apply(&g, t, &self.exec);
            add_into(&down, &mut x);
        }
        // Only the rows whose logits are wanted go through the head.
        let wanted: Vec<usize> =
            (0..t).filter(|&r| all || r + 1 == t || rows[r + 1].0 != rows[r].0).collect();
        let mut sel = Vec::with_capacity(wanted.len() * d);
        for &r in &wanted {
            sel.extend_from_slice(&x[r * d..][..d]);
        }
        let mut normed = vec![0.0f32; sel.len()];
        rms_norm(self.exec.simd, &sel, &self.out_norm, cfg.eps, &mut normed);
        let logits = self.output.apply(&normed, wanted.len(), &self.exec);
        let mut out: Vec<Vec<Vec<f32>>> = pieces.iter().map(|_| Vec::new()).collect();
        for (n, &r) in wanted.iter().enumerate() {
            out[rows[r].0].push(logits[n * cfg.vocab..][..cfg.vocab].to_vec());
        }
        out
    }

    /// `(cos, sin)` of each row's angles `pos·θ_i`, `θ_i = exp(−(2i/hd)·ln base)`.
    fn rope_table(&self, rows: &[(usize, usize)]) -> Vec<(f32, f32)> {
        let half = self.config.head_dim() / 2;
        let hd = self.config.head_dim() as f32;
        let theta: Vec<f32> =
            (0..half).map(|i| repops::exp(-(((2 * i) as f32 / hd) * self.ln_base))).collect();
        let mut table = Vec::with_capacity(rows.len() * half);
        for &(_, pos) in rows {
            for th in &theta {
                let (s, c) = repops::sin_cos(pos as f32 * th);
                table.push((c, s));
            }
        }
        table
    }

    /// Causal grouped-query attention of every row over its own sequence's cache.
    fn attention(
        &self,
        pieces: &[Piece],
        rows: &[(usize, usize)],
        layer: usize,
        q: &[f32],
    ) -> Vec<f32> {
        let cfg = &self.config;
        let (d, hd, kv) = (cfg.dim, cfg.head_dim(), cfg.kv_dim());
        let group = cfg.heads / cfg.kv_heads;
        let scale = repops::rsqrt(hd as f32);
        let mut out = vec![0.0f32; rows.len() * d];
        out.par_chunks_mut(hd).enumerate().for_each(|(task, o)| {
            let (r, head) = (task / cfg.heads, task % cfg.heads);
            let (piece, pos) = rows[r];
            let cache = &pieces[piece].cache;
            let kvh = head / group;
            attend(
                self.exec.simd,
                &q[r * d + head * hd..][..hd],
                &cache.k[layer],
                &cache.v[layer],
                kv,
                kvh * hd,
                pos + 1,
                scale,
                o,
            );
        });
        out
    }
}

/// Stores the key `row` of position `pos` (positions arrive in order) in a blocked key cache.
fn push_key(k: &mut Vec<f32>, pos: usize, row: &[f32]) {
    let (kv, block) = (row.len(), pos / KEY_BLOCK);
    let base = block * kv * KEY_BLOCK;
    if k.len() < base + kv * KEY_BLOCK {
        k.resize(base + kv * KEY_BLOCK, 0.0);
    }
    for (c, value) in row.iter().enumerate() {
        k[base + c * KEY_BLOCK + pos % KEY_BLOCK] = *value;
    }
}

/// `x += y` (the residual: upstream plus branch, one addition each).
fn add_into(y: &[f32], x: &mut [f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += *b;
    }
}

/// Rotates each head's adjacent pairs `(x_2i, x_2i+1)` of every row by that row's angles:
/// `(x·c − y·s, x·s + y·c)`, each product and sum separately rounded.
fn rotate(x: &mut [f32], hd: usize, table: &[(f32, f32)]) {
    let half = hd / 2;
    let width = x.len() / (table.len() / half).max(1);
    for (row, angles) in x.chunks_exact_mut(width).zip(table.chunks_exact(half)) {
        for head in row.chunks_exact_mut(hd) {
            for (pair, &(c, s)) in head.chunks_exact_mut(2).zip(angles) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * c - b * s;
                pair[1] = a * s + b * c;
            }
        }
    }
}

fma_dispatch! {
    /// RMSNorm of each row: `ms = sum(x·x)/C` (ascending), `r = rsqrt(ms + eps)`,
    /// `y = (x·r)·g`.
    fn rms_norm(x: &[f32], g: &[f32], eps: f32, y: &mut [f32]) {
        let c = g.len();
        for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
            let mut ss = 0.0f32;
            for v in xr {
                ss += v * v;
            }
            let r = repops::rsqrt(ss / c as f32 + eps);
            for ((o, v), w) in yr.iter_mut().zip(xr).zip(g) {
                *o = (v * r) * w;
            }
        }
    }
}

fma_dispatch! {
    /// SwiGLU's gate: `g = silu(g)·u`.
    fn silu_mul(g: &mut [f32], u: &[f32]) {
        for (a, b) in g.iter_mut().zip(u) {
            *a = repops::silu(*a) * b;
        }
    }
}

fma_dispatch! {
    /// One query head over positions `0..n` of a cache of `kv` values per position (keys in
    /// blocks of [`KEY_BLOCK`] positions, values by position), the head's values starting at
    /// `at`: `s_j = (q·k_j)·scale` (FMA chain over the head, ascending), `m = max s`,
    /// `e_j = exp(s_j − m)`, `p_j = e_j / sum(e)` (ascending), and `o = Σ_j p_j·v_j` (FMA
    /// chain over `j`, ascending, from `+0`). Lanes hold different positions' chains.
    fn attend(q: &[f32], k: &[f32], v: &[f32], kv: usize, at: usize, n: usize, scale: f32, o: &mut [f32]) {
        let hd = q.len();
        let mut s = Vec::with_capacity(n.next_multiple_of(KEY_BLOCK));
        let block = |b: usize| &k[(b * kv + at) * KEY_BLOCK..][..hd * KEY_BLOCK];
        let blocks = n.div_ceil(KEY_BLOCK);
        let mut b = 0;
        // Four blocks at a time: four independent vectors of chains in flight.
        while b + 4 <= blocks {
            let kb = [block(b), block(b + 1), block(b + 2), block(b + 3)];
            let mut acc = [0.0f32; 4 * KEY_BLOCK];
            for (dd, qv) in q.iter().enumerate() {
                for (i, kb) in kb.iter().enumerate() {
                    let row: &[f32; KEY_BLOCK] =
                        kb[dd * KEY_BLOCK..][..KEY_BLOCK].try_into().expect("a block row");
                    let a: &mut [f32; KEY_BLOCK] =
                        (&mut acc[i * KEY_BLOCK..][..KEY_BLOCK]).try_into().expect("lanes");
                    for l in 0..KEY_BLOCK {
                        a[l] = qv.mul_add(row[l], a[l]);
                    }
                }
            }
            s.extend(acc);
            b += 4;
        }
        for b in b..blocks {
            let kb = block(b);
            let mut acc = [0.0f32; KEY_BLOCK];
            for (dd, qv) in q.iter().enumerate() {
                for (l, x) in acc.iter_mut().enumerate() {
                    *x = qv.mul_add(kb[dd * KEY_BLOCK + l], *x);
                }
            }
            s.extend(acc);
        }
        s.truncate(n);
        let mut m = f32::NEG_INFINITY;
        for sj in s.iter_mut() {
            *sj *= scale;
            m = repops::max(m, *sj);
        }
        for sj in s.iter_mut() {
            *sj -= m;
        }
        repops::exp_in_place(&mut s);
        let mut total = 0.0f32;
        for e in &s {
            total += e;
        }
        for e in s.iter_mut() {
            *e /= total;
        }
        // The chains of the head's values side by side, by 64: four vectors of independent
        // chains in flight (one alone would wait on the FMA's latency), kept in registers.
        for (c, oc) in o.chunks_mut(64).enumerate() {
            let mut acc = [0.0f32; 64];
            let w = oc.len();
            for (j, p) in s.iter().enumerate() {
                let vj = &v[j * kv + at + c * 64..][..w];
                for (a, b) in acc.iter_mut().zip(vj) {
                    *a = p.mul_add(*b, *a);
                }
            }
            oc.copy_from_slice(&acc[..w]);
        }
    }
}

/// How the next token is picked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler {
    /// 0 picks the largest logit (greedy); otherwise logits are divided by it.
    pub temperature: f32,
    /// Nucleus: sample among the most likely tokens whose mass first reaches this share.
    pub top_p: f32,
}

impl Sampler {
    /// Greedy decoding.
    pub const GREEDY: Sampler = Sampler { temperature: 0.0, top_p: 1.0 };

    /// Checks the parameters (`temperature ≥ 0`, `0 < top_p ≤ 1`).
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "temperature {} is not ≥ 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::InvalidInput(format!("top_p {} is not in (0, 1]", self.top_p)));
        }
        Ok(())
    }

    /// The next token. Greedy: the largest logit, the lowest id on ties. Otherwise
    /// `e_i = exp(l_i/T − max)`, tokens ordered by `e` (descending, lower id first on ties),
    /// kept while the running sum (in that order) is below `top_p·Σe`, and one drawn with
    /// `u = rng.next_f32()·(kept mass)`: the first whose running sum exceeds `u`. Same bits in,
    /// same token out, everywhere.
    pub fn pick(&self, logits: &[f32], rng: &mut Rng) -> u32 {
        if self.temperature == 0.0 {
            let mut best = 0;
            for (i, v) in logits.iter().enumerate() {
                if *v > logits[best] {
                    best = i;
                }
            }
            return best as u32;
        }
        let scaled: Vec<f32> = logits.iter().map(|l| l / self.temperature).collect();
        let m = scaled.iter().fold(f32::NEG_INFINITY, |a, &b| repops::max(a, b));
        let e: Vec<f32> = scaled.iter().map(|s| repops::exp(s - m)).collect();
        let mut order: Vec<u32> = (0..e.len() as u32).collect();
        order.sort_by(|a, b| e[*b as usize].total_cmp(&e[*a as usize]).then(a.cmp(b)));
        let total = order.iter().fold(0.0f32, |acc, i| acc + e[*i as usize]);
        let threshold = self.top_p * total;
        let mut kept = 0.0f32;
        let mut n = 0;
        for i in &order {
            kept += e[*i as usize];
            n += 1;
            if kept >= threshold {
                break;
            }
        }
        let u = rng.next_f32() * kept;
        let mut run = 0.0f32;
        for i in &order[..n] {
            run += e[*i as usize];
            if u < run {
                return *i;
            }
        }
        order[n - 1]
    }
}
