"""The request body: read once, parsed once (orjson), checked, kept in the request context.

Only the fields the gateway itself relies on, or whose wrong type a provider would answer
with a confusing message, are checked; everything else passes through untouched, including
fields this version does not know yet. A wrong field is named in `param`, as OpenAI does.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import Json, Operation
from gateway.context import CTX
from gateway.errors import InvalidRequest

_STR = (str,)
_INT = (int,)
_NUMBER = (int, float)
_BOOL = (bool,)
_OBJECT = (dict,)
_ARRAY = (list,)

# Optional fields, by the JSON type OpenAI's API reference gives them. `null` is accepted.
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "model": (_STR, "a string"),
    "stream": (_BOOL, "a boolean"),
    "stream_options": (_OBJECT, "an object"),
    "temperature": (_NUMBER, "a number"),
    "top_p": (_NUMBER, "a number"),
    "n": (_INT, "an integer"),
    "max_tokens": (_INT, "an integer"),
    "max_completion_tokens": (_INT, "an integer"),
    "presence_penalty": (_NUMBER, "a number"),
    "frequency_penalty": (_NUMBER, "a number"),
    "logit_bias": (_OBJECT, "an object"),
    "logprobs": (_BOOL, "a boolean"),
    "top_logprobs": (_INT, "an integer"),
    "seed": (_INT, "an integer"),
    "stop": ((str, list), "a string or an array of strings"),
    "tools": (_ARRAY, "an array"),
    "tool_choice": ((str, dict), "a string or an object"),
    "parallel_tool_calls": (_BOOL, "a boolean"),
    "response_format": (_OBJECT, "an object"),
    "user": (_STR, "a string"),
    "metadata": (_OBJECT, "an object"),
    "dimensions": (_INT, "an integer"),
    "encoding_format": (_STR, "a string"),
}
_REQUIRED: dict[Operation, tuple[str, tuple[type, ...], str]] = {
    "chat": ("messages", _ARRAY, "an array of messages"),
    "completions": ("prompt", (str, list), "a string or an array"),
    "embeddings": ("input", (str, list), "a string or an array"),
}
# The proxied endpoints, by path: stages that need the body find the operation here.
OPERATIONS: dict[str, Operation] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
MODES: dict[Operation, str] = {"chat": "chat", "completions": "chat", "embeddings": "embedding"}
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def operation_of(request: web.Request) -> Operation | None:
    """The proxied operation this request is for; None for other routes and for requests
    the router will refuse (unknown path, wrong method)."""
    if request.match_info.http_exception is not None:
        return None
    return OPERATIONS.get(request.path)


async def read_payload(request: web.Request, operation: Operation) -> Json:
    ctx = request[CTX]
    if ctx.payload is not None:
        return ctx.payload
    raw = await request.read()  # over the size limit aiohttp raises 413 here
    if not raw:
        raise InvalidRequest("The request body is empty; expected a JSON object.")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    check(payload, operation)
    ctx.payload = payload
    return payload


def check(payload: Json, operation: Operation) -> None:
    model = payload.get("model")
    if not model or not isinstance(model, str):
        _wrong("model", "you must provide a model name as a string")
    name, kinds, expected = _REQUIRED[operation]
    value = payload.get(name)
    if value is None:
        _wrong(name, f"'{name}' is a required property")
    if not _is(value, kinds):
        _wrong(name, f"'{name}' must be {expected}")
    # By the fields sent, a handful, rather than by the two dozen known.
    for field, value in payload.items():
        rule = _FIELD_TYPES.get(field)
        if rule is not None and value is not None and not _is(value, rule[0]):
            _wrong(field, f"'{field}' must be {rule[1]}, not {_json_type(value)}")
    if operation == "chat":
        _check_messages(payload["messages"])


def _check_messages(messages: list[Any]) -> None:
    if not messages:
        _wrong("messages", "'messages' must contain at least one message")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            where = f"messages[{index}]"
            _wrong(where, f"'{where}' must be an object")
        role = message.get("role")
        if not (isinstance(role, str) and role in _ROLES):  # a list or object is unhashable
            where = f"messages[{index}].role"
            _wrong(where, f"'{where}' must be one of {', '.join(sorted(_ROLES))}")


def _is(value: object, kinds: tuple[type, ...]) -> bool:
    # bool is an int in Python, never in JSON.
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wrong(param: str, message: str) -> None:
    raise InvalidRequest(f"Invalid request: {message}.", param=param)
