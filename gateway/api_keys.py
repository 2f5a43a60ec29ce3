"""Virtual API keys: their format, and the one way a secret becomes what we store.

A key is `sk-mb-` and 43 URL-safe characters (256 bits from `secrets`). Only its SHA-256 is
stored: a key has full entropy, so a fast hash is as safe as a slow one and keeps the
cache-miss path cheap. The display prefix shows enough to tell keys apart, nothing more.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sk-mb-"
_DISPLAY_CHARS = 4


def generate() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def display_prefix(secret: str) -> str:
    return f"{secret[: len(KEY_PREFIX) + _DISPLAY_CHARS]}…{secret[-_DISPLAY_CHARS:]}"


def looks_like_key(secret: str) -> bool:
    """Cheap shape check so obvious junk never reaches the cache or the database."""
    return secret.startswith(KEY_PREFIX) and 20 <= len(secret) <= 128
