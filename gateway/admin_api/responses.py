"""JSON in and out for the admin API: bodies validated into models, lists paginated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)
MAX_LIMIT = 500


class Body(BaseModel):
    """Admin request bodies: unknown fields are an error, so typos are never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        raise TypeError("bytes are never rendered")  # hashes must not reach a response
    return str(value)  # inet addresses


def ok(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, default=_default),
        status=status,
        content_type="application/json",
    )


def page(items: list[Any], limit: int, offset: int) -> web.Response:
    """Lists are fetched with limit + 1 rows, so `has_more` needs no count query."""
    return ok(
        {
            "object": "list",
            "data": items[:limit],
            "limit": limit,
            "offset": offset,
            "has_more": len(items) > limit,
        }
    )


def pagination(request: web.Request) -> tuple[int, int]:
    return _bounded(request, "limit", 50, 1, MAX_LIMIT), _bounded(request, "offset", 0, 0, None)


def _bounded(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer", param=name) from None
    if value < low or (high is not None and value > high):
        raise InvalidRequest(f"{name} must be between {low} and {high or 'any'}", param=name)
    return value


def uuid_param(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise InvalidRequest(f"{name} must be a UUID", param=name) from None


async def parse(request: web.Request, model: type[M]) -> M:
    try:
        raw = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("the body is not valid JSON") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        param = ".".join(str(p) for p in error["loc"]) or None
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        raise InvalidRequest(f"{param}: {message}" if param else message, param=param) from None
