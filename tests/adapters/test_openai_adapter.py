"""Golden fixtures for the OpenAI-family adapters: exact outbound bodies and translations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.adapters import ADAPTERS
from gateway.adapters.base import Target
from gateway.adapters.openai_schema import normalize_chat
from gateway.errors import UpstreamError, UpstreamUnavailable
from gateway.sse import SSEParser
from tests.fakes.openai_answers import Behaviour, chat_response, text_answer, usage_of

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
TARGET = Target(
    provider="up",
    model="gpt-4o-mini-2024-07-18",
    api_base="http://upstream/v1",
    api_key="sk-provider-secret-123456",
    api_version=None,
    headers={"X-Org": "o"},
)
openai = ADAPTERS["openai"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_request_passes_every_parameter_and_asks_for_stream_usage() -> None:
    request = openai.to_upstream_request("chat", fixture("chat_stream.request.json"), TARGET)
    assert orjson.loads(request.body) == fixture("chat_stream.upstream.json")
    assert request.url == "http://upstream/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-provider-secret-123456"
    assert request.headers["X-Org"] == "o"
    assert request.stream is True


def test_sloppy_vendor_response_is_normalised_to_the_spec() -> None:
    body = (FIXTURES / "sloppy_vendor.response.json").read_bytes()
    answer = openai.from_upstream_response("chat", body, TARGET)
    result = orjson.loads(answer.body)
    assert result.pop("id").startswith("chatcmpl-")
    assert isinstance(result.pop("created"), int)
    assert result == fixture("sloppy_vendor.expected.json")
    assert answer.usage == result["usage"]


# As OpenAI answers: every field the spec requires, and optional ones besides.
_ANSWER = chat_response(
    "chatcmpl-1", "m", text_answer("Hi"), 1, usage_of(3, 1, Behaviour()), Behaviour()
)


def _without(path: str) -> dict[str, Any]:
    answer = orjson.loads(orjson.dumps(_ANSWER))
    *parents, last = path.split(".")
    node = answer
    for name in parents:
        node = node[0] if name == "0" else node[name]
    del node[last]
    return answer


@pytest.mark.parametrize(
    ("answer", "as_sent"),
    [
        (_ANSWER, True),
        ({**_ANSWER, "a_field_from_next_year": {"x": 1}}, True),
        ({k: v for k, v in _ANSWER.items() if k != "usage"}, True),
        ({**_ANSWER, "id": ""}, False),
        ({**_ANSWER, "object": "chat.completion.chunk"}, False),
        ({**_ANSWER, "created": "1"}, False),
        (_without("model"), False),
        (_without("choices.0.index"), False),
        (_without("choices.0.logprobs"), False),
        (_without("choices.0.message.refusal"), False),
        (_without("choices.0.message.role"), False),
        ({**_ANSWER, "choices": [{**_ANSWER["choices"][0], "finish_reason": None}]}, False),
        ({**_ANSWER, "choices": [{**_ANSWER["choices"][0], "finish_reason": "eos"}]}, False),
        ({**_ANSWER, "usage": "lots"}, False),
    ],
    ids=[
        "exact",
        "exact-with-unknown-fields",
        "exact-without-usage",
        "empty-id",
        "wrong-object",
        "created-not-int",
        "no-model",
        "no-index",
        "no-logprobs",
        "no-refusal",
        "no-role",
        "null-finish-reason",
        "vendor-finish-reason",
        "usage-not-an-object",
    ],
)
def test_exact_answers_are_relayed_as_sent(answer: dict[str, Any], as_sent: bool) -> None:
    """A response the normaliser would leave as it is goes out as the provider's bytes
    (spaces and all); any other is normalised. Either way the client reads the same JSON."""
    body = json.dumps(answer, indent=1).encode()
    result = openai.from_upstream_response("chat", body, TARGET)
    if as_sent:
        assert result.body == body
    else:
        assert result.body == orjson.dumps(orjson.loads(result.body))
    expected = normalize_chat(orjson.loads(body))
    assert orjson.loads(result.body) | {"id": 0} == expected | {"id": 0}
    usage = answer.get("usage")
    assert result.usage == (usage if isinstance(usage, dict) else None)


def test_exact_legacy_completions_are_relayed_as_sent() -> None:
    choice = {"index": 0, "text": "Hi", "logprobs": None, "finish_reason": "length"}
    answer = {**_ANSWER, "object": "text_completion", "choices": [choice]}
    body = json.dumps(answer, indent=1).encode()
    assert openai.from_upstream_response("completions", body, TARGET).body == body
    del choice["logprobs"]
    body = json.dumps(answer, indent=1).encode()
    relayed = orjson.loads(openai.from_upstream_response("completions", body, TARGET).body)
    assert relayed["choices"][0]["logprobs"] is None


@pytest.mark.parametrize(
    ("case", "client_options"),
    [("usage_hidden", {}), ("usage_on_last_chunk", {"include_usage": True})],
    ids=["client-did-not-ask", "usage-split-into-its-own-chunk"],
)
def test_stream_translation(case: str, client_options: dict[str, Any]) -> None:
    payload = {"model": "m", "stream": True, "stream_options": client_options}
    translator = openai.stream_translator("chat", payload, TARGET)
    parser = SSEParser()
    raw = (FIXTURES / f"{case}.events.txt").read_bytes()
    chunks = translator.feed(parser.feed(raw))
    chunks += translator.close()
    assert [orjson.loads(c) for c in chunks] == fixture(f"{case}.chunks.json")
    assert translator.finished
    assert translator.usage == {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}


def test_azure_uses_deployment_url_and_api_key_header() -> None:
    target = Target(
        provider="az",
        model="my-deploy",
        api_base="https://r.openai.azure.com",
        api_key="azkey",
        api_version="2024-06-01",
        headers={},
    )
    request = ADAPTERS["azure"].to_upstream_request(
        "embeddings", {"model": "e", "input": "x"}, target
    )
    assert request.url == (
        "https://r.openai.azure.com/openai/deployments/my-deploy/embeddings?api-version=2024-06-01"
    )
    assert request.headers["api-key"] == "azkey"
    assert "Authorization" not in request.headers


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "retryable", "message"),
    [
        (
            400,
            {
                "error": {
                    "message": "bad messages",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": None,
                }
            },
            400,
            False,
            "bad messages",
        ),
        (
            401,
            {"error": {"message": "Incorrect API key provided: sk-provider-secret-123456"}},
            401,
            False,
            "Incorrect API key provided: [redacted]",
        ),
        (
            404,
            {"error": {"message": "see https://internal.example:8443/x for help"}},
            404,
            False,
            "see [redacted] for help",
        ),
        (429, {"error": {"message": "slow down"}}, 429, True, "slow down"),
        (500, b"<html>oops</html>", 502, True, "upstream returned HTTP 500"),
        (503, {"detail": "overloaded"}, 503, True, "overloaded"),
    ],
    ids=[
        "400-kept",
        "401-key-scrubbed",
        "404-url-scrubbed",
        "429-retryable",
        "500-html",
        "503-detail",
    ],
)
def test_error_classification(
    status: int, body: Any, expected_status: int, retryable: bool, message: str
) -> None:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    error = openai.classify_error(status, raw, TARGET)
    assert isinstance(error, UpstreamError)
    assert error.status == expected_status
    assert error.retryable is retryable
    assert message in error.message
    assert "sk-provider-secret" not in error.message
    if status >= 500:
        assert isinstance(error, UpstreamUnavailable)


_EXACT = (
    b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]'
)


@pytest.mark.parametrize(
    ("data", "wants_usage", "relayed"),
    [
        (_EXACT + b',"usage":null}', True, _EXACT + b',"usage":null}'),
        (_EXACT + b',"usage":null}', False, _EXACT + b"}"),
        (_EXACT + b"}", False, _EXACT + b"}"),
        (_EXACT.replace(b'"m",', b'"m", ') + b"}", False, _EXACT.replace(b'"m",', b'"m", ') + b"}"),
        (_EXACT + b"}", True, None),  # usage: null must be added
        (_EXACT.replace(b"null}]", b'"eos"}]') + b"}", False, None),  # finish reason mapped
        (_EXACT.replace(b',"logprobs":null', b"") + b"}", False, None),  # logprobs added
        (_EXACT.replace(b'"m",', b'"m",\n') + b"}", False, None),  # a line break: re-framed
        (_EXACT + b',"usage":null }', False, None),  # not the exact tail: re-serialised
    ],
    ids=[
        "exact-usage-asked",
        "exact-usage-dropped",
        "exact-no-usage",
        "exact-with-spaces",
        "usage-missing",
        "finish-reason",
        "logprobs-missing",
        "line-break",
        "loose-usage-tail",
    ],
)
def test_exact_chunks_are_relayed_as_sent(
    data: bytes, wants_usage: bool, relayed: bytes | None
) -> None:
    """Spec-exact chunks go out as the provider's bytes; all others are normalised. Either
    way the client reads the same JSON."""
    options = {"include_usage": wants_usage}
    translator = openai.stream_translator("chat", {"stream_options": options}, TARGET)
    [out] = translator.feed([data])
    if relayed is not None:
        assert out == relayed
    else:
        assert out == orjson.dumps(orjson.loads(out))  # re-serialised, compact
    expected = orjson.loads(data.replace(b"\n", b""))
    expected.pop("usage", None)
    expected["choices"][0].setdefault("logprobs", None)
    if expected["choices"][0]["finish_reason"] == "eos":
        expected["choices"][0]["finish_reason"] = "stop"
    if wants_usage:
        expected["usage"] = None
    assert orjson.loads(out) == expected
    assert translator.text_parts == ["Hi"]


def test_after_an_inexact_chunk_the_rest_are_normalised() -> None:
    """A provider that sent one chunk off the spec is normalised from then on; one that sent
    an event that is not JSON at all (a keep-alive as data) is not."""
    options = {"include_usage": False}
    inexact = _EXACT.replace(b',"logprobs":null', b"") + b"}"
    translator = openai.stream_translator("chat", {"stream_options": options}, TARGET)
    spaced = _EXACT.replace(b'"m",', b'"m", ') + b"}"
    first, second = translator.feed([inexact, spaced])
    assert orjson.loads(first) == orjson.loads(second) == orjson.loads(spaced)
    assert second == orjson.dumps(orjson.loads(spaced))  # re-serialised, not as sent
    translator = openai.stream_translator("chat", {"stream_options": options}, TARGET)
    assert translator.feed([b"keep-alive", _EXACT + b"}"]) == [_EXACT + b"}"]
    assert translator.text_parts == ["Hi"]


def test_text_of_another_type_is_relayed_but_not_taken_as_text() -> None:
    translator = openai.stream_translator("chat", {}, TARGET)
    [out] = translator.feed([_EXACT.replace(b'"Hi"', b"5") + b"}"])
    assert orjson.loads(out)["choices"][0]["delta"] == {"content": 5}
    assert translator.text_parts == []


_TAIL = b',"usage":null}'
_STOP = _EXACT.replace(b'"Hi"', b'""').replace(b'"finish_reason":null', b'"finish_reason":"stop"')
_REPORT = (
    b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
)
_INEXACT = _EXACT.replace(b',"logprobs":null', b"")


@pytest.mark.parametrize("wants_usage", [True, False], ids=["usage-asked", "usage-not-asked"])
@pytest.mark.parametrize(
    ("events", "relayed"),
    [
        ([_EXACT + _TAIL, _EXACT + _TAIL, _STOP + _TAIL, _REPORT, b"[DONE]"], 3),
        ([_EXACT + _TAIL, _EXACT + b"}", _EXACT + b',"usage":null }', _EXACT + _TAIL], 4),
        ([_EXACT + _TAIL, b"keep-alive", _EXACT + _TAIL], 2),
        ([_EXACT + _TAIL, _INEXACT + _TAIL, _EXACT + _TAIL, _STOP + _TAIL], 4),
        ([_EXACT + _TAIL, _EXACT + _TAIL + b"," + _EXACT + _TAIL, _EXACT + _TAIL], 2),
        ([_EXACT + _TAIL, _EXACT + _TAIL + b"\0", _EXACT + _TAIL], 2),
        ([b"[DONE]", _EXACT + _TAIL], 1),
    ],
    ids=[
        "spec-following",
        "usage-tails-vary",
        "not-json",
        "inexact",
        "two-values",
        "nul",
        "done-first",
    ],
)
def test_chunks_read_together_are_relayed_as_if_read_apart(
    events: list[bytes], relayed: int, wants_usage: bool
) -> None:
    """A read's chunks are checked in one decode: the client gets the same bytes as when
    each chunk comes in a read of its own, and the same text, finish and usage are noted.
    An event that is not one JSON value is dropped either way."""
    payload = {"stream_options": {"include_usage": wants_usage}}
    together = openai.stream_translator("chat", payload, TARGET)
    apart = openai.stream_translator("chat", payload, TARGET)
    out_together = together.feed(events)
    assert len(out_together) == relayed
    out_together += together.close()
    out_apart = [chunk for event in events for chunk in apart.feed([event])] + apart.close()
    assert out_together == out_apart
    assert together.text_parts == apart.text_parts
    assert (together.finished, together.usage) == (apart.finished, apart.usage)
    if events[0] == _EXACT + _TAIL:  # a spec-exact chunk goes out as sent
        assert out_together[0] == (_EXACT + _TAIL if wants_usage else _EXACT + b"}")


def test_a_spec_following_stream_read_at_once_is_relayed_as_sent() -> None:
    translator = openai.stream_translator("chat", {}, TARGET)
    events = [_EXACT + _TAIL, _EXACT + _TAIL, _STOP + _TAIL, _REPORT, b"[DONE]"]
    assert translator.feed(events) == [_EXACT + b"}", _EXACT + b"}", _STOP + b"}"]
    assert translator.close() == []  # the client did not ask for the usage report
    assert translator.text_parts == ["Hi", "Hi"]
    assert translator.finished
    assert translator.usage == {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
