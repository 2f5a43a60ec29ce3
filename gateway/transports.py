"""The transports of the current providers, following routing reloads.

A provider added by a reload gets its pooled session at once. One removed keeps its session
until shutdown: requests in flight may still be using it, and an idle pool costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config import UpstreamConfig
from gateway.demo import DemoTransport
from gateway.routing.schema import ProviderConfig
from gateway.upstream import HttpTransport, Transport


class TransportPool:
    def __init__(self, upstream: UpstreamConfig) -> None:
        self._upstream = upstream
        self._by_provider: dict[str, Transport] = {}
        self._retired: list[Transport] = []

    def sync(self, providers: Mapping[str, ProviderConfig]) -> None:
        for name, provider in providers.items():
            wanted = DemoTransport if provider.adapter == "demo" else HttpTransport
            current = self._by_provider.get(name)
            if current is not None and isinstance(current, wanted):
                continue
            if current is not None:
                self._retired.append(current)
            self._by_provider[name] = (
                DemoTransport() if wanted is DemoTransport else HttpTransport(name, self._upstream)
            )

    def __getitem__(self, provider: str) -> Transport:
        return self._by_provider[provider]

    async def close(self) -> None:
        for transport in [*self._by_provider.values(), *self._retired]:
            await transport.close()
