"""How an upstream HTTP status becomes a gateway error, for every adapter.

Adapters parse their provider's error body into (message, type, param, code) and call
`classify`. The status decides the class and whether failover may retry it; the provider's
message is kept (scrubbed) so the client learns what was wrong with its request.
"""

from __future__ import annotations

from gateway.adapters.base import Target
from gateway.errors import (
    CONTEXT_LENGTH_EXCEEDED,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.redact import scrub

# Statuses that say "this request, as sent, will never succeed": never retried.
_CLIENT_FAULT = frozenset({400, 401, 403, 404, 409, 413, 415, 422})


def classify(
    status: int,
    target: Target,
    message: str | None,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> UpstreamError:
    text = scrub(message or f"upstream returned HTTP {status}", (target.api_key,))
    provider = target.provider
    if status == 429:
        return UpstreamError(
            text,
            provider=provider,
            upstream_status=status,
            retryable=True,
            status=429,
            type=type or "rate_limit_error",
            code=code or "rate_limit_exceeded",
            param=param,
        )
    if status == 408:
        return UpstreamTimeout(text, provider=provider, upstream_status=status, retryable=True)
    if status in (400, 413, 422) and _is_context_overflow(text, code):
        code = CONTEXT_LENGTH_EXCEEDED  # failover sends these to the context-window fallback
    if 400 <= status < 500:
        return UpstreamError(
            text,
            provider=provider,
            upstream_status=status,
            retryable=status not in _CLIENT_FAULT,
            status=status,
            type=type or "invalid_request_error",
            code=code,
            param=param,
        )
    return UpstreamUnavailable(
        f"upstream provider {provider!r} failed: {text}",
        provider=provider,
        upstream_status=status,
        retryable=True,
        status=503 if status == 503 else 502,
    )


_OVERFLOW_PHRASES = ("context length", "context window", "maximum context", "too many tokens")


def _is_context_overflow(message: str, code: str | None) -> bool:
    lowered = message.lower()
    return code == CONTEXT_LENGTH_EXCEEDED or any(p in lowered for p in _OVERFLOW_PHRASES)
