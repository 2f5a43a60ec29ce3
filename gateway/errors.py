"""The error tree, and the one place errors become client responses.

Every failure a client can see is a `GatewayError`. Its fields are exactly the four keys of
OpenAI's error object plus the HTTP status, so rendering is mechanical and nothing else
(a traceback, an upstream body, a provider key) can leak into a response.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web


class GatewayError(Exception):
    """A failure with a known client-facing status and OpenAI error body."""

    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers: Mapping[str, str] = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationError(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "invalid_request_error"
    code = "permission_denied"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class Conflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamError(GatewayError):
    """A provider failed. `retryable` is decided by the adapter's status table, on purpose."""

    status = 502
    type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        upstream_status: int | None = None,
        retryable: bool = False,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, status=status, type=type, headers=headers)
        self.provider = provider
        self.upstream_status = upstream_status
        self.retryable = retryable
        self.retry_after: float | None = None  # seconds, from the provider's Retry-After


CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"


class UpstreamUnavailable(UpstreamError):
    status = 502
    code = "upstream_unavailable"


class UpstreamProtocolError(UpstreamError):
    status = 502
    code = "upstream_protocol_error"


def error_body_bytes(error: GatewayError) -> bytes:
    return orjson.dumps(error.body())


def render(error: GatewayError) -> web.Response:
    """The single renderer: OpenAI-shaped JSON with the error's status and extra headers."""
    return web.Response(
        status=error.status,
        body=error_body_bytes(error),
        content_type="application/json",
        headers=error.headers,
    )


def from_http_exception(exc: web.HTTPException) -> GatewayError:
    """aiohttp raises these for routing and body-size failures; give them our shape."""
    if exc.status == 404:
        return NotFound("Unknown request URL. Check the path and method.", code="unknown_url")
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()))
        return MethodNotAllowed(
            f"Method not allowed. Allowed: {', '.join(allowed)}.",
            headers={"Allow": ",".join(allowed)},
        )
    if exc.status == 413:
        return PayloadTooLarge("Request body is larger than the gateway accepts.")
    kind = "server_error" if exc.status >= 500 else "invalid_request_error"
    return GatewayError(exc.reason, status=exc.status, type=kind)
