"""Long lists a page at a time, as the admin API pages them: `limit` and `offset` in the
address, and one row more fetched than shown, so knowing there is a next page costs no count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from gateway.admin_api.responses import pagination

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pager:
    path: str
    limit: int
    offset: int
    has_more: bool

    @property
    def previous(self) -> str | None:
        return self._at(max(0, self.offset - self.limit)) if self.offset else None

    @property
    def next(self) -> str | None:
        return self._at(self.offset + self.limit) if self.has_more else None

    def _at(self, offset: int) -> str:
        return f"{self.path}?limit={self.limit}&offset={offset}"


async def fetch_page(
    request: web.Request, fetch: Callable[[int, int], Awaitable[list[T]]]
) -> tuple[list[T], Pager]:
    """`fetch(limit, offset)` for the page the address asks for (a bad one is a 400 page)."""
    limit, offset = pagination(request)
    rows = await fetch(limit + 1, offset)
    return rows[:limit], Pager(request.path, limit, offset, len(rows) > limit)
