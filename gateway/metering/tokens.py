"""Token counts for when a provider reports none (some compatible servers, or a client that
hung up mid-stream): a real tokenizer where one is available offline, else an estimate; the
record says which."""

from __future__ import annotations

from typing import Any

from gateway.metering.tokenizer import Tokenizer

# OpenAI's rule of thumb for English text; the record is marked 'estimate'.
_CHARS_PER_TOKEN = 4


class TokenCounter:
    def __init__(self) -> None:
        self.tokenizer: Tokenizer | None = None  # loaded at start-up, off the event loop

    @property
    def source(self) -> str:
        return "tokenizer" if self.tokenizer is not None else "estimate"

    def count(self, text: str) -> int:
        if self.tokenizer is None:
            return estimate(text)
        return len(self.tokenizer.encode_ordinary(text))


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
        if value is None:
            continue  # a chat request sends neither
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(parts)
