"""What the fake OpenAI upstream answers for embeddings: deterministic unit vectors, as
floats or base64, shaped by a `Behaviour`."""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import struct
from typing import Any

import orjson

from tests.fakes.openai_answers import Behaviour, Json


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


def embedding_item(
    index: int, item: Any, dimensions: int, as_base64: bool, behaviour: Behaviour
) -> Json:
    vector = vector_for(item, dimensions)
    packed = struct.pack(f"<{dimensions}f", *vector)
    embedding: Any = base64.b64encode(packed).decode() if as_base64 else vector
    entry: Json = {"index": index, "embedding": embedding}
    if not behaviour.omit_fields:
        entry = {"object": "embedding", **entry}
    return entry
