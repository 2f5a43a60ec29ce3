"""Every error a client can see: OpenAI-shaped, right status, named field, request id."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from gateway.demo import demo_routing
from tests.conftest import MASTER_KEY, GatewayFactory

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
CHAT = [{"role": "user", "content": "x"}]


async def call(
    base_url: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            base_url + path,
            json=body,
            data=data,
            headers=headers if headers is not None else AUTH,
        ) as response,
    ):
        return response.status, response.headers.copy(), await response.json(content_type=None)


def assert_openai_error(payload: Any, *, param: str | None = None, code: str | None = None) -> None:
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["message"]
    assert payload["error"]["param"] == param
    if code is not None:
        assert payload["error"]["code"] == code


@pytest.fixture
async def base_url(start_gateway: GatewayFactory) -> str:
    return await start_gateway(
        demo_routing().model_dump(mode="json"), server={"max_body_bytes": 4096}
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": CHAT}, "model"),
        ({"model": 3, "messages": CHAT}, "model"),
        ({"model": "demo"}, "messages"),
        ({"model": "demo", "messages": "hi"}, "messages"),
        ({"model": "demo", "messages": []}, "messages"),
        ({"model": "demo", "messages": [{"content": "x"}]}, "messages[0].role"),
        ({"model": "demo", "messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),
        ({"model": "demo", "messages": ["x"]}, "messages[0]"),
        ({"model": "demo", "messages": CHAT, "temperature": "hot"}, "temperature"),
        ({"model": "demo", "messages": CHAT, "stream": "yes"}, "stream"),
        ({"model": "demo", "messages": CHAT, "n": True}, "n"),
        ({"model": "demo", "messages": CHAT, "max_tokens": 1.5}, "max_tokens"),
        ({"model": "demo", "messages": CHAT, "tools": {}}, "tools"),
        ([1, 2], None),
    ],
    ids=[
        "no-model",
        "model-type",
        "no-messages",
        "messages-type",
        "messages-empty",
        "no-role",
        "role-unhashable",
        "message-type",
        "temperature",
        "stream",
        "n-bool",
        "max-tokens-float",
        "tools-type",
        "not-object",
    ],
)
async def test_bad_fields_are_named(base_url: str, body: Any, param: str | None) -> None:
    status, headers, payload = await call(base_url, "POST", "/chat/completions", body=body)
    assert status == 400
    assert_openai_error(payload, param=param)
    assert headers["x-request-id"].startswith("req_")


async def test_malformed_json_is_400(base_url: str) -> None:
    status, _, payload = await call(base_url, "POST", "/chat/completions", data=b"{nope")
    assert status == 400
    assert_openai_error(payload)
    assert "parse the JSON body" in payload["error"]["message"]


async def test_unknown_model_is_404_model_not_found(base_url: str) -> None:
    body = {"model": "gpt-9", "messages": CHAT}
    status, _, payload = await call(base_url, "POST", "/chat/completions", body=body)
    assert status == 404
    assert_openai_error(payload, param="model", code="model_not_found")


async def test_body_over_limit_is_413(base_url: str) -> None:
    body = {"model": "demo", "messages": [{"role": "user", "content": "x" * 10_000}]}
    status, _, payload = await call(base_url, "POST", "/chat/completions", body=body)
    assert status == 413
    assert_openai_error(payload, code="request_too_large")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/chat/completions", 405), ("POST", "/nope", 404), ("GET", "/../nowhere", 404)],
    ids=["wrong-method", "unknown-path", "outside-api"],
)
async def test_routing_errors_are_openai_shaped(
    base_url: str, method: str, path: str, status: int
) -> None:
    got, headers, payload = await call(base_url, method, path, headers={})
    assert got == status
    assert_openai_error(payload)
    assert "x-request-id" in headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic abc"},
        {"api-key": "wrong"},
        {"x-api-key": "wrong"},
    ],
    ids=["missing", "wrong-bearer", "wrong-scheme", "wrong-azure-header", "wrong-anthropic-header"],
)
async def test_bad_keys_get_one_401(base_url: str, headers: dict[str, str]) -> None:
    body = {"model": "demo", "messages": CHAT}
    status, _, payload = await call(
        base_url, "POST", "/chat/completions", body=body, headers=headers
    )
    assert status == 401
    assert_openai_error(payload, code="invalid_api_key")


@pytest.mark.parametrize("header", ["api-key", "x-api-key"])
async def test_azure_and_anthropic_key_headers_are_accepted(base_url: str, header: str) -> None:
    body = {"model": "demo", "messages": CHAT}
    status, _, _ = await call(
        base_url, "POST", "/chat/completions", body=body, headers={header: MASTER_KEY}
    )
    assert status == 200


async def test_valid_request_id_is_kept_and_invalid_replaced(base_url: str) -> None:
    _, headers, _ = await call(
        base_url, "GET", "/models", headers={**AUTH, "x-request-id": "abc-1"}
    )
    assert headers["x-request-id"] == "abc-1"
    _, headers, _ = await call(
        base_url, "GET", "/models", headers={**AUTH, "x-request-id": "bad id\u00e9"}
    )
    assert headers["x-request-id"].startswith("req_")
    assert float(headers["x-model-bridge-overhead-ms"]) >= 0


async def test_health_and_metrics_need_no_key(base_url: str) -> None:
    root = base_url.removesuffix("/v1")
    async with aiohttp.ClientSession() as session:
        async with session.get(root + "/health/ready") as response:
            assert response.status == 200
        await call(base_url, "POST", "/chat/completions", body={"model": "demo", "messages": CHAT})
        async with session.get(root + "/metrics") as response:
            text = await response.text()
    assert (
        'model_bridge_requests_total{model="demo",route="/v1/chat/completions",status="200"}'
        in text
    )
    assert "model_bridge_overhead_seconds_bucket" in text
