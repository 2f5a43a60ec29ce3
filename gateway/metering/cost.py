"""Cost in exact decimal arithmetic: prices are USD per million tokens, never floats."""

from __future__ import annotations

from decimal import Decimal

from gateway.routing.schema import Price

_MILLION = Decimal(1_000_000)


def cost_usd(price: Price, prompt: int, completion: int, cached: int = 0) -> Decimal:
    """Cached prompt tokens are billed at `cached_input` when the price has one."""
    cached = min(cached, prompt) if price.cached_input is not None else 0
    billed = (
        (prompt - cached) * price.input
        + cached * (price.cached_input or Decimal(0))
        + completion * price.output
    )
    return billed / _MILLION
