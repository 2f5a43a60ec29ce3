"""The cache key: SHA-256 of the normalised request, scoped to the tenant.

Everything that changes the output is in it: the model group, the operation, the messages
and every parameter. What does not change the output is left out (`stream`,
`stream_options`, `user`, `metadata`), so a streamed and a plain request share an entry.
"""

from __future__ import annotations

import hashlib

import orjson

from gateway.adapters.base import Json, Operation

_IGNORED = frozenset({"model", "stream", "stream_options", "user", "metadata", "store"})


def cache_key(tenant: str, group: str, operation: Operation, payload: Json) -> str:
    significant = {k: v for k, v in payload.items() if k not in _IGNORED}
    material = orjson.dumps(
        {"tenant": tenant, "group": group, "operation": operation, "request": significant},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(material).hexdigest()


def deterministic(payload: Json) -> bool:
    """Only a request whose answer should not vary may be answered from cache by default."""
    temperature = payload.get("temperature")
    return temperature in (None, 0) and payload.get("n") in (None, 1)
