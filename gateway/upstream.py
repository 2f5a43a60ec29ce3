"""Upstream transport: pooled connections, explicit timeouts, and the one map from transport
failures to `UpstreamError`.

One `HttpTransport` (one `HttpClient`, with its pools of connections) per provider, created
when the app starts. A non-streaming call has one deadline for headers and body; a stream has
a deadline for its first byte and another for the silence between chunks, and no total. The
first two never run past `CALL_DEADLINE`: a single slow attempt cannot outlive the router's
deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from gateway.adapters.base import UpstreamRequest
from gateway.config import UpstreamConfig
from gateway.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.http_client import HttpClient
from gateway.http_connection import (
    BadResponse,
    ClosedEarly,
    Connection,
    HttpClientError,
    header_map,
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

    @property
    def headers(self) -> Mapping[str, str]: ...

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
        self._client = HttpClient(
            max_connections=config.max_connections_per_provider,
            keepalive_seconds=config.keepalive_seconds,
            connect_timeout=self._timeouts.connect,
            trust_env_proxies=config.trust_env_proxies,
        )

    async def open(self, request: UpstreamRequest) -> HttpCall:
        """Headers and, for a plain call, the whole body, under one timer: within the phase's
        timeout, and never past the call's deadline."""
        timeouts = self._timeouts
        phase = timeouts.first_byte if request.stream else timeouts.request
        watchdog = Watchdog(min(phase, CALL_DEADLINE.get() - time.monotonic()))
        watchdog.waiting()  # until the call is answered: one wait
        try:
            response = await self._client.send(
                request.method,
                request.url,
                request.headers,
                request.body,
                whole=not request.stream,
            )
        except asyncio.CancelledError:
            if watchdog.expired():
                raise transport_error(TimeoutError(), self.provider) from None
            raise
        except (HttpClientError, TimeoutError) as exc:
            raise transport_error(exc, self.provider) from exc
        finally:
            watchdog.stop()
        return HttpCall(self.provider, response, request.stream, timeouts.between_chunks)

    async def close(self) -> None:
        await self._client.close()


class HttpCall:
    def __init__(
        self, provider: str, response: Connection, stream: bool, between_chunks: float
    ) -> None:
        self.provider = provider
        self.status = response.status
        self._response = response
        # Taken now: once released, the connection carries someone else's response.
        self._raw_headers = response.raw_headers
        self._body = None if stream else response.body  # a plain call arrived whole
        self._between_chunks = between_chunks

    @property
    def headers(self) -> Mapping[str, str]:
        return header_map(self._raw_headers)

    async def read(self) -> bytes:
        """The whole body, a stream's too (when it turned out to be an error response)."""
        if self._body is None:
            self._body = b"".join([data async for data in self.chunks()])
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        response = self._response
        silence = Watchdog(self._between_chunks)
        try:
            while True:
                silence.waiting()
                try:
                    data = await response.next_chunk()
                except asyncio.CancelledError:
                    if silence.expired():
                        raise transport_error(TimeoutError(), self.provider) from None
                    raise
                except HttpClientError as exc:
                    raise transport_error(exc, self.provider) from exc
                silence.received()
                if not data:
                    return
                yield data
        finally:
            silence.stop()

    def release(self) -> None:
        self._response.release()


class Watchdog:
    """Cancels the task once one wait on the upstream has lasted `limit` seconds; time spent
    between waits (relaying to the client) does not count. A plain call is one wait; a
    stream waits before each chunk.

    One timer serves the whole stream, re-armed only when it fires before the limit is
    reached, instead of a timer set and cancelled around every read: on a stream of small
    chunks that was the dearest part of relaying one. It is cheaper than `asyncio.timeout`
    for one wait as well (which also asks the OS for the process id three times).
    """

    def __init__(self, limit: float) -> None:
        task = asyncio.current_task()
        assert task is not None, "upstream calls are made by a task"
        self._task = task
        self._loop = task.get_loop()  # not get_running_loop(): it asks the OS for our pid
        self._limit = limit
        self._waiting_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._fired = False

    def waiting(self) -> None:
        self._waiting_since = now = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(now + self._limit, self._check)

    def received(self) -> None:
        self._waiting_since = None

    def expired(self) -> bool:
        """Whether a cancellation just caught is this watchdog's (and no one else's)."""
        if not self._fired:
            return False
        self._fired = False
        return self._task.uncancel() == 0

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._waiting_since is None:
            return  # data is being relayed: the next wait arms the timer again
        due = self._waiting_since + self._limit
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._check)
        else:
            # Only while the task waits on the upstream, so the cancellation lands there.
            self._fired = True
            self._task.cancel()


def transport_error(exc: BaseException, provider: str) -> UpstreamError:
    """The one place transport exceptions become gateway errors.

    Messages name the provider, never the address.
    """
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(
            f"upstream provider {provider!r} timed out", provider=provider, retryable=True
        )
    if isinstance(exc, BadResponse):
        return UpstreamProtocolError(
            f"upstream provider {provider!r} sent a malformed or truncated response",
            provider=provider,
            retryable=True,
        )
    if isinstance(exc, ClosedEarly):
        return UpstreamUnavailable(
            f"upstream provider {provider!r} closed the connection",
            provider=provider,
            retryable=True,
        )
    return UpstreamUnavailable(
        f"upstream provider {provider!r} is unreachable", provider=provider, retryable=True
    )
