"""Upstream transport: pooled sessions, explicit timeouts, and the one map from transport
failures to `UpstreamError`.

One `HttpTransport` (one `ClientSession`, one connector) per provider, created when the app
starts. A non-streaming call has one deadline for headers and body; a stream has a deadline
for its first byte and another for the silence between chunks, and no total. The first two
never run past `CALL_DEADLINE`: a single slow attempt cannot outlive the router's deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import aiohttp

from gateway.adapters.base import UpstreamRequest
from gateway.config import UpstreamConfig
from gateway.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

logger = logging.getLogger(__name__)

# time.monotonic() by which the upstream call being made must be answered (the request's
# deadline, or sooner by the model's own timeout), set by the failover stage around each
# attempt. A context variable, because a transport is shared by every request and is
# handed only the upstream request.
CALL_DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar(
    "call_deadline", default=math.inf
)


class UpstreamCall(Protocol):
    """An upstream response whose headers have arrived. `release` must always be called."""

    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    def release(self) -> None: ...


class Transport(Protocol):
    async def open(self, request: UpstreamRequest) -> UpstreamCall: ...

    async def close(self) -> None: ...


class HttpTransport:
    def __init__(self, provider: str, config: UpstreamConfig) -> None:
        self.provider = provider
        self._timeouts = config.timeouts
        connector = aiohttp.TCPConnector(
            limit=config.max_connections_per_provider,
            limit_per_host=0,
            keepalive_timeout=config.keepalive_seconds,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Deadlines are enforced per phase below; aiohttp's own total would cut streams.
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._timeouts.connect, sock_read=None
            ),
            trust_env=config.trust_env_proxies,
            skip_auto_headers=("User-Agent",),
        )

    async def open(self, request: UpstreamRequest) -> HttpCall:
        """Headers (and, for a plain call, the body) within the phase's timeout, and never
        past the call's deadline."""
        timeouts = self._timeouts
        phase = timeouts.first_byte if request.stream else timeouts.request
        seconds = min(phase, CALL_DEADLINE.get() - time.monotonic())
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._session.request(
                    request.method, request.url, data=request.body, headers=request.headers
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, self.provider) from exc
        return HttpCall(self.provider, response, deadline, timeouts.between_chunks)

    async def close(self) -> None:
        await self._session.close()


class HttpCall:
    def __init__(
        self,
        provider: str,
        response: aiohttp.ClientResponse,
        deadline: float,
        between_chunks: float,
    ) -> None:
        self.provider = provider
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self._response = response
        self._deadline = deadline
        self._between_chunks = between_chunks

    async def read(self) -> bytes:
        try:
            async with asyncio.timeout_at(self._deadline):
                return await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, self.provider) from exc
        finally:
            self._response.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        while True:
            try:
                async with asyncio.timeout(self._between_chunks):
                    data = await content.readany()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise transport_error(exc, self.provider) from exc
            if not data:
                return
            yield data

    def release(self) -> None:
        self._response.release()


def transport_error(exc: BaseException, provider: str) -> UpstreamError:
    """The one place transport exceptions become gateway errors.

    Messages name the provider, never the address: aiohttp's own text includes host and port.
    """
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(
            f"upstream provider {provider!r} timed out", provider=provider, retryable=True
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamProtocolError(
            f"upstream provider {provider!r} sent a malformed or truncated response",
            provider=provider,
            retryable=True,
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamUnavailable(
            f"upstream provider {provider!r} closed the connection",
            provider=provider,
            retryable=True,
        )
    return UpstreamUnavailable(
        f"upstream provider {provider!r} is unreachable", provider=provider, retryable=True
    )
