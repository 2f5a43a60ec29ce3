"""Token counts for when a provider reports none (some compatible servers, or a client that
hung up mid-stream): approximated from the text, and the record says so."""

from __future__ import annotations

from typing import Any

# OpenAI's rule of thumb for English text; the record is marked 'estimate'.
_CHARS_PER_TOKEN = 4


def estimate(text: str) -> int:
    return (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN


def prompt_text(payload: dict[str, Any]) -> str:
    """The text a request sends: messages' text parts, a prompt, or embedding inputs."""
    parts: list[str] = []
    for message in payload.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    for field in ("prompt", "input"):
        value = payload.get(field)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(parts)
