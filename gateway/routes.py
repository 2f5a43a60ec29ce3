"""The route table, and the small handlers that are not the proxy."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway import proxy
from gateway.appkeys import METRICS, ROUTING, TRANSPORTS
from gateway.context import CTX
from gateway.errors import ModelNotFound
from gateway.payload import OPERATIONS
from gateway.routing.table import ModelGroup


def add_routes(app: web.Application) -> None:
    transports, metrics = app[TRANSPORTS], app[METRICS]
    for path, operation in OPERATIONS.items():
        app.router.add_post(path, proxy.handler(operation, transports, metrics))
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", scrape)


def _json(data: object) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _model_object(group: ModelGroup) -> dict[str, object]:
    return {
        "id": group.name,
        "object": "model",
        "created": group.created,
        "owned_by": group.owned_by,
    }


async def list_models(request: web.Request) -> web.Response:
    """Only what the caller's key may use."""
    principal = request[CTX].principal
    groups = request.config_dict[ROUTING].table.groups.values()
    visible = [g for g in groups if principal is None or principal.may_use(g.name)]
    return _json({"object": "list", "data": [_model_object(g) for g in visible]})


async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["model"]
    principal = request[CTX].principal
    group = request.config_dict[ROUTING].table.groups.get(name)
    if group is None or (principal is not None and not principal.may_use(name)):
        raise ModelNotFound(f"The model `{name}` does not exist.", param="model")
    return _json(_model_object(group))


async def live(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    return _json({"status": "ready"})


async def scrape(request: web.Request) -> web.Response:
    return await request.config_dict[METRICS].handle_scrape(request)
