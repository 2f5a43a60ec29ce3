"""Password hashing with argon2id (argon2-cffi), off the event loop: a hash takes ~50 ms."""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # stateless parameters object, safe to share
MIN_LENGTH = 10


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that timing does not reveal
    which emails have accounts."""
    return _HASHER.hash("model-bridge-dummy-password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _HASHER.verify(stored_hash or _dummy_hash(), password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
