"""Scrubbing provider text before a client or a log sees it.

Upstream error messages sometimes quote the credential they rejected or name an internal
host. Anything shaped like a key, a URL or a bare address is replaced, and so is every secret
the caller knows about, whatever its shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERNS = re.compile(
    r"(?:https?|wss?)://\S+"  # URLs (upstream addresses, Azure resource names)
    r"|\b(?:sk|pk|rk|gsk|xai|hf|key|sess)[-_][A-Za-z0-9*_\-.]{6,}"  # key-shaped tokens
    r"|\bAIza[A-Za-z0-9_\-]{20,}"  # Google API keys
    r"|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"  # IPv4 address, optional port
)
REDACTED = "[redacted]"


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(REDACTED, text)
