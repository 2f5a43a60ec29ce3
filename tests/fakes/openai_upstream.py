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
import dataclasses
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from tests.fakes.openai_answers import (
    DEFAULT_MODELS,
    Behaviour,
    Json,
    bad_embedding_options,
    chat_answer,
    chat_chunks,
    chat_response,
    choice_count,
    completion_chunks,
    completion_response,
    count_words,
    input_items,
    missing,
    model_object,
    openai_error,
    prompt_tokens,
    sse,
    stream_events,
    text_answer,
    truncate,
    usage_of,
)
from tests.fakes.openai_embeddings import embedding_item

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
        problem = missing(body, "messages", self.azure)
        if problem is not None:
            return self._json(request, problem, status=400)
        behaviour = request[_EXCHANGE].behaviour
        answer = chat_answer(body, behaviour)
        model = self._model(request, body)
        reply_id = f"chatcmpl-fake{next(self._ids):06d}"
        usage = usage_of(
            prompt_tokens(body.get("messages")), answer.tokens * choice_count(body), behaviour
        )
        if body.get("stream") is True:
            events = chat_chunks(reply_id, model, answer, choice_count(body), behaviour)
            events = stream_events(events, usage, body, behaviour, "chat.completion.chunk")
            return await self._stream(request, events, done=True)
        return self._json(
            request, chat_response(reply_id, model, answer, choice_count(body), usage, behaviour)
        )

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body: Json = request[_EXCHANGE].json
        problem = missing(body, "prompt", self.azure)
        if problem is not None:
            return self._json(request, problem, status=400)
        behaviour = request[_EXCHANGE].behaviour
        prompts = input_items(body["prompt"])
        count = len(prompts) * choice_count(body)
        answer = truncate(text_answer(behaviour.reply), body.get("max_tokens", 16), behaviour)
        model = self._model(request, body)
        reply_id = f"cmpl-fake{next(self._ids):06d}"
        usage = usage_of(sum(count_words(p) for p in prompts), answer.tokens * count, behaviour)
        if body.get("stream") is True:
            events = completion_chunks(reply_id, model, answer, count, behaviour)
            events = stream_events(events, usage, body, behaviour, "text_completion")
            return await self._stream(request, events, done=True)
        return self._json(
            request, completion_response(reply_id, model, answer, count, usage, behaviour)
        )

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body: Json = request[_EXCHANGE].json
        problem = missing(body, "input", self.azure) or bad_embedding_options(body)
        if problem is not None:
            return self._json(request, problem, status=400)
        behaviour = request[_EXCHANGE].behaviour
        dimensions = body.get("dimensions") or self.embedding_dimensions
        as_base64 = body.get("encoding_format") == "base64"
        items = input_items(body["input"])
        data = [
            embedding_item(i, item, dimensions, as_base64, behaviour)
            for i, item in enumerate(items)
        ]
        reply: Json = {"object": "list", "data": data, "model": self._model(request, body)}
        if not behaviour.omit_fields:
            tokens = sum(count_words(item) for item in items)
            reply["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return self._json(request, reply)

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        return self._json(
            request, {"object": "list", "data": [model_object(m) for m in self.models]}
        )

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["model"]
        if name not in self.models:
            message = f"The model '{name}' does not exist"
            return self._json(request, openai_error(message, code="model_not_found"), status=404)
        return self._json(request, model_object(name))

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
                await response.write(sse(event))
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
