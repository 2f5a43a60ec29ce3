"""`GET /admin/api/usage`: requests, tokens, cost and errors over a time range, grouped by
day, hour, model, provider, deployment, key, user, tag (`group_by=tag:<name>`) or variant.
Read from the hourly rollups, so a month of a busy tenant is a few thousand rows, not
millions. Members read their tenant's usage; platform administrators any or all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from gateway.admin_api.access import ADMIN, tenant_for
from gateway.admin_api.responses import ok
from gateway.appkeys import POOL
from gateway.errors import InvalidRequest, PermissionDenied
from gateway.roles import Action
from gateway.store import usage


async def tenant_usage(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.USAGE_READ)
    return ok(await _report(request, tenant.id))


async def platform_usage(request: web.Request) -> web.Response:
    if not request[ADMIN].platform_admin:
        raise PermissionDenied("only platform administrators may read every tenant's usage")
    return ok(await _report(request, None))


async def _report(request: web.Request, tenant_id: Any) -> dict[str, Any]:
    query = request.query
    until = _time(query.get("until"), "until") or datetime.now(UTC)
    since = _time(query.get("since"), "since") or until - timedelta(days=30)
    dimension, tag = parse_group_by(query.get("group_by", "day"))
    rows = await usage.report(request.config_dict[POOL], tenant_id, since, until, dimension, tag)
    return {
        "object": "list",
        "group_by": query.get("group_by", "day"),
        "since": since,
        "until": until,
        "data": rows,
    }


def parse_group_by(value: str) -> tuple[str, str | None]:
    dimension, _, tag = value.partition(":")
    if dimension not in usage.DIMENSIONS or (dimension == "tag") != bool(tag):
        allowed = ", ".join(d for d in usage.DIMENSIONS if d != "tag")
        raise InvalidRequest(f"group_by must be one of {allowed}, or tag:<name>", param="group_by")
    return dimension, tag or None


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date or date-time", param=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
