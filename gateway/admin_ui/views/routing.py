"""The routing page: the models the gateway serves, how each deployment is doing, the last
reload, and a reload on demand. Platform administrators only.

The state is the admin API's `describe`, which already leaves out provider keys and upstream
addresses; this page only lays it out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.admin_api.access import platform_admin
from gateway.admin_api.routing import describe
from gateway.admin_ui import sessions
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.sessions import redirect
from gateway.appkeys import RELOADER

PAGE = "/admin/routing"


async def routing_page(request: web.Request) -> web.Response:
    platform_admin(request)
    flash = await sessions.take_flash(request) or {}
    state = describe(request)
    return await render(
        request,
        "routing_state.html",
        state=state,
        loaded_at=_when(state["loaded_at"]),
        last_reload_at=_when(state["last_reload"]["at"]),
        reloaded=flash.get("reload"),
    )


async def reload_routing(request: web.Request) -> web.StreamResponse:
    """Reloads now and shows this reload's own result after the redirect: a reload refused
    before it starts (no routing file) is not the reloader's `last`."""
    platform_admin(request)
    result = await request.config_dict[RELOADER].reload()
    await sessions.put_flash(
        request, {"reload": {"ok": result.ok, "error": result.error, "at": _when(result.at)}}
    )
    return redirect(PAGE)


def _when(epoch: float) -> dict[str, Any]:
    moment = datetime.fromtimestamp(epoch, UTC)
    return {"iso": moment.isoformat(timespec="seconds"), "text": f"{moment:%Y-%m-%d %H:%M:%S} UTC"}


ROUTES = (
    Route("GET", "/routing", routing_page),
    Route("POST", "/routing/reload", reload_routing),
)
LINKS = (Link("Routing", PAGE, "platform", order=20),)
