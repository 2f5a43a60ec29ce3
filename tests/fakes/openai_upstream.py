"""A fake OpenAI (or Azure OpenAI) upstream: a real aiohttp server speaking the documented
wire format, so integration tests exercise the gateway's HTTP client, SSE parsing and
normalisation exactly as production traffic would.

Answers are deterministic (fixed ids, `created`, fingerprints and vectors), every request is
recorded for assertions (credentials sent, body forwarded), and the failure modes a gateway
must survive can be scripted: error statuses, slow headers, slow or dropped streams, and the
omissions of sloppy OpenAI-compatible vendors.

    fake = FakeOpenAI(api_key="sk-provider-secret")
    fake.enqueue(status=429, retry_after=1)      # the next request only
    base = await start_upstream(fake.app())      # tests/conftest.py; the API is at base + "/v1"
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import itertools
import math
import re
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

Json = dict[str, Any]

CREATED = 1_700_000_000
FINGERPRINT = "fp_fake"
DEFAULT_REPLY = "Hello from fake upstream"
TOOL_ARGUMENTS = '{"location": "Paris"}'
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
OWNED_BY = "fake-upstream"
DONE = b"data: [DONE]\n\n"

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("The fake upstream rejected the request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    404: ("The model does not exist.", "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    503: ("The server is overloaded or not ready yet.", "server_error", None),
}


def openai_error(
    message: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> Json:
    """An error body in OpenAI's shape: all four keys always present."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def default_error(status: int) -> Json:
    """What OpenAI sends for a status when the test did not script a body."""
    known = _DEFAULT_ERRORS.get(status)
    if known is None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        return openai_error(f"Fake upstream error {status}.", kind)
    message, kind, code = known
    return openai_error(message, kind, None, code)


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]  # case-insensitive: headers["authorization"] works
    json: Any  # the parsed body; None when there was none or it was not JSON
    body: bytes


@dataclass
class Behaviour:
    """How the fake answers. `FakeOpenAI`'s own attributes are the standing behaviour;
    `FakeOpenAI.enqueue(**changes)` overrides some of them for one request."""

    status: int = 200
    # The whole response body, sent with `status`: a JSON value, or bytes sent as-is.
    # Left None, an error status gets `default_error(status)`.
    body: Any = None
    # A verbatim SSE stream: dicts become `data: <json>`, str `data: <str>`, bytes are
    # written raw. No `[DONE]` is added.
    events: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay_before_headers: float = 0.0
    delay_between_chunks: float = 0.0
    # Close the connection after this many stream chunks; `[DONE]` never comes.
    drop_mid_stream: int | None = None
    # Mimic sloppy OpenAI-compatible vendors: no logprobs, refusal, system_fingerprint,
    # service_tier or annotations; no finish_reason and no `usage: null` on non-final
    # chunks; no usage details; embeddings without `object` on items and without usage.
    omit_fields: bool = False
    include_usage_when_not_asked: bool = False
    # Put the usage on the chunk with the finish_reason instead of a `choices: []` chunk.
    usage_on_finish_chunk: bool = False
    # Start streams with Azure's `choices: []` chunk carrying `prompt_filter_results`.
    prompt_filter_chunk: bool = False
    # Sent verbatim instead of the natural finish reason (e.g. "eos", to test mapping).
    finish_reason: str | None = None
    reply: str = DEFAULT_REPLY
    # The `model` the fake reports; by default the request's (Azure: the deployment).
    response_model: str | None = None


@dataclass(frozen=True)
class _Exchange:
    """What the middleware decided about a request, for the endpoint that answers it."""

    behaviour: Behaviour
    json: Any
    request_id: str


_EXCHANGE = web.RequestKey("fake_openai_exchange", _Exchange)


