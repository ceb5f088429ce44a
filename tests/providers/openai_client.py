"""Drives Sanctuary's OpenAI-compatible surface with the official `openai` SDK.

Usage: python3 openai_client.py http://127.0.0.1:PORT/v1

Prints one JSON object: what a plain completion, a streamed one, the model list and an
unknown model looked like to the SDK. The Rust test (tests/providers/openai_surface.rs)
checks it.
"""

import json
import sys

import openai
from openai import OpenAI


def main() -> None:
    client = OpenAI(base_url=sys.argv[1], api_key="sk-not-needed", max_retries=0, timeout=60)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    report = {}

    raw = client.chat.completions.with_raw_response.create(model="mama-bear", messages=messages)
    completion = raw.parse()
    report["plain"] = {
        "id": completion.id,
        "object": completion.object,
        "model": completion.model,
        "content": completion.choices[0].message.content,
        "role": completion.choices[0].message.role,
        "finish_reason": completion.choices[0].finish_reason,
        "usage": completion.usage.model_dump() if completion.usage else None,
        "provider_header": raw.headers.get("x-sanctuary-provider"),
    }

    pieces, finish_reason, usage, chunks = [], None, None, 0
    stream = client.chat.completions.create(
        model="mama-bear",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        chunks += 1
        if chunk.usage:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish_reason = choice.finish_reason
    report["stream"] = {
        "content": "".join(pieces),
        "chunks": chunks,
        "finish_reason": finish_reason,
        "usage": usage,
    }

    report["models"] = [model.id for model in client.models.list().data]

    try:
        client.chat.completions.create(model="no-such-model", messages=messages)
        report["not_found"] = None
    except openai.NotFoundError as error:
        report["not_found"] = {"status": error.status_code, "code": error.code}

    print(json.dumps(report))


if __name__ == "__main__":
    main()
