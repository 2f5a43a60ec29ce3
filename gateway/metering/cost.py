"""Cost in exact decimal arithmetic: prices are USD per million tokens, never floats."""

from __future__ import annotations

from decimal import Decimal

from gateway.routing.schema import Price

_MILLION = Decimal(1_000_000)
NO_COST = Decimal(0)


def cost_usd(price: Price, prompt: int, completion: int, cached: int = 0) -> Decimal:
    """Cached prompt tokens are billed at `cached_input` when the price has one."""
    if price.cached_input is None:
        billed = prompt * price.input + completion * price.output
    else:
        cached = min(cached, prompt)
        billed = (
            (prompt - cached) * price.input
            + cached * price.cached_input
            + completion * price.output
        )
    return billed / _MILLION
