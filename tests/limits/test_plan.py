"""What is built once rather than per request follows what it was built from: a key's
buckets follow the key, and the prices a budget reserves follow the routing snapshot."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from gateway.auth.key_info import KeyInfo, TenantLimits
from gateway.config import DEFAULT_PLANS
from gateway.context import Principal
from gateway.limits.plan import LimitsByKey
from gateway.limits.reservation import ReachablePrices
from gateway.routing.schema import RoutingConfig
from gateway.routing.table import RoutingHolder, RoutingTable

KEY = KeyInfo(
    key_id="k1",
    name="k",
    tenant_id="t1",
    tenant_slug="acme",
    tenant_active=True,
    plan="enterprise",
    user_id=None,
    allowed_models=None,
    expires_at=None,
    revoked=False,
    rpm=None,
    tpm=None,
    max_parallel=None,
    budget_usd=None,
    budget_period=None,
    tags={},
    pinned_tags={},
    tenant_limits=TenantLimits(None, None, None, None, None),
)


def _routing(input_price: int) -> RoutingTable:
    config: dict[str, Any] = {
        "providers": {"demo": {"adapter": "demo"}},
        "models": {
            "demo": {
                "deployments": [
                    {"provider": "demo", "model": "demo", "price": {"input": input_price}},
                    {"provider": "demo", "model": "demo", "price": {"input": input_price}},
                ]
            }
        },
    }
    return RoutingTable(RoutingConfig.model_validate(config))


def test_a_keys_buckets_are_built_once_and_again_when_the_key_changes() -> None:
    limits = LimitsByKey(DEFAULT_PLANS)
    first = limits.get(KEY)
    assert limits.get(KEY) is first
    assert [b.key for b in first.buckets] == ["mb:{t:t1}:t:mreq", "mb:{t:t1}:t:mtok"]
    assert first.counts_tokens and not first.counts_cost
    changed = limits.get(replace(KEY, rpm=5, budget_usd=Decimal(2), budget_period="day"))
    assert [b.key for b in changed.buckets] == [
        "mb:{t:t1}:k:k1:rpm",
        "mb:{t:t1}:t:mreq",
        "mb:{t:t1}:t:mtok",
        "mb:{t:t1}:k:k1:usd",
    ]
    assert changed.counts_cost
    assert limits.get(KEY) is not first  # the older KeyInfo is no longer the current one


def test_reachable_prices_are_found_again_after_a_routing_reload() -> None:
    holder = RoutingHolder(_routing(1))
    prices = ReachablePrices(holder)
    caller = Principal(kind="key", key=KEY)
    assert [p.input for p in prices.of("demo", "chat", caller)] == [1]  # one per price
    holder.swap(_routing(2))
    assert [p.input for p in prices.of("demo", "chat", caller)] == [2]
    assert prices.of("no-such-model", "chat", caller) == ()
