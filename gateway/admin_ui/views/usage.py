"""The usage and cost explorer: a time range grouped by day, hour, model, provider,
deployment, key, user, variant or a tag, as a chart and a table, or as CSV. The same report
as `GET /admin/api/usage`, read from the hourly rollups."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import platform_admin, tenant_for
from gateway.admin_api.usage import parse_group_by
from gateway.admin_ui import charts, forms, usage_rows
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.usage_rows import UsageRow
from gateway.appkeys import POOL
from gateway.errors import InvalidRequest
from gateway.roles import Action
from gateway.store import usage

DEFAULT_DAYS = 30
TIME_DIMENSIONS = ("hour", "day")
CHART_SIZE = (960, 240)  # the page's full width
METRICS = {"cost": "Spend", "requests": "Requests", "tokens": "Tokens"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Explore(forms.Form):
    since: date | None = None
    until: date | None = None  # inclusive: the whole day
    group_by: str = Field("day", max_length=200)
    tag: str | None = Field(None, max_length=100)
    metric: Literal["cost", "requests", "tokens"] = "cost"
    format: Literal["html", "csv"] = "html"


async def tenant_usage(request: web.Request) -> web.StreamResponse:
    tenant, _ = await tenant_for(request, Action.USAGE_READ)
    return await _explore(request, tenant.id, tenant.slug, f"/admin/t/{tenant.slug}/usage")


async def platform_usage(request: web.Request) -> web.StreamResponse:
    platform_admin(request)
    return await _explore(request, None, "platform", "/admin/usage")


async def _explore(
    request: web.Request, tenant_id: UUID | None, scope: str, here: str
) -> web.StreamResponse:
    today = datetime.now(UTC).date()
    page: dict[str, Any] = {
        "here": here,
        "scope": scope,
        "dimensions": usage.DIMENSIONS,
        "metrics": METRICS,
        "values": {"since": today - timedelta(days=DEFAULT_DAYS - 1), "until": today}
        | dict(request.query),
        **charts.formats(),
    }
    try:
        query = forms.read_query(request, Explore)
        dimension, tag = _grouping(query)
    except forms.FormErrors as exc:
        errors = {("" if name == "format" else name): text for name, text in exc.errors.items()}
        return await render(request, "usage_report.html", 400, errors=errors, **page)
    until = query.until or today
    since = query.since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        errors = {"since": "The range must start on or before its last day."}
        return await render(request, "usage_report.html", 400, errors=errors, **page)
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    rows = await usage_rows.load(request.config_dict[POOL], tenant_id, start, end, dimension, tag)
    if dimension in TIME_DIMENSIONS:
        timeline = usage_rows.timeline(rows, start, end, dimension)
        label = "%m-%d %H:00" if dimension == "hour" else "%Y-%m-%d"
        points = [(at.strftime(label), row) for at, row in timeline]
    else:
        rows = usage_rows.by_spend(rows)
        points = [(row.label, row) for row in rows]
    if query.format == "csv":
        return _csv(rows, query.group_by if tag is None else f"tag:{tag}", scope, since, until)
    chosen = {"since": since, "until": until, "group_by": dimension, "tag": tag or ""}
    page["values"] = chosen | {"metric": query.metric}
    return await render(
        request,
        "usage_report.html",
        errors={},
        rows=rows,
        total=usage_rows.total(rows),
        dimension=dimension,
        chart=_chart(points, query.metric),
        csv_link=f"{here}?{urlencode(chosen | {'format': 'csv'})}",
        **page,
    )


def _grouping(query: Explore) -> tuple[str, str | None]:
    """The dimension and tag, checked as the JSON API checks them."""
    if query.group_by == "tag" and not query.tag:
        raise forms.FormErrors({"tag": "Name the tag to group by, e.g. cost_center."}, {})
    spec = f"tag:{query.tag}" if query.group_by == "tag" else query.group_by
    try:
        return parse_group_by(spec)
    except InvalidRequest as exc:
        raise forms.FormErrors({exc.param or "group_by": exc.message}, {}) from None


def _chart(points: list[tuple[str, UsageRow | None]], metric: str) -> charts.BarChart:
    """The chosen figure per group; `None` rows are hours or days without requests."""
    if metric == "cost":
        values = [(label, float(row.cost_usd) if row else 0.0) for label, row in points]
        return charts.bar_chart(METRICS[metric], values, charts.usd, *CHART_SIZE)
    counts = [
        (label, (row.requests if metric == "requests" else row.tokens) if row else 0)
        for label, row in points
    ]
    return charts.bar_chart(METRICS[metric], counts, charts.count, *CHART_SIZE)


def _csv(rows: list[UsageRow], group: str, scope: str, since: date, until: date) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _cell(group),
            "name",
            "requests",
            "errors",
            "cache_hits",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "mean_latency_ms",
        ]
    )
    for row in rows:
        latency = "" if row.mean_latency_ms is None else f"{row.mean_latency_ms:.1f}"
        writer.writerow(
            [
                _cell(row.bucket),
                _cell(row.label),
                row.requests,
                row.errors,
                row.cache_hits,
                row.prompt_tokens,
                row.completion_tokens,
                row.cost_usd,
                latency,
            ]
        )
    filename = f"usage-{scope}-{since}-{until}.csv"  # a slug and dates: nothing to escape
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(text: str) -> str:
    """Spreadsheets run a cell that starts like a formula: a model or tag name must not."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


ROUTES = (
    Route("GET", "/t/{tenant}/usage", tenant_usage),
    Route("GET", "/usage", platform_usage),
)
LINKS = (
    Link("Usage & cost", "/admin/t/{tenant}/usage", "tenant", order=10, action=Action.USAGE_READ),
    Link("Usage & cost", "/admin/usage", "platform", order=10),
)
