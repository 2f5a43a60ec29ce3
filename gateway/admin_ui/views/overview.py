"""Overview: a tenant's traffic (or, for platform administrators, the whole platform's) over
the last day, week or month: requests, tokens, spend, error and cache hit rates, latency
percentiles, charts per hour or day, and the top models, keys and cost centres."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from gateway.admin_api.access import platform_admin, tenant_for
from gateway.admin_ui import charts, usage_rows
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.usage_rows import UsageRow
from gateway.appkeys import POOL
from gateway.errors import InvalidRequest
from gateway.roles import Action
from gateway.store import usage

COST_CENTRE_TAG = "cost_center"
TOP = 5


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    title: str
    unit: str  # the report dimension of one bucket: "hour" or "day"
    buckets: int

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.unit == "hour" else timedelta(days=1)

    def starts(self, now: datetime) -> list[datetime]:
        """Each bucket's start, the current (partial) hour or day last."""
        if self.unit == "hour":
            last = now.replace(minute=0, second=0, microsecond=0)
        else:
            last = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return [last - self.step * (self.buckets - 1 - i) for i in range(self.buckets)]

    def axis_label(self, start: datetime) -> str:
        return start.strftime("%H:00" if self.unit == "hour" else "%b %d")


PERIODS = {
    p.name: p
    for p in (
        Period("24h", "Last 24 hours", "hour", 24),
        Period("7d", "Last 7 days", "day", 7),
        Period("30d", "Last 30 days", "day", 30),
    )
}


async def tenant_overview(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.USAGE_READ)
    return await _overview(
        request, tenant.id, tenant.name, f"/admin/t/{tenant.slug}/", f"/admin/t/{tenant.slug}"
    )


async def platform_overview(request: web.Request) -> web.Response:
    platform_admin(request)
    return await _overview(request, None, "Whole platform", "/admin/overview", "/admin")


async def _overview(
    request: web.Request, tenant_id: UUID | None, scope: str, here: str, base: str
) -> web.Response:
    name = request.query.get("period", "24h")
    period = PERIODS.get(name)
    if period is None:
        raise InvalidRequest(f"period must be one of {', '.join(PERIODS)}", param="period")
    starts = period.starts(datetime.now(UTC))
    since, until = starts[0], starts[-1] + period.step
    pool = request.config_dict[POOL]
    series, models, keys, cost_centres, (p50, p95) = await asyncio.gather(
        usage_rows.load(pool, tenant_id, since, until, period.unit),
        usage_rows.load(pool, tenant_id, since, until, "model"),
        usage_rows.load(pool, tenant_id, since, until, "key"),
        usage_rows.load(pool, tenant_id, since, until, "tag", COST_CENTRE_TAG),
        usage.latency_percentiles(pool, tenant_id, since, until),
    )
    explore = f"{base}/usage?since={since.date()}&until={(until - timedelta(seconds=1)).date()}"
    return await render(
        request,
        "overview.html",
        scope=scope,
        here=here,
        periods=PERIODS.values(),
        period=period,
        totals=usage_rows.total(series),
        p50=p50,
        p95=p95,
        charts=_charts(period, usage_rows.timeline(series, since, until, period.unit)),
        tops=[
            ("Top models", "Model", usage_rows.by_spend(models)[:TOP], f"{explore}&group_by=model"),
            ("Top keys", "Key", usage_rows.by_spend(keys)[:TOP], f"{explore}&group_by=key"),
            (
                "Top cost centres",
                "Cost centre",
                usage_rows.by_spend(cost_centres)[:TOP],
                f"{explore}&group_by=tag&tag={COST_CENTRE_TAG}",
            ),
        ],
        **charts.formats(),
    )


def _charts(period: Period, timeline: list[tuple[datetime, UsageRow | None]]) -> list[Any]:
    """Requests, tokens and spend per hour or day."""
    rows = [(period.axis_label(start), row) for start, row in timeline]
    return [
        charts.bar_chart(
            "Requests", [(label, row.requests if row else 0) for label, row in rows], charts.count
        ),
        charts.bar_chart(
            "Tokens", [(label, row.tokens if row else 0) for label, row in rows], charts.count
        ),
        charts.bar_chart(
            "Spend",
            [(label, float(row.cost_usd) if row else 0.0) for label, row in rows],
            charts.usd,
        ),
    ]


ROUTES = (
    Route("GET", "/t/{tenant}/", tenant_overview),
    Route("GET", "/overview", platform_overview),
)
LINKS = (
    Link("Overview", "/admin/t/{tenant}/", "tenant", order=0, action=Action.USAGE_READ),
    Link("Overview", "/admin/overview", "platform", order=0),
)
