#!/usr/bin/env python3
"""PyTorch (CPU) reference for the training benchmark of crates/compute (a benchmark, not a test).

The same model and step as `cargo bench -p iollm-compute --bench compute -- train-medium`: a
byte-level GPT-2 (vocabulary 256, learned positions, pre-LayerNorm blocks, tanh-GELU MLP of
width 4·C, LM head tied to the token embedding), cross-entropy on next-byte prediction, AdamW,
one optimizer step per batch. Written the way nanoGPT writes it (fused QKV, causal
scaled_dot_product_attention). Prints tokens/s over the timed steps, after warm-up steps.

usage: scripts/bench-torch.py --threads N [--layers 4 --heads 4 --embd 256 --ctx 128
                                           --batch 8 --steps 20 --warmup 3]
Run it through `scripts/bench-compute.sh vs-torch`, which installs torch in a bench venv.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers: int, heads: int, c: int, ctx: int):
        super().__init__()
        self.wte = nn.Embedding(256, c)
        self.wpe = nn.Embedding(ctx, c)
        self.h = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1])
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, 256), targets.reshape(-1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--embd", type=int, default=256)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Gpt(a.layers, a.heads, a.embd, a.ctx)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    data = torch.randint(0, 256, (a.steps + a.warmup, a.batch, a.ctx + 1))

    def step(i: int) -> float:
        x, y = data[i, :, :-1], data[i, :, 1:]
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    start = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        loss = step(i)
    elapsed = time.perf_counter() - start
    assert math.isfinite(loss)
    params = sum(t.numel() for t in model.parameters())
    print(
        f"torch {torch.__version__} train {a.layers}x{a.embd} ctx{a.ctx} batch{a.batch} "
        f"threads={a.threads}: {a.steps * a.batch * a.ctx / elapsed:.0f} tokens/s "
        f"({params} params)"
    )


if __name__ == "__main__":
    main()
