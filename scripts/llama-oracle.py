#!/usr/bin/env python3
"""llama.cpp (via llama-cpp-python) as an external oracle for SmolLM2-135M-Instruct Q4_1.

Run through scripts/llama-oracle.sh, which builds the pinned llama-cpp-python from source in a
venv and passes LLAMA_CPP_COMMIT. Writes crates/compute/tests/fixtures/smollm2-llamacpp.json:

- tokenize: llm.tokenize(text.encode(), add_bos=False, special=True), i.e. special tokens such as
  <|im_start|> written inline are parsed as special tokens.
- chat: the GGUF's tokenizer.chat_template rendered with jinja2 the way HF transformers and
  llama-cpp-python both do it: ImmutableSandboxedEnvironment(trim_blocks=True,
  lstrip_blocks=True) with the loopcontrols extension, bos_token/eos_token/add_generation_prompt
  and raise_exception in the context. The rendering is checked against llama-cpp-python's own
  Jinja2ChatFormatter.
- prompts: ids = tokenize(text, add_bos=False, special=True) (the GGUF has add_bos_token false);
  greedy = up to 32 tokens, each the argmax (lowest id on a tie) of the last position's raw
  logits after eval of everything before it, one llm.eval per token (no sampler chain, so no
  repeat penalty); it stops early only at eos or <|im_end|>, and the stop token is kept as the
  last entry. greedy_text = detokenize(greedy, special=True) decoded as UTF-8 (invalid bytes
  replaced), so a final <|im_end|> shows as text. top = for every position p < len(ids+greedy)-1,
  after ONE llm.eval(ids + greedy) from an empty cache, the 5 largest raw logits of the next-token
  distribution as [id, logit], sorted by logit descending (lower id first on a tie). Logits are
  float32 written as the exact double value of the float32.

One thread (n_threads=1 and n_threads_batch=1) so every reduction has one fixed order and the
output is bit-for-bit reproducible for a given build.
"""

import argparse
import hashlib
import json
import os
import sys

import jinja2
import jinja2.ext
import numpy as np
from jinja2.sandbox import ImmutableSandboxedEnvironment

import llama_cpp
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
N_CTX = 512
N_GREEDY = 32
TOP_K = 5

TOKENIZE_CASES = [
    "",
    " ",
    "   ",
    "\n",
    "Hello world",
    " Hello world",
    "Hello  world",
    "hello, World! HELLO",
    "a  b",
    "a\n\n\nb",
    "x\n \ny",
    "   leading",
    "trailing   ",
    "\ttab\t\tseparated\t",
    "2024 1234567",
    "3.14159 -42 1e-9 0x1F",
    "I'm don't they'll we've she'd",
    "DON'T It'S you're",
    "!!!???...",
    "a\r\nb",
    "a\u00a0b",
    "h\u00e9llo \u043c\u0438\u0440 \u4f60\u597d \u0645\u0631\u062d\u0628\u0627 \u3053\u3093\u306b\u3061\u306f",
    "\U0001f469\u200d\U0001f4bb",
    "e\u0301 n\u0303 A\u030a",
    "<|im_start|>user\nhi<|im_end|>",
    "<|endoftext|>",
    "x<|endoftext|>y",
    "<|im_start",
    "<|im_start|",
    "def f(x):\n    if x:\n        return x  # done\n",
]

PLAIN_PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a",
    "def fibonacci(n):\n",
    "12345 + 678 =",
    "\u00dcn\u00efc\u00f6d\u00e9 \u2014 na\u00efve caf\u00e9 \u6771\u4eac \U0001f680",
]

CHATS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [
        {"role": "system", "content": "You are a terse assistant. Answer in one word."},
        {"role": "user", "content": "What color is the sky on a clear day?"},
    ],
    [
        {"role": "user", "content": "Hi! My name is Ada."},
        {"role": "assistant", "content": "Hello Ada! How can I help you today?"},
        {"role": "user", "content": "What is my name?"},
    ],
]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def render_chat(template, messages, bos, eos):
    # HF transformers (utils/chat_template_utils.py) and llama-cpp-python (Jinja2ChatFormatter)
    # both compile chat templates with trim_blocks=True and lstrip_blocks=True, so we do too.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    ours = env.from_string(template).render(
        messages=messages,
        add_generation_prompt=True,
        bos_token=bos,
        eos_token=eos,
        raise_exception=raise_exception,
    )
    theirs = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(
        messages=messages
    ).prompt
    if ours != theirs:
        sys.exit(f"llama-oracle: chat rendering differs from llama-cpp-python's:\n{ours!r}\n{theirs!r}")
    return ours


