"""How each console page module declares itself: its routes, and its links in the menu.

`create_admin_ui` finds every module of `gateway.admin_ui.views` and registers what it
declares in `ROUTES` and `LINKS`, so adding a page is adding a module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.roles import Action


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # under /admin
    handler: Handler
    public: bool = False  # opens without a signed-in session (sign-in, SSO, static)
    csrf_exempt: bool = False  # proves its origin otherwise (a signed SAML assertion)


@dataclass(frozen=True, slots=True)
class Link:
    """A menu entry. Tenant links (paths with {tenant}) show under the tenant being viewed,
    to those whose role there allows `action`; platform links to platform admins only.
    Showing a link is a courtesy: the page itself checks access."""

    label: str
    path: str
    scope: Literal["tenant", "platform"]
    order: int
    action: Action | None = None


LINKS = web.AppKey("console_links", tuple[Link, ...])
