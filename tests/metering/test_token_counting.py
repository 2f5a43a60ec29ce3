"""When a provider reports no usage, tokens are counted with the offline tokenizer."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import openai
import tiktoken

from gateway.store.database import create_pool
from tests.conftest import MASTER_KEY, GatewayFactory, routing_for
from tests.fakes.openai_upstream import FakeOpenAI

TEXT = "Tokenizers split words like unbelievably into pieces."


def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def test_a_stream_without_usage_is_counted_by_the_tokenizer(
    start_gateway: GatewayFactory, start_upstream: Any, pg_dsn: str
) -> None:
    fake = FakeOpenAI(
        events=[chunk({"role": "assistant", "content": TEXT}, None), chunk({}, "stop"), "[DONE]"]
    )
    base_url = await start_gateway(routing_for(await start_upstream(fake.app()) + "/v1"))
    prompt = "Count these prompt tokens, please."
    async with openai.AsyncOpenAI(base_url=base_url, api_key=MASTER_KEY, max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == TEXT
    pool: asyncpg.Pool = await create_pool(pg_dsn)
    try:
        for _ in range(50):
            row = await pool.fetchrow("SELECT * FROM usage")
            if row:
                break
            await asyncio.sleep(0.1)
    finally:
        await pool.close()
    encoding = tiktoken.get_encoding("o200k_base")
    assert row["token_source"] == "tokenizer"
    assert row["completion_tokens"] == len(encoding.encode_ordinary(TEXT))
    assert row["prompt_tokens"] == len(encoding.encode_ordinary(prompt))
