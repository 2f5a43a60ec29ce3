"""Budget alerts at 50/80/100 %: a response header, one audit entry per threshold, and a
signed webhook, sent off the request path."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiohttp import web

from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import GatewayFactory
from tests.limits.test_rate_limits import CHAT, ROUTING

ACTOR = Actor(type="system", label="test")


async def test_thresholds_warn_audit_once_and_post_a_signed_webhook(
    start_gateway: GatewayFactory,
    start_upstream: Any,
    pool: asyncpg.Pool,
) -> None:
    received: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers["X-Model-Bridge-Signature"]))
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    hook_url = await start_upstream(receiver) + "/hook"
    await manage_tenants.create(pool, ACTOR, "acme", "Acme", plan="enterprise")
    secret = await manage_tenants.set_alert_webhook(pool, ACTOR, "acme", hook_url)
    assert secret is not None
    # Each request costs $0.006 (6 tokens at $1000 per 1M): ten fit in $0.06.
    key = await manage_keys.create(
        pool,
        ACTOR,
        "acme",
        KeySettings(name="k", budget_usd=Decimal("0.06"), budget_period="month"),
    )
    base_url = await start_gateway(ROUTING)
    warnings = []
    async with aiohttp.ClientSession() as session:
        for _ in range(14):
            async with session.post(
                base_url + "/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {key.secret}"},
            ) as response:
                warnings.append(response.headers.get("x-model-bridge-limit-warning"))
    shown = [w for w in warnings if w]
    assert [w.split("%")[0] for w in shown] == ["50", "80", "100"], warnings
    for _ in range(50):
        rows = await pool.fetch(
            "SELECT changes FROM audit_log WHERE action = 'budget.threshold' ORDER BY id"
        )
        if len(rows) >= 3 and len(received) >= 3:
            break
        await asyncio.sleep(0.1)
    thresholds = [r["changes"]["threshold"] for r in rows]
    assert thresholds == [50, 80, 100]
    body, signature = received[0]
    stamp, v1 = (part.split("=", 1)[1] for part in signature.split(","))
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(v1, expected.hexdigest())
    assert orjson.loads(body)["threshold"] == 50
