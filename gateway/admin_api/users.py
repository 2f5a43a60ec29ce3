"""Users, platform-wide: platform administrators only."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import platform_admin
from gateway.admin_api.responses import Body, ok, page, pagination, parse
from gateway.appkeys import POOL
from gateway.management import users as manage
from gateway.store import users


class NewUser(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str | None = None
    is_platform_admin: bool = False


async def list_users(request: web.Request) -> web.Response:
    platform_admin(request)
    limit, offset = pagination(request)
    return page(await users.list_all(request.config_dict[POOL], limit + 1, offset), limit, offset)


async def create_user(request: web.Request) -> web.Response:
    principal = platform_admin(request)
    body = await parse(request, NewUser)
    user = await manage.create(
        request.config_dict[POOL],
        principal.actor,
        body.email,
        body.password,
        body.is_platform_admin,
    )
    return ok(user, status=201)
