"""The chain. Its order is declared once, here, read top (outermost) to bottom."""

from __future__ import annotations

from aiohttp.typedefs import Middleware

from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo
from gateway.auth.key_use import KeyUseRecorder
from gateway.middleware import auth, errors, request_id


def chain(
    master_key: str, keys: KeyCache[KeyInfo], key_use: KeyUseRecorder
) -> tuple[Middleware, ...]:
    return (
        # Outermost, so that every failure below, including a bug, is rendered the one way.
        errors.make_middleware(),
        # Before anything that logs or fails, so that every log line and error has the id.
        request_id.make_middleware(),
        # Before any work is spent on the request, and before anything reads the body.
        auth.make_middleware(master_key, keys, key_use),
    )
