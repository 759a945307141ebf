#!/usr/bin/env python3
"""Float64 reference of the Llama forward pass of SmolLM2-135M-Instruct Q4_1 (GGUF).

Run through scripts/llama-f64-reference.sh. It tells apart "our f32 kernels are wrong" from
"llama.cpp rounds its activations to 8 bits": llama.cpp quantizes every mat-mul input to
Q8_1/Q8_0 blocks, so its logits are not those of the weights it holds; this script computes
those logits with the same (dequantized) weights and float64 activations throughout.

- Weights: gguf.quants.dequantize of every tensor, widened to float64 EXACTLY: Q8_0 (q*d) is
  exact in float32 already; Q4_1 (q*d + m) is not always (gguf sums in float32), so the block
  minima m are zeroed in a copy of the raw blocks, gguf dequantizes that (q*d, exact in float32),
  and m (f16, exact in float64) is added in float64. The plain gguf result is checked against
  that to within float32 rounding. A GGUF matrix of ggml shape [in, out] comes from the reader as
  (out, in) rows, so y = x @ W.T; token_embd (49152, 576) is indexed by token id and, tied, is
  also the output matrix.
- Forward, as llama.cpp's llama arch: x = token_embd[tok]; per block h = rmsnorm(x) * attn_norm
  with rmsnorm(x) = x / sqrt(mean(x^2) + eps); q, k, v projections; RoPE NORM mode (adjacent
  pairs (2i, 2i+1) of each 64-wide head rotated by pos * base^(-2i/64); convert_hf_to_gguf has
  already permuted the HF q/k rows for this, so no un-permuting here); causal softmax attention
  scaled by 1/sqrt(64), query head h reading kv head h // 3; output projection; residual;
  h = rmsnorm(x) * ffn_norm; down(silu(gate(h)) * up(h)); residual; final rmsnorm * output_norm;
  logits = x @ token_embd.T. Positions start at 0.
- Input: crates/compute/tests/fixtures/smollm2-llamacpp.json. For each prompt the sequence fed is
  ids + greedy[:-1] (exactly what llama.cpp's teacher-forced "top" covers), in one pass.
- Output: crates/compute/tests/fixtures/smollm2-f64.json with, per prompt, the ids fed and for every
  position the 8 largest float64 logits as [id, logit] (descending, lower id first on a tie),
  rounded to 6 decimals. Also prints how often llama.cpp's top-1 is the float64 top-1 and the
  largest |llama.cpp logit - float64 logit| over llama.cpp's top-5 ids.
"""

import os

# Modest CPU use, and a fixed BLAS thread count (set before numpy loads its BLAS).
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version  # noqa: E402

import numpy as np  # noqa: E402
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

TOP_K = 8


def dequant_f64(t):
    """One GGUF tensor as float64, exactly (see the module doc); shape (out, in) for matrices."""
    raw = np.asarray(t.data)
    plain = dequantize(raw, t.tensor_type)
    if t.tensor_type == QT.Q4_1:
        # Block: d f16, m f16, 16 bytes of nibbles (32 weights).
        blocks = raw.reshape(-1, 20).copy()
        m = blocks[:, 2:4].copy().view(np.float16).astype(np.float64)  # (n_blocks, 1)
        blocks[:, 2:4] = 0  # m = +0.0: gguf then returns d*q, exact in float32
        qd = dequantize(blocks.reshape(raw.shape), t.tensor_type).astype(np.float64)
        w = (qd.reshape(-1, 32) + m).reshape(qd.shape)
    elif t.tensor_type in (QT.Q8_0, QT.F32, QT.F16):
        w = plain.astype(np.float64)  # q*d (8 x 11 bits) and f16/f32 are exact in float32
    else:
        raise SystemExit(f"{t.name}: unexpected type {t.tensor_type.name}")
    # Within float32 rounding of the plain gguf result (which rounds q*d + m to float32).
    err = np.abs(w - plain.astype(np.float64))
    if not np.all(err <= np.abs(w) * 2.0**-24 + 1e-45):
        raise SystemExit(f"{t.name}: exact dequantization disagrees with gguf's")
    ggml_shape = [int(s) for s in t.shape]  # ggml order: [in, out]
    if w.shape != tuple(reversed(ggml_shape)):
        raise SystemExit(f"{t.name}: shape {w.shape} is not the reverse of ggml {ggml_shape}")
    return w, int(np.count_nonzero(err))


