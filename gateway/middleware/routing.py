"""Stage 7, routing: passes on, or raises (unknown model 404, model not allowed 403).

Turns the requested model into a `Plan` from the routing snapshot current when the request
arrived; the request keeps that snapshot whatever reloads happen meanwhile.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.context import CTX
from gateway.payload import MODES, read_payload
from gateway.routing.health import HealthBoard
from gateway.routing.planner import plan_for
from gateway.routing.table import RoutingHolder


def make_middleware(holder: RoutingHolder, board: HealthBoard) -> Middleware:
    # The board judges by the breaker settings of the routing in force, from each swap on.
    holder.follow(lambda table: board.configure(table.config.router.breaker))

    @web.middleware
    async def routing(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request[CTX]
        operation = ctx.operation
        if operation is None:
            return await handler(request)
        payload = await read_payload(request, operation)
        plan = plan_for(holder.table, payload["model"], MODES[operation], ctx.principal, board)
        ctx.plan, ctx.model, ctx.variant = plan, plan.groups[0].name, plan.variant
        return await handler(request)

    return routing
