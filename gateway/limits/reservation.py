"""What a request reserves before it runs, per bucket family: one request, one concurrency
slot, its tokens (the prompt, estimated, plus the most output it may produce) and its cost
at the dearest deployment it may reach (a budget's reservation must not be short). The
rate-limit stage settles each to the real usage afterwards.

Only what the key's buckets count is estimated: most keys have no budget, and a key with
request limits only needs no estimate at all.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from gateway.adapters.base import Json, Operation
from gateway.context import Principal
from gateway.limits.buckets import Amounts, Family
from gateway.limits.plan import KeyLimits
from gateway.metering.cost import cost_usd
from gateway.metering.tokens import estimate, prompt_text
from gateway.payload import MODES
from gateway.routing.planner import reachable
from gateway.routing.schema import Price
from gateway.routing.table import RoutingHolder, RoutingTable

_COUNTS_ONLY: Amounts = MappingProxyType({"requests": 1, "concurrency": 1})


class Reservations:
    def __init__(self, holder: RoutingHolder, default_max_tokens: int) -> None:
        self._prices = ReachablePrices(holder)
        self._default_max_tokens = default_max_tokens

    def amounts(
        self, limits: KeyLimits, payload: Json, operation: Operation, principal: Principal
    ) -> Amounts:
        if not limits.counts_tokens:
            return _COUNTS_ONLY
        prompt = estimate(prompt_text(payload))
        output = payload.get("max_completion_tokens") or payload.get("max_tokens")
        output = output if isinstance(output, int) else self._default_max_tokens
        if operation == "embeddings":
            output = 0
        amounts: dict[Family, float] = {"requests": 1, "concurrency": 1, "tokens": prompt + output}
        if limits.counts_cost:
            prices = self._prices.of(payload.get("model"), MODES[operation], principal)
            amounts["budget"] = float(_dearest(prices, prompt, output))
        return amounts


def _dearest(prices: tuple[Price, ...], prompt: int, output: int) -> Decimal:
    """An unknown model reaches no price and costs nothing here; routing refuses it."""
    return max((cost_usd(price, prompt, output) for price in prices), default=Decimal(0))


class ReachablePrices:
    """The distinct prices of every deployment a request may reach (by an alias, a policy
    alias, an A/B split), found once per model and routing snapshot rather than per request.
    Remembered only for names the file knows, so at most models x modes x distinct lists of
    allowed models; an unknown name reaches nothing (routing refuses it) and is not kept."""

    def __init__(self, holder: RoutingHolder) -> None:
        self._holder = holder
        self._known: dict[tuple[str, str, frozenset[str] | None], tuple[Price, ...]] = {}
        holder.follow(self._forget)

    def of(self, model: object, mode: str, principal: Principal) -> tuple[Price, ...]:
        if not isinstance(model, str):
            return ()
        # What a caller may reach depends on it only through the models it may use.
        allowed = principal.key.allowed_models if principal.key is not None else None
        memo_key = (model, mode, allowed)
        prices = self._known.get(memo_key)
        if prices is None:
            groups = reachable(self._holder.table, model, mode, principal)
            prices = tuple(dict.fromkeys(d.price for g in groups for d in g.deployments))
            if prices:
                self._known[memo_key] = prices
        return prices

    def _forget(self, _table: RoutingTable) -> None:
        self._known.clear()