@dataclass(eq=False)
class FakeOpenAI(Behaviour):
    """The fake server's state: its standing behaviour (inherited fields), one-shot
    overrides, and every request it received."""

    azure: bool = False
    # When set, requests must carry it (`Authorization: Bearer …`, or Azure's `api-key`).
    api_key: str | None = None
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    embedding_dimensions: int = 8
    requests: list[Recorded] = field(default_factory=list)
    # Requests whose peer hung up before the fake finished answering (during a delay or
    # mid-stream): how a test sees that the gateway gave up on, or cancelled, an upstream call.
    disconnects: int = 0
    _queue: deque[Json] = field(default_factory=deque, init=False, repr=False)
    _ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1), init=False, repr=False
    )

    def enqueue(self, **changes: Any) -> None:
        """Override the standing behaviour for one request. Each request to a known path
        (models included) takes the oldest queued override and applies it on top of the
        standing behaviour as it is when the request arrives."""
        dataclasses.replace(self.behaviour(), **changes)  # an unknown name fails here
        self._queue.append(changes)

    def behaviour(self) -> Behaviour:
        """The standing behaviour, as a snapshot."""
        names = [f.name for f in dataclasses.fields(Behaviour)]
        return Behaviour(**{name: getattr(self, name) for name in names})

    @property
    def pending(self) -> int:
        """Queued overrides no request has taken yet."""
        return len(self._queue)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        if self.azure:
            base = "/openai/deployments/{deployment}"
            app.router.add_post(base + "/chat/completions", self._chat)
            app.router.add_post(base + "/completions", self._completions)
            app.router.add_post(base + "/embeddings", self._embeddings)
        else:
            app.router.add_post("/v1/chat/completions", self._chat)
            app.router.add_post("/v1/completions", self._completions)
            app.router.add_post("/v1/embeddings", self._embeddings)
            app.router.add_get("/v1/models", self._list_models)
            app.router.add_get("/v1/models/{model}", self._get_model)
        app.router.add_route("*", "/{tail:.*}", self._unknown_url)
        return app

    # The pipeline every request goes through.

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await self._answer(request, handler)
        except asyncio.CancelledError:
            # Servers that cancel handlers when the peer hangs up (aiohttp's TestServer does).
            self.disconnects += 1
            raise

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        recorded = await self._record(request)
        if request.match_info.handler == self._unknown_url:
            # A wrong URL is the gateway's bug: answered at once, leaving scripts queued.
            return await self._unknown_url(request)
        behaviour = self._next_behaviour()
        request[_EXCHANGE] = _Exchange(behaviour, recorded.json, f"req_fake{next(self._ids):06d}")
        if not await self._wait(request, behaviour.delay_before_headers):
            return web.Response()
        refusal = self._refusal(request, recorded)
        if refusal is not None:
            return self._json(request, refusal[1], status=refusal[0])
        if behaviour.status >= 400 or behaviour.body is not None:
            return self._scripted_body(request, behaviour)
        if behaviour.events is not None:
            return await self._stream(request, behaviour.events, done=False)
        response: web.StreamResponse = await handler(request)
        return response

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            json=parsed,
            body=raw,
        )
        self.requests.append(recorded)
        return recorded

    def _next_behaviour(self) -> Behaviour:
        standing = self.behaviour()
        return dataclasses.replace(standing, **self._queue.popleft()) if self._queue else standing

    def _refusal(self, request: web.Request, recorded: Recorded) -> tuple[int, Json] | None:
        """What a real server refuses before looking at the request: credentials, Azure's
        api-version, and bodies that are not JSON objects."""
        if self.azure:
            key = recorded.headers.get("api-key")
            if key is None or (self.api_key is not None and key != self.api_key):
                message = (
                    "Access denied due to invalid subscription key or wrong API endpoint. "
                    "Make sure to provide a valid key for an active subscription and use a "
                    "correct regional API endpoint for your resource."
                )
                return 401, openai_error(message, code="401")
            if "api-version" not in recorded.query:
                message = "Missing required query parameter: api-version."
                return 400, openai_error(message, param="api-version")
        elif self.api_key is not None:
            given = recorded.headers.get("Authorization")
            if given is None:
                return 401, openai_error("You didn't provide an API key.")
            if given != f"Bearer {self.api_key}":
                return 401, default_error(401)
        if request.method == "POST" and not isinstance(recorded.json, dict):
            message = "We could not parse the JSON body of your request."
            return 400, openai_error(message)
        return None

    def _scripted_body(self, request: web.Request, behaviour: Behaviour) -> web.Response:
        body = behaviour.body if behaviour.body is not None else default_error(behaviour.status)
        if isinstance(body, bytes):
            headers = self._headers(request)
            return web.Response(status=behaviour.status, body=body, headers=headers)
        return self._json(request, body, status=behaviour.status)

    # Endpoints.

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body: Json = request[_EXCHANGE].json
        problem = _missing(body, "messages", self.azure)
        if problem is not None:
            return self._json(request, problem, status=400)
        behaviour = request[_EXCHANGE].behaviour
        answer = _chat_answer(body, behaviour)
        model = self._model(request, body)
        reply_id = f"chatcmpl-fake{next(self._ids):06d}"
        usage = _usage(_prompt_tokens(body.get("messages")), answer.tokens * _n(body), behaviour)
        if body.get("stream") is True:
            events = _chat_chunks(reply_id, model, answer, _n(body), behaviour)
            events = _stream_events(events, usage, body, behaviour, "chat.completion.chunk")
            return await self._stream(request, events, done=True)
        return self._json(
            request, _chat_response(reply_id, model, answer, _n(body), usage, behaviour)
        )

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body: Json = request[_EXCHANGE].json
        problem = _missing(body, "prompt", self.azure)
        if problem is not None:
            return self._json(request, problem, status=400)
        behaviour = request[_EXCHANGE].behaviour
        prompts = _items(body["prompt"])
        count = len(prompts) * _n(body)
        answer = _truncate(_text_answer(behaviour.reply), body.get("max_tokens", 16), behaviour)
        model = self._model(request, body)
        reply_id = f"cmpl-fake{next(self._ids):06d}"
        usage = _usage(sum(_count_words(p) for p in prompts), answer.tokens * count, behaviour)
        if body.get("stream") is True:
            events = _completion_chunks(reply_id, model, answer, count, behaviour)
            events = _stream_events(events, usage, body, behaviour, "text_completion")
            return await self._stream(request, events, done=True)
        return self._json(
            request, _completion_response(reply_id, model, answer, count, usage, behaviour)
        )

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body: Json = request[_EXCHANGE].json
        problem = _missing(body, "input", self.azure) or _bad_embedding_options(body)
        if problem is not None:
            return self._json(request, problem, status=400)
        behaviour = request[_EXCHANGE].behaviour
        dimensions = body.get("dimensions") or self.embedding_dimensions
        as_base64 = body.get("encoding_format") == "base64"
        items = _items(body["input"])
        data = [
            _embedding_item(i, item, dimensions, as_base64, behaviour)
            for i, item in enumerate(items)
        ]
        reply: Json = {"object": "list", "data": data, "model": self._model(request, body)}
        if not behaviour.omit_fields:
            tokens = sum(_count_words(item) for item in items)
            reply["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return self._json(request, reply)

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        return self._json(request, {"object": "list", "data": [_model(m) for m in self.models]})

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["model"]
        if name not in self.models:
            message = f"The model '{name}' does not exist"
            return self._json(request, openai_error(message, code="model_not_found"), status=404)
        return self._json(request, _model(name))

    async def _unknown_url(self, request: web.Request) -> web.StreamResponse:
        message = f"Invalid URL ({request.method} {request.path})"
        return web.json_response(openai_error(message), status=404)

    # Transport.

    def _model(self, request: web.Request, body: Json) -> str:
        behaviour = request[_EXCHANGE].behaviour
        if behaviour.response_model is not None:
            return behaviour.response_model
        return str(body.get("model") or request.match_info.get("deployment", ""))

    def _headers(self, request: web.Request) -> dict[str, str]:
        behaviour = request[_EXCHANGE].behaviour
        headers = {"x-request-id": request[_EXCHANGE].request_id, **behaviour.headers}
        if behaviour.retry_after is not None:
            headers["Retry-After"] = str(behaviour.retry_after)
        return headers

    def _json(self, request: web.Request, payload: Any, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps(payload),
            content_type="application/json",
            headers=self._headers(request),
        )

    async def _stream(
        self, request: web.Request, events: list[Any], done: bool
    ) -> web.StreamResponse:
        """Writes the events as SSE; honours delays and drops, and notices a peer that
        went away (counted in `disconnects`) instead of failing the handler."""
        behaviour = request[_EXCHANGE].behaviour
        response = web.StreamResponse(
            headers={**self._headers(request), "Cache-Control": "no-cache"}
        )
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        cut = behaviour.drop_mid_stream
        try:
            await response.prepare(request)
            for sent, event in enumerate(events if cut is None else events[:cut]):
                if sent and not await self._wait(request, behaviour.delay_between_chunks):
                    return response
                await response.write(_sse(event))
            if cut is not None:
                return _drop(request, response)
            if done:
                await response.write(DONE)
        except ConnectionError:
            self.disconnects += 1
        return response

    async def _wait(self, request: web.Request, seconds: float) -> bool:
        """Sleeps, but returns False early (and counts it) if the peer hangs up, so an
        abandoned request does not keep the server busy until the test ends."""
        if seconds <= 0:
            return True
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if request.transport is None or request.transport.is_closing():
                self.disconnects += 1
                return False
            await asyncio.sleep(min(left, 0.01))
        return True


def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Closes the socket mid-body: what the client sees when a provider dies mid-answer."""
    if request.transport is not None:
        request.transport.close()
    return response


def _sse(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    data = event.encode() if isinstance(event, str) else orjson.dumps(event)
    return b"data: " + data + b"\n\n"


def _model(name: str) -> Json:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": OWNED_BY}


# Request checks.


def _missing(body: Json, field_name: str, azure: bool) -> Json | None:
    """The request checks OpenAI makes first, with its messages (Azure takes the model from
    the deployment in the URL)."""
    if not azure and not body.get("model"):
        return openai_error("you must provide a model parameter")
    if field_name not in body:
        message = f"Missing required parameter: '{field_name}'."
        return openai_error(message, param=field_name, code="missing_required_parameter")
    if field_name == "messages" and not isinstance(body["messages"], list):
        message = "Invalid type for 'messages': expected an array."
        return openai_error(message, param="messages", code="invalid_type")
    if field_name == "messages" and body["messages"] == []:
        message = "Invalid 'messages': empty array. Expected an array with minimum length 1."
        return openai_error(message, param="messages", code="empty_array")
    return None


def _bad_embedding_options(body: Json) -> Json | None:
    if body.get("encoding_format", "float") not in ("float", "base64"):
        message = "Invalid value for 'encoding_format': expected 'float' or 'base64'."
        return openai_error(message, param="encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
        return openai_error("Invalid value for 'dimensions'.", param="dimensions")
    return None


def _n(body: Json) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and n > 0 else 1


# What to answer.


@dataclass(frozen=True)
class _Answer:
    """One choice's content, already split the way it will be streamed."""

    pieces: list[str]
    finish_reason: str
    tool_name: str | None = None
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        return len(self.pieces)


def _chat_answer(body: Json, behaviour: Behaviour) -> _Answer:
    """A tool result is acknowledged, tools get a call, JSON modes get JSON, else the reply."""
    messages = body["messages"]
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") == "tool":
        answer = _text_answer(f"The tool returned: {_text_of(last.get('content'))}")
    elif body.get("tools") and body.get("tool_choice") != "none":
        name = _tool_name(body)
        call_id = "call_fake" + hashlib.sha256(name.encode()).hexdigest()[:16]
        pieces = [TOOL_ARGUMENTS[i : i + 5] for i in range(0, len(TOOL_ARGUMENTS), 5)]
        answer = _Answer(pieces, "tool_calls", name, call_id)
    elif (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        answer = _text_answer(orjson.dumps({"reply": behaviour.reply}).decode())
    else:
        answer = _text_answer(behaviour.reply)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    return _truncate(answer, limit, behaviour)


def _text_answer(text: str) -> _Answer:
    return _Answer(re.findall(r"\s*\S+(?:\s+$)?", text) or [text], "stop")


def _truncate(answer: _Answer, limit: Any, behaviour: Behaviour) -> _Answer:
    if answer.tool_name is None and isinstance(limit, int) and 0 < limit < answer.tokens:
        answer = _Answer(answer.pieces[:limit], "length")
    if behaviour.finish_reason is not None:
        answer = dataclasses.replace(answer, finish_reason=behaviour.finish_reason)
    return answer


def _tool_name(body: Json) -> str:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return str(choice["function"].get("name", ""))
    tool = body["tools"][0]
    return str((tool.get(tool.get("type", "function")) or {}).get("name", ""))


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _count_words(value: Any) -> int:
    if isinstance(value, list):  # token ids
        return len(value)
    return len(str(value).split())


def _items(value: Any) -> list[Any]:
    """A prompt or embedding input: a string, a list of strings, a token list, or a list of
    token lists."""
    if isinstance(value, list) and value and all(isinstance(t, int) for t in value):
        return [value]
    return value if isinstance(value, list) else [value]


def _prompt_tokens(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(_count_words(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))


def _usage(prompt_tokens: int, completion_tokens: int, behaviour: Behaviour) -> Json:
    usage: Json = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if not behaviour.omit_fields:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


# Chat completions.


def _envelope(reply_id: str, kind: str, model: str, behaviour: Behaviour) -> Json:
    envelope: Json = {"id": reply_id, "object": kind, "created": CREATED, "model": model}
    if not behaviour.omit_fields:
        if kind.startswith("chat."):
            envelope["service_tier"] = "default"
        envelope["system_fingerprint"] = FINGERPRINT
    return envelope


def _tool_call(answer: _Answer) -> Json:
    return {
        "id": answer.tool_call_id,
        "type": "function",
        "function": {"name": answer.tool_name, "arguments": answer.text},
    }


def _chat_response(
    reply_id: str, model: str, answer: _Answer, n: int, usage: Json, behaviour: Behaviour
) -> Json:
    message: Json = {"role": "assistant", "content": None if answer.tool_name else answer.text}
    if answer.tool_name:
        message["tool_calls"] = [_tool_call(answer)]
    if not behaviour.omit_fields:
        message["refusal"] = None
        message["annotations"] = []
    choices = []
    for index in range(n):
        choice: Json = {"index": index, "message": dict(message)}
        if not behaviour.omit_fields:
            choice["logprobs"] = None
        choice["finish_reason"] = answer.finish_reason
        choices.append(choice)
    reply = _envelope(reply_id, "chat.completion", model, behaviour)
    return {**reply, "choices": choices, "usage": usage}


def _chat_deltas(answer: _Answer, behaviour: Behaviour) -> list[Json]:
    """The deltas of one choice, as OpenAI sends them: the role first (with the call's id,
    type and name for a tool call), then content or argument pieces."""
    first: Json = {"role": "assistant", "content": None if answer.tool_name else ""}
    if answer.tool_name:
        first["tool_calls"] = [
            {
                "index": 0,
                "id": answer.tool_call_id,
                "type": "function",
                "function": {"name": answer.tool_name, "arguments": ""},
            }
        ]
        rest: list[Json] = [
            {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in answer.pieces
        ]
    else:
        rest = [{"content": piece} for piece in answer.pieces]
    if not behaviour.omit_fields:
        first["refusal"] = None
    return [first, *rest]


def _chat_chunks(
    reply_id: str, model: str, answer: _Answer, n: int, behaviour: Behaviour
) -> list[Json]:
    deltas = _chat_deltas(answer, behaviour)
    steps: list[tuple[Json, str | None]] = [(delta, None) for delta in deltas]
    steps.append(({}, answer.finish_reason))
    chunks = []
    for delta, finish_reason in steps:
        for index in range(n):
            choice: Json = {"index": index, "delta": delta}
            if not behaviour.omit_fields:
                choice["logprobs"] = None
            if finish_reason is not None or not behaviour.omit_fields:
                choice["finish_reason"] = finish_reason
            chunk = _envelope(reply_id, "chat.completion.chunk", model, behaviour)
            chunks.append({**chunk, "choices": [choice]})
    return chunks


# Legacy completions.


def _completion_response(
    reply_id: str, model: str, answer: _Answer, count: int, usage: Json, behaviour: Behaviour
) -> Json:
    choices = []
    for index in range(count):
        choice: Json = {"text": answer.text, "index": index}
        if not behaviour.omit_fields:
            choice["logprobs"] = None
        choice["finish_reason"] = answer.finish_reason
        choices.append(choice)
    reply = _envelope(reply_id, "text_completion", model, behaviour)
    return {**reply, "choices": choices, "usage": usage}


def _completion_chunks(
    reply_id: str, model: str, answer: _Answer, count: int, behaviour: Behaviour
) -> list[Json]:
    steps: list[tuple[str, str | None]] = [(piece, None) for piece in answer.pieces]
    steps.append(("", answer.finish_reason))
    chunks = []
    for text, finish_reason in steps:
        for index in range(count):
            choice: Json = {"text": text, "index": index}
            if not behaviour.omit_fields:
                choice["logprobs"] = None
            if finish_reason is not None or not behaviour.omit_fields:
                choice["finish_reason"] = finish_reason
            chunk = _envelope(reply_id, "text_completion", model, behaviour)
            chunks.append({**chunk, "choices": [choice]})
    return chunks


def _stream_events(
    chunks: list[Json], usage: Json, body: Json, behaviour: Behaviour, kind: str
) -> list[Any]:
    """The chunks as sent: after Azure's filter chunk if asked, and with what
    `stream_options.include_usage` adds: `usage: null` on every chunk, then one chunk with
    `choices: []` and the usage (or, for sloppy vendors, usage on the finishing chunk)."""
    options = body.get("stream_options") or {}
    wanted = bool(options.get("include_usage")) or behaviour.include_usage_when_not_asked
    events: list[Any] = []
    if behaviour.prompt_filter_chunk:
        events.append(_prompt_filter_chunk())
    if not wanted:
        return events + chunks
    if not behaviour.omit_fields:
        chunks = [{**chunk, "usage": None} for chunk in chunks]
    if behaviour.usage_on_finish_chunk:
        return [*events, *chunks[:-1], {**chunks[-1], "usage": usage}]
    envelope = {key: value for key, value in chunks[-1].items() if key not in ("choices", "usage")}
    return [*events, *chunks, {**envelope, "object": kind, "choices": [], "usage": usage}]


def _prompt_filter_chunk() -> Json:
    safe = {"filtered": False, "severity": "safe"}
    results = {name: safe for name in ("hate", "self_harm", "sexual", "violence")}
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": results}],
    }


# Embeddings.


def vector_for(item: Any, dimensions: int) -> list[float]:
    """The fake's embedding of one input: a unit vector that depends only on the input and
    the dimensions, with float32-exact values so base64 round-trips compare equal."""
    seed = orjson.dumps(item)
    raw: list[float] = []
    for block in itertools.count():
        digest = hashlib.sha256(seed + block.to_bytes(4, "little")).digest()
        raw.extend((byte - 127.5) / 127.5 for byte in digest)
        if len(raw) >= dimensions:
            break
    norm = math.sqrt(sum(x * x for x in raw[:dimensions])) or 1.0
    floats = [x / norm for x in raw[:dimensions]]
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *floats)))


def _embedding_item(
    index: int, item: Any, dimensions: int, as_base64: bool, behaviour: Behaviour
) -> Json:
    vector = vector_for(item, dimensions)
    packed = struct.pack(f"<{dimensions}f", *vector)
    embedding: Any = base64.b64encode(packed).decode() if as_base64 else vector
    entry: Json = {"index": index, "embedding": embedding}
    if not behaviour.omit_fields:
        entry = {"object": "embedding", **entry}
    return entry
