"""The routing state for operators: models, deployments (never keys or addresses), breaker
state, latency, the last reload; and a reload on demand. Platform administrators only."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from gateway.admin_api.access import platform_admin
from gateway.admin_api.responses import ok
from gateway.appkeys import HEALTH, RELOADER, ROUTING


async def routing_state(request: web.Request) -> web.Response:
    platform_admin(request)
    return ok(describe(request))


async def reload_routing(request: web.Request) -> web.Response:
    platform_admin(request)
    result = await request.config_dict[RELOADER].reload()
    return ok({"ok": result.ok, "error": result.error}, status=200 if result.ok else 400)


def describe(request: web.Request) -> dict[str, Any]:
    table = request.config_dict[ROUTING].table
    board = request.config_dict[HEALTH]
    last = request.config_dict[RELOADER].last
    now = time.monotonic()
    models = []
    for group in table.groups.values():
        deployments = []
        for d in group.deployments:
            health = board.get(d.id)
            deployments.append(
                {
                    "id": d.id,
                    "provider": d.provider,
                    "model": d.target.model,
                    "weight": d.weight,
                    "tags": d.tags,
                    "price": d.price.model_dump(mode="json"),  # exact decimals, as text
                    "state": health.state,
                    "in_flight": health.in_flight,
                    "latency_ms": round(health.latency * 1000, 1) if health.latency else None,
                    "recent_errors": health.failed.total(now),
                    "recent_requests": health.judged.total(now),
                }
            )
        models.append(
            {
                "name": group.name,
                "mode": group.mode,
                "strategy": group.config.strategy,
                "fallbacks": group.config.fallbacks,
                "deployments": deployments,
            }
        )
    return {
        "loaded_at": table.loaded_at,
        "aliases": table.config.aliases,
        "models": models,
        "last_reload": {"at": last.at, "ok": last.ok, "error": last.error},
    }
