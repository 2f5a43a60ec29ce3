"""Every error through the official SDK: the usual exception class, OpenAI's four keys, and
neither the provider's key nor its address anywhere in the response."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_answers import openai_error
from tests.fakes.openai_upstream import FakeOpenAI
from tests.sdk_stack import (
    CHAT,
    PROVIDER_KEY,
    SDK,
    SDKFactory,
    Stack,
    StartUpstream,
    assert_forwarded_as_provider,
    assert_safe_error,
    assert_safe_sdk_error,
    closed_port,
    port_of,
    post,
    routing,
)

# --- errors -----------------------------------------------------------------------------


async def test_malformed_json_is_400(stack: Stack) -> None:
    status, headers, body = await post(stack.gateway + "/chat/completions", data=b'{"model": ')
    assert status == 400
    error = assert_safe_error(status, headers, body, port_of(stack.upstream))
    assert error["type"] == "invalid_request_error"
    assert stack.fake.requests == []


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (
            lambda c: c.post("/chat/completions", body={"model": "gpt-4o-mini"}, cast_to=object),
            "messages",
        ),
        (
            lambda c: c.chat.completions.create(model="gpt-4o-mini", messages="Hello"),
            "messages",
        ),
        (
            lambda c: c.chat.completions.create(
                model="gpt-4o-mini", messages=CHAT, temperature="warm"
            ),
            "temperature",
        ),
        (
            lambda c: c.chat.completions.create(
                model="gpt-4o-mini", messages=CHAT, stream="yes please"
            ),
            "stream",
        ),
        (
            lambda c: c.post(
                "/embeddings", body={"model": "text-embedding-3-small"}, cast_to=object
            ),
            "input",
        ),
        (
            lambda c: c.embeddings.create(
                model="text-embedding-3-small", input="x", dimensions="eight"
            ),
            "dimensions",
        ),
    ],
    ids=[
        "missing-messages",
        "messages-type",
        "temperature-type",
        "stream-type",
        "missing-input",
        "dimensions-type",
    ],
)
async def test_bad_fields_are_bad_request_naming_the_param(
    sdk: SDK, stack: Stack, call: Callable[[Any], Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.run(call)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    error = assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    assert error["param"] == param
    assert stack.fake.requests == []


async def test_wrong_key_is_authentication_error(sdk: SDK, stack: Stack) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        await sdk.run(
            lambda c: c.with_options(api_key="sk-wrong").chat.completions.create(
                model="gpt-4o-mini", messages=CHAT
            )
        )
    assert caught.value.status_code == 401
    assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    assert stack.fake.requests == []


async def test_unknown_model_is_not_found(sdk: SDK, stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.run(lambda c: c.chat.completions.create(model="gpt-9", messages=CHAT))
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    assert stack.fake.requests == []


def _leaky_message(upstream: str) -> str:
    """What a provider may say on a 401: it quotes the key and names its own address."""
    return (
        f"Incorrect API key provided: {PROVIDER_KEY}. "
        f"Request to {upstream}/v1/chat/completions from 127.0.0.1:{port_of(upstream)} denied."
    )


@pytest.mark.parametrize(
    ("status", "error", "exception"),
    [
        (
            400,
            openai_error(
                "Invalid 'messages[0].content': string too long.",
                param="messages[0].content",
                code="string_above_max_length",
            ),
            openai.BadRequestError,
        ),
        (401, None, openai.AuthenticationError),  # body: `_leaky_message`
        (429, None, openai.RateLimitError),
    ],
    ids=["400", "401", "429"],
)
async def test_upstream_errors_map_to_sdk_exceptions(
    sdk: SDK,
    stack: Stack,
    status: int,
    error: dict[str, Any] | None,
    exception: type[openai.APIStatusError],
) -> None:
    if status == 401:
        error = openai_error(_leaky_message(stack.upstream), code="invalid_api_key")
    stack.fake.status = status  # standing, so a retry by the gateway fails the same way
    stack.fake.body = error
    with pytest.raises(exception) as caught:
        await sdk.run(lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT))
    assert caught.value.status_code == status
    got = assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    if status == 400:
        assert error is not None
        assert got == error["error"]  # the provider's own words reach the client
    if status == 401:
        assert got["message"].startswith("Incorrect API key provided: ")
        assert "denied" in got["message"]
    assert stack.fake.requests
    for recorded in stack.fake.requests:
        assert_forwarded_as_provider(recorded)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_unreachable_upstream_is_502(
    start_gateway: GatewayFactory, open_sdk: SDKFactory, stream: bool
) -> None:
    port = closed_port()
    gateway = await start_gateway(routing(f"http://127.0.0.1:{port}"))
    sdk = await open_sdk(gateway)
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.run(
            lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=stream)
        )
    assert caught.value.status_code == 502
    assert_safe_sdk_error(caught.value, port)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_upstream_timeout_is_504(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    open_sdk: SDKFactory,
    stream: bool,
) -> None:
    fake = FakeOpenAI(api_key=PROVIDER_KEY, delay_before_headers=5.0)
    upstream = await start_upstream(fake.app())
    gateway = await start_gateway(
        routing(upstream), upstream={"timeouts": {"request": 0.5, "first_byte": 0.5}}
    )
    sdk = await open_sdk(gateway)
    started = asyncio.get_running_loop().time()
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.run(
            lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=stream)
        )
    assert caught.value.status_code == 504
    assert asyncio.get_running_loop().time() - started < 4.5  # the gateway's limit, not ours
    assert_safe_sdk_error(caught.value, port_of(upstream))
    assert fake.requests
