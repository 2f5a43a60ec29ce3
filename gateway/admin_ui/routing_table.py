"""How each console page module declares its routes: one row per URL and method."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.typedefs import Handler


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # under /admin
    handler: Handler
    public: bool = False  # opens without a signed-in session (sign-in, SSO, static)
    csrf_exempt: bool = False  # proves its origin otherwise (a signed SAML assertion)
