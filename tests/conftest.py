"""Shared fixtures. Tests talk to real servers on 127.0.0.1 only; a guard enforces it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.credentials import Credentials
from gateway.routing.schema import RoutingConfig

pytest_plugins = ["tests.pg", "tests.redis_server", "tests.sdk_stack"]

MASTER_KEY = "sk-mb-test-master-key"
TOKEN_SECRET = "test-admin-token-secret-of-at-least-32-bytes"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: Any) -> None:
    if not isinstance(address, tuple):
        return  # unix sockets (the embedded PostgreSQL) are local by nature
    host = address[0]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise RuntimeError(f"test tried to reach a non-loopback host: {host}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _loopback_only(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _loopback_only(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def loopback_guard() -> Any:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


def routing_for(api_base: str, adapter: str = "openai", **provider: Any) -> dict[str, Any]:
    """A routing file with one upstream provider `up` and the demo models."""
    return {
        "providers": {
            "up": {
                "adapter": adapter,
                "api_base": api_base,
                "api_key": "sk-provider-secret",
                **provider,
            },
            "demo": {"adapter": "demo"},
        },
        "models": {
            "gpt-4o-mini": {
                "deployments": [
                    {
                        "provider": "up",
                        "model": "gpt-4o-mini-upstream",
                        "price": {"input": 0.15, "output": 0.6},
                    }
                ]
            },
            "text-embedding-3-small": {
                "deployments": [{"provider": "up", "model": "text-embedding-3-small"}]
            },
            "demo": {"deployments": [{"provider": "demo", "model": "demo"}]},
            "demo-embed": {"deployments": [{"provider": "demo", "model": "demo-embed"}]},
        },
    }


GatewayFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_gateway(tmp_path: Any, pg_dsn: str) -> AsyncIterator[GatewayFactory]:
    """Starts the real app on a loopback port, on this test's own database; returns its
    base URL (…/v1). Calling it twice gives two apps sharing the database, as two gateway
    processes do."""
    servers: list[TestServer] = []

    async def start(routing: dict[str, Any], routing_path: Any = None, **settings: Any) -> str:
        config = GatewayConfig.model_validate(
            {"server": {"data_dir": str(tmp_path / "data")}, **settings}
        )
        app: web.Application = create_app(
            config,
            RoutingConfig.model_validate(routing),
            Credentials(MASTER_KEY, TOKEN_SECRET),
            pg_dsn,
            routing_path,
        )
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/v1"))

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def start_upstream() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Starts a fake provider (a real aiohttp app) on loopback; returns its base URL."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url(""))

    yield start
    for server in servers:
        await server.close()
