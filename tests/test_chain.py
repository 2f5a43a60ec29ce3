from __future__ import annotations

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.credentials import Credentials
from gateway.demo import demo_routing


def test_the_app_runs_the_chain_in_its_declared_order() -> None:
    app = create_app(
        GatewayConfig(), demo_routing(), Credentials("sk-x", "t"), "postgresql://unused"
    )
    names = [m.__name__ for m in app.middlewares]
    assert names == [
        "errors",
        "request_id",
        "auth",
        "rate_limit",
        "metering",
        "routing",
        "cache",
        "failover",
    ]
