"""llama.cpp's side of scripts/bench-llama.sh: the same measurement as
crates/compute/benches/llama.rs (prefill of a 512-token prompt, then 64 greedy decoding steps)
through llama-cpp-python. Prints one JSON line per round.

Usage: bench-llama.py MODEL THREADS ROUNDS
"""
import json
import sys
import time

import numpy as np
from llama_cpp import Llama

model, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
vocab = llm.n_vocab()
prompt = [200 + (i * 7919) % 40_000 for i in range(512)]


def last_logits():
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))


for _ in range(rounds):
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt)
    prefill = time.perf_counter() - t0
    token = int(np.argmax(last_logits()))
    t1 = time.perf_counter()
    for _ in range(64):
        llm.eval([token])
        token = int(np.argmax(last_logits()))
    decode = time.perf_counter() - t1
    print(json.dumps({
        "engine": "llama.cpp", "threads": threads,
        "prefill_tokens_per_s": round(512 / prefill, 1), "ttft_s": round(prefill, 3),
        "decode_tokens_per_s": round(64 / decode, 1),
    }), flush=True)
