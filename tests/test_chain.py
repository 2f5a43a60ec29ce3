from __future__ import annotations

from gateway.middleware import chain


def test_chain_order_is_declared_once_and_in_order() -> None:
    names = [m.__name__ for m in chain("sk-x")]
    assert names == ["errors", "request_id", "auth"]