def field(r, key):
    return r.fields[key].contents()


class Model:
    def __init__(self, path):
        r = gguf.GGUFReader(path)
        assert field(r, "general.architecture") == "llama"
        self.n_layer = int(field(r, "llama.block_count"))
        self.n_embd = int(field(r, "llama.embedding_length"))
        self.n_head = int(field(r, "llama.attention.head_count"))
        self.n_head_kv = int(field(r, "llama.attention.head_count_kv"))
        self.n_ff = int(field(r, "llama.feed_forward_length"))
        self.base = float(field(r, "llama.rope.freq_base"))
        # The GGUF stores eps as f32 (9.99999974738e-06); llama.cpp uses that f32 value.
        self.eps = float(field(r, "llama.attention.layer_norm_rms_epsilon"))
        self.head_dim = self.n_embd // self.n_head
        assert int(field(r, "llama.rope.dimension_count")) == self.head_dim
        self.w = {}
        self.f32_rounded = 0
        for t in r.tensors:
            self.w[t.name], n = dequant_f64(t)
            self.f32_rounded += n
        assert "output.weight" not in self.w, "expected a tied output (token_embd)"
        self.emb = self.w["token_embd.weight"]
        assert self.emb.shape[1] == self.n_embd
        for i in range(self.n_layer):
            p = f"blk.{i}."
            shapes = {
                "attn_q.weight": (self.n_embd, self.n_embd),
                "attn_k.weight": (self.n_head_kv * self.head_dim, self.n_embd),
                "attn_v.weight": (self.n_head_kv * self.head_dim, self.n_embd),
                "attn_output.weight": (self.n_embd, self.n_embd),
                "ffn_gate.weight": (self.n_ff, self.n_embd),
                "ffn_up.weight": (self.n_ff, self.n_embd),
                "ffn_down.weight": (self.n_embd, self.n_ff),
                "attn_norm.weight": (self.n_embd,),
                "ffn_norm.weight": (self.n_embd,),
            }
            for k, s in shapes.items():
                assert self.w[p + k].shape == s, (p + k, self.w[p + k].shape, s)

    def rmsnorm(self, x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * g

    def rope(self, x, pos):
        """NORM mode: x (T, heads, 64); rotates (x[2i], x[2i+1]) by pos * base^(-2i/64)."""
        d = self.head_dim
        inv = self.base ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (32,)
        ang = pos[:, None].astype(np.float64) * inv[None, :]  # (T, 32)
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out

    def forward(self, toks):
        toks = np.asarray(toks, dtype=np.int64)
        T, hd, nh, nkv = len(toks), self.head_dim, self.n_head, self.n_head_kv
        pos = np.arange(T)
        x = self.emb[toks].copy()
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        scale = 1.0 / np.sqrt(hd)
        for i in range(self.n_layer):
            w = lambda k: self.w[f"blk.{i}.{k}.weight"]  # noqa: E731
            h = self.rmsnorm(x, w("attn_norm"))
            q = self.rope((h @ w("attn_q").T).reshape(T, nh, hd), pos)
            k = self.rope((h @ w("attn_k").T).reshape(T, nkv, hd), pos)
            v = (h @ w("attn_v").T).reshape(T, nkv, hd)
            kv_of = np.arange(nh) // (nh // nkv)  # query head h reads kv head h // 3
            kh, vh = k[:, kv_of, :], v[:, kv_of, :]  # (T, nh, hd)
            s = np.einsum("qhd,khd->hqk", q, kh) * scale + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            p = s / s.sum(axis=-1, keepdims=True)
            a = np.einsum("hqk,khd->qhd", p, vh).reshape(T, nh * hd)
            x = x + a @ w("attn_output").T
            h = self.rmsnorm(x, w("ffn_norm"))
            g = h @ w("ffn_gate").T
            u = h @ w("ffn_up").T
            x = x + (g / (1.0 + np.exp(-g)) * u) @ w("ffn_down").T
        x = self.rmsnorm(x, self.w["output_norm.weight"])
        return x @ self.emb.T  # (T, vocab)


def topk(row, k):
    idx = np.lexsort((np.arange(len(row)), -row))[:k]  # descending, lower id first on a tie
    return [[int(i), round(float(row[i]), 6)] for i in idx]


def fmt(v, ind=0):
    """Same layout as scripts/llama-oracle.py: lists nested at most two deep on one line."""

    def depth(x):
        if isinstance(x, dict):
            return 99
        if isinstance(x, list):
            return 1 + max((depth(e) for e in x), default=0)
        return 0

    pad, pad1 = " " * ind, " " * (ind + 1)
    if isinstance(v, dict):
        items = [f"{pad1}{json.dumps(k)}: {fmt(x, ind + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list) and depth(v) > 2 and v:
        return "[\n" + ",\n".join(pad1 + fmt(x, ind + 1) for x in v) + "\n" + pad + "]"
    return json.dumps(v, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--oracle", default="crates/compute/tests/fixtures/smollm2-llamacpp.json")
    ap.add_argument("--out", default="crates/compute/tests/fixtures/smollm2-f64.json")
    args = ap.parse_args()

    t0 = time.time()
    with open(args.model, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(args.oracle) as f:
        oracle = json.load(f)
    if oracle.get("model_sha256") not in (None, sha):
        sys.exit(f"model sha256 {sha} is not the oracle's {oracle['model_sha256']}")
    m = Model(args.model)
    print(f"loaded {len(m.w)} tensors in {time.time() - t0:.1f} s; "
          f"{m.f32_rounded} weights where gguf's float32 q*d+m was rounded")

    out_prompts = []
    agree_all = n_all = 0
    maxdiff_all = 0.0
    for pi, p in enumerate(oracle["prompts"]):
        seq = list(p["ids"]) + list(p["greedy"][:-1])
        assert len(seq) == len(p["top"]), (pi, len(seq), len(p["top"]))
        t1 = time.time()
        logits = m.forward(seq)
        tops = [topk(row, TOP_K) for row in logits]
        agree, maxdiff, worst, flips = 0, 0.0, None, []
        for pos, (row, ltop) in enumerate(zip(logits, p["top"])):
            f_top1 = tops[pos][0][0]
            if ltop[0][0] == f_top1:
                agree += 1
            else:
                # float64 margin between its own top-1 and llama.cpp's top-1
                flips.append((pos, ltop[0][0], f_top1, float(row[f_top1] - row[ltop[0][0]])))
            for tid, lv in ltop:
                d = abs(lv - float(row[tid]))
                if d > maxdiff:
                    maxdiff, worst = d, (pos, tid, lv, float(row[tid]))
        n = len(seq)
        agree_all += agree
        n_all += n
        maxdiff_all = max(maxdiff_all, maxdiff)
        print(f"prompt {pi} {p.get('text', '')[:32]!r}: {n} positions, top-1 agree "
              f"{agree}/{n} = {agree / n:.3f}, max |llama.cpp - f64| over llama.cpp top-5 "
              f"{maxdiff:.4f} (pos {worst[0]} id {worst[1]}: {worst[2]:.4f} vs {worst[3]:.4f}); "
              f"{time.time() - t1:.1f} s")
        for pos, lid, fid, gap in flips:
            print(f"    pos {pos}: llama.cpp top-1 {lid}, f64 top-1 {fid} "
                  f"(f64 margin over llama.cpp's pick {gap:.4f})")
        entry = {}
        if "text" in p:
            entry["text"] = p["text"]
        entry["ids"] = seq
        entry["top"] = tops
        out_prompts.append(entry)
        if pi == 0 and p.get("text") == "The capital of France is":
            print(f"    sanity: after 'The capital of France is' f64 top-1 = {tops[len(p['ids']) - 1][0]}"
                  " (expect 7042 ' Paris')")

    print(f"overall: top-1 agree {agree_all}/{n_all} = {agree_all / n_all:.4f}, "
          f"max |llama.cpp - f64| over llama.cpp top-5 {maxdiff_all:.4f}")

    doc = {
        "generator": (f"scripts/llama-f64-reference.py: float64 numpy {np.__version__} forward, "
                      f"weights via gguf {version('gguf')} dequantize (exact in float64)"),
        "model_sha256": sha,
        "prompts": out_prompts,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        f.write(fmt(doc) + "\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes) in {time.time() - t0:.1f} s total")


if __name__ == "__main__":
    main()