def top_k(row):
    # Stable sort on -logit: descending logits, ties in ascending id order.
    order = np.argsort(-row, kind="stable")[:TOP_K]
    return [[int(i), float(row[i])] for i in order]


def run_prompt(llm, text, stops):
    ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    assert ids, text

    # Greedy continuation, one eval per token.
    llm.reset()
    llm.eval(ids)
    greedy = []
    greedy_last_rows = []
    while len(greedy) < N_GREEDY:
        row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        tok = int(np.argmax(row))
        greedy.append(tok)
        greedy_last_rows.append(row)
        if tok in stops:
            break
        if len(greedy) < N_GREEDY:
            llm.eval([tok])

    # Teacher-forced: everything in one eval, all positions' logits.
    tokens = ids + greedy
    llm.reset()
    llm.eval(tokens)
    scores = np.array(llm.scores[: len(tokens)], dtype=np.float32)
    top = [top_k(scores[p]) for p in range(len(tokens) - 1)]

    # Consistency of the two paths (reported only): incremental vs one batch.
    for j, row in enumerate(greedy_last_rows):
        p = len(ids) - 1 + j
        diff = float(np.max(np.abs(row - scores[p])))
        if int(np.argmax(scores[p])) != greedy[j]:
            print(f"  note: batch argmax at p={p} is {int(np.argmax(scores[p]))}, greedy took {greedy[j]}", file=sys.stderr)
        if diff != 0.0:
            print(f"  note: incremental vs batch logits differ at p={p} by up to {diff:g}", file=sys.stderr)

    greedy_text = llm.detokenize(greedy, special=True).decode("utf-8", errors="replace")
    return {"text": text, "ids": ids, "greedy": greedy, "greedy_text": greedy_text, "top": top}


def fmt(v, ind=0):
    """JSON with one line per leaf-ish value: lists nested at most two deep (ids, [id, logit]
    pairs, one position's top-5) stay on one line; dicts and longer nestings are expanded."""

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
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    sha = sha256_file(args.model)
    if sha != MODEL_SHA256:
        sys.exit(f"llama-oracle: {args.model} has sha256 {sha}, expected {MODEL_SHA256}")

    llm = Llama(
        model_path=args.model,
        n_ctx=N_CTX,
        n_threads=1,
        n_threads_batch=1,
        n_batch=512,
        logits_all=True,
        verbose=False,
        seed=0,
    )
    print("llama-oracle: " + llama_cpp.llama_print_system_info().decode().strip(), file=sys.stderr)
    md = llm.metadata
    if md.get("tokenizer.ggml.add_bos_token", "false") != "false":
        sys.exit("llama-oracle: the model adds BOS; the fixture assumes it does not")
    template = md["tokenizer.chat_template"]
    bos = llm.detokenize([llm.token_bos()], special=True).decode()
    eos_id = llm.token_eos()
    eos = llm.detokenize([eos_id], special=True).decode()
    im_end = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
    assert len(im_end) == 1, im_end
    stops = {eos_id, im_end[0]}
    print(f"llama-oracle: pre={md.get('tokenizer.ggml.pre')} bos={bos!r} eos={eos!r}({eos_id}) stops={sorted(stops)}", file=sys.stderr)

    commit = os.environ.get("LLAMA_CPP_COMMIT", "unknown")
    out = {
        "generator": f"llama-cpp-python {llama_cpp.__version__} (llama.cpp ggml-org/llama.cpp@{commit}; "
        f"CPU-only scalar x86-64 build, n_threads=1)",
        "model_sha256": sha,
        "n_ctx": N_CTX,
        "tokenize": [
            {"text": t, "ids": llm.tokenize(t.encode("utf-8"), add_bos=False, special=True)}
            for t in TOKENIZE_CASES
        ],
        "chat": [],
        "prompts": [],
    }
    for messages in CHATS:
        out["chat"].append(
            {
                "messages": messages,
                "add_generation_prompt": True,
                "rendered": render_chat(template, messages, bos, eos),
            }
        )
    for text in PLAIN_PROMPTS + [c["rendered"] for c in out["chat"]]:
        print(f"llama-oracle: prompt {text!r}", file=sys.stderr)
        out["prompts"].append(run_prompt(llm, text, stops))

    with open(args.out, "w", encoding="utf-8") as f:
        f.write(fmt(out) + "\n")


if __name__ == "__main__":
    main()
