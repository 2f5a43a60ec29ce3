"""`create_admin_ui`: the console sub-application at /admin. Its middlewares run only for
/admin pages, never on /v1; the JSON admin API (/admin/api) is a separate sub-app."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.admin_ui import csrf, errors, sessions, views
from gateway.admin_ui.headers import add_security_headers
from gateway.admin_ui.routing_table import LINKS
from gateway.config import AdminConsoleConfig
from gateway.sso import services as sso

PREFIX = "/admin"
_HERE = Path(__file__).parent


def page_modules() -> list[ModuleType]:
    """Every module of `views`, in name order: each declares its `ROUTES` (and `LINKS`)."""
    return [
        importlib.import_module(f"{views.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(views.__path__), key=lambda i: i.name)
    ]


def create_admin_ui(secret: str, settings: AdminConsoleConfig) -> web.Application:
    ui = web.Application(
        # Outermost first: error pages wrap everything, CSRF needs the session's binding.
        middlewares=[
            errors.make_middleware(),
            # Before the session check: "/admin" as typed is the console's home, "/admin/".
            web.normalize_path_middleware(append_slash=True, remove_slash=False),
            sessions.make_middleware(),
            csrf.make_middleware(),
        ]
    )
    aiohttp_jinja2.setup(
        ui,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    ui[sessions.SIGNER] = sessions.Signer(secret)
    ui[sessions.SETTINGS] = settings
    sso.setup(ui, secret, settings.sso_private_networks)
    public, exempt = set(), set()
    modules = page_modules()
    for page in (route for module in modules for route in module.ROUTES):
        route = ui.router.add_route(page.method, page.path, page.handler)
        if page.public:
            public.add(route)
        if page.csrf_exempt:
            exempt.add(route)
    public.update(
        ui.router.add_static("/static", _HERE / "static", name="static", append_version=True)
    )
    ui[sessions.PUBLIC] = frozenset(public)
    ui[csrf.EXEMPT] = frozenset(exempt)
    links = (link for module in modules for link in getattr(module, "LINKS", ()))
    ui[LINKS] = tuple(sorted(links, key=lambda link: link.order))
    ui.on_response_prepare.append(add_security_headers)
    return ui
