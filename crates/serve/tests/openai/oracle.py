"""The official OpenAI Python client against `iollm model serve` (crates/serve/tests/it/openai.rs).

Usage: oracle.py BASE_URL MODEL. Prints one JSON object with what the client saw.
"""
import json
import sys

import openai

base, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base, api_key="not-needed", max_retries=0, timeout=120)
out = {"version": openai.__version__}

out["models"] = [m.id for m in client.models.list().data]

question = [{"role": "user", "content": "What is the capital of France?"}]
chat = client.chat.completions.create(model=model, messages=question, temperature=0, max_tokens=24)
out["chat"] = {
    "content": chat.choices[0].message.content,
    "role": chat.choices[0].message.role,
    "finish_reason": chat.choices[0].finish_reason,
    "usage": chat.usage.model_dump(),
}

pieces = []
finish = None
usage = None
stream = client.chat.completions.create(
    model=model, messages=question, temperature=0, max_tokens=24, stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage.model_dump()
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
out["chat_stream"] = {"content": "".join(pieces), "finish_reason": finish, "usage": usage, "chunks": len(pieces)}

text = client.completions.create(model=model, prompt="The capital of France is", temperature=0, max_tokens=12, stop=["."])
out["completion"] = {"text": text.choices[0].text, "finish_reason": text.choices[0].finish_reason}

pieces = []
for chunk in client.completions.create(model=model, prompt="The capital of France is", temperature=0, max_tokens=12, stop=["."], stream=True):
    pieces.append(chunk.choices[0].text)
out["completion_stream"] = "".join(pieces)

try:
    client.chat.completions.create(model=model, messages=question, max_tokens=0)
    out["bad_request"] = None
except openai.BadRequestError as e:
    out["bad_request"] = {"status": e.status_code, "message": e.body.get("message") if isinstance(e.body, dict) else str(e)}

try:
    client.completions.create(model="no-such-model", prompt="hi", max_tokens=2)
    out["not_found"] = None
except openai.NotFoundError as e:
    out["not_found"] = {"status": e.status_code, "code": e.code}

print(json.dumps(out))
