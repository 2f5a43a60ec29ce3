"""From the model a client asked for to the plan failover will walk.

Resolves explicit aliases and the built-in policy aliases (`fastest`, `cheapest`, `best`,
`balanced`, chosen among the models the key may use), applies an A/B split, and lists the
fallback groups and the tags the caller is pinned to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import NamedTuple

from gateway.context import Principal
from gateway.errors import InvalidRequest, ModelNotFound, PermissionDenied
from gateway.routing.health import HealthBoard
from gateway.routing.schema import POLICY_ALIASES, RouterConfig
from gateway.routing.table import ModelGroup, RoutingTable


class Plan(NamedTuple):
    """One per request: a named tuple, built positionally, costs a fraction of a frozen
    dataclass (which sets each field through `object.__setattr__`)."""

    groups: tuple[ModelGroup, ...]  # the chosen group, then its fallbacks, in order
    context_fallbacks: tuple[ModelGroup, ...]
    pins: Mapping[str, str]
    variant: str | None
    router: RouterConfig


def plan_for(
    table: RoutingTable,
    requested: str,
    mode: str,
    principal: Principal | None,
    board: HealthBoard,
) -> Plan:
    """Plans without a random split or a policy alias depend only on the requested model and
    on what the caller may use and reach, so they are memoised on the (immutable) table."""
    key = principal.key if principal is not None else None
    memo_key = (
        requested,
        mode,
        key.allowed_models if key else None,
        key.tenant_slug if key else None,
        tuple(sorted(key.pinned_tags.items())) if key and key.pinned_tags else None,
    )
    plan = table.plans.get(memo_key)
    if plan is None:
        plan = _plan(table, requested, mode, principal, board)
        if plan.variant is None and requested not in POLICY_ALIASES:
            table.plans[memo_key] = plan
    return plan


def _plan(
    table: RoutingTable,
    requested: str,
    mode: str,
    principal: Principal | None,
    board: HealthBoard,
) -> Plan:
    allowed = _allowed(principal)
    if _is_policy(table, requested):
        candidates = _policy_candidates(table, mode, allowed)
        if not candidates:
            raise ModelNotFound(f"No model is available for `{requested}`.", param="model")
        group = _policy(candidates, requested, board)
    else:
        group = table.resolve(requested)
    if not allowed(group.name):
        raise PermissionDenied(
            f"This key may not use the model `{group.name}`.",
            param="model",
            code="model_not_allowed",
        )
    variant = None
    split = group.config.split
    if split is not None:
        if random.random() < split.share:
            group, variant = table.groups[split.model], split.model
        else:
            variant = "control"
    config = group.config
    groups = table.groups
    fallbacks = config.fallbacks
    context_fallbacks = config.context_window_fallbacks
    return Plan(
        (group, *(groups[n] for n in fallbacks if allowed(n))) if fallbacks else (group,),
        tuple(groups[n] for n in context_fallbacks if allowed(n)) if context_fallbacks else (),
        _pins(table, principal),
        variant,
        table.config.router,
    )


def reachable(
    table: RoutingTable, requested: str, mode: str, principal: Principal | None
) -> list[ModelGroup]:
    """Every group the plan for `requested` may start with, however the A/B split and the
    latency-based aliases (decided only when routing, by the latencies measured by then)
    turn out; empty for an unknown name. What a budget reservation must cover."""
    if _is_policy(table, requested):
        candidates = _policy_candidates(table, mode, _allowed(principal))
        fixed = _fixed_choice(candidates, requested) if candidates else None
        groups = [fixed] if fixed is not None else candidates
    else:
        found = table.find(requested)
        groups = [found] if found is not None else []
    return groups + [table.groups[g.config.split.model] for g in groups if g.config.split]


def _allowed(principal: Principal | None) -> Callable[[str], bool]:
    return principal.may_use if principal is not None else (lambda _name: True)


def _is_policy(table: RoutingTable, requested: str) -> bool:
    return requested in POLICY_ALIASES and requested not in table.groups


def _policy_candidates(
    table: RoutingTable, mode: str, allowed: Callable[[str], bool]
) -> list[ModelGroup]:
    return [g for g in table.groups.values() if g.mode == mode and allowed(g.name)]


def _policy(candidates: list[ModelGroup], policy: str, board: HealthBoard) -> ModelGroup:
    fixed = _fixed_choice(candidates, policy)
    if fixed is not None:
        return fixed

    def latency(g: ModelGroup) -> float:
        known = [h.latency for d in g.deployments if (h := board.get(d.id)).latency is not None]
        return min(known) if known else float("inf")

    if policy == "fastest":
        return min(candidates, key=latency)
    return max(candidates, key=lambda g: _balanced(g, candidates, latency))


def _fixed_choice(candidates: list[ModelGroup], policy: str) -> ModelGroup | None:
    """The choice of a policy that depends only on the file (prices, quality)."""
    if policy == "cheapest":
        return min(candidates, key=_cost)
    if policy == "best":
        return max(candidates, key=_quality)
    return None


def _cost(group: ModelGroup) -> float:
    return float(min(d.price.input + d.price.output for d in group.deployments))


def _quality(group: ModelGroup) -> float:
    return max((d.quality or 0.0) for d in group.deployments)


def _balanced(
    group: ModelGroup,
    candidates: list[ModelGroup],
    latency: Callable[[ModelGroup], float],
) -> float:
    """Quality, less cost and latency, each as a share of the largest among candidates."""

    def share(measure: Callable[[ModelGroup], float]) -> float:
        values = [measure(g) for g in candidates if measure(g) != float("inf")]
        top = max(values, default=0.0)
        value = measure(group)
        return 1.0 if value == float("inf") else (value / top if top else 0.0)

    return share(_quality) - share(_cost) - share(latency)


def _pins(table: RoutingTable, principal: Principal | None) -> dict[str, str]:
    """The tenant's pins from routing.yaml, narrowed by the key's own. A key cannot widen
    them: where the two disagree no deployment may serve it, and the request is refused."""
    key = principal.key if principal is not None else None
    if key is None:
        return {}
    tenant = table.config.tenant_tags.get(key.tenant_slug, {})
    conflicts = {t: v for t, v in key.pinned_tags.items() if tenant.get(t, v) != v}
    if conflicts:
        raise InvalidRequest(
            f"This key is pinned to {describe_pins(conflicts)}, but its tenant only reaches "
            f"{describe_pins({t: tenant[t] for t in conflicts})}: no deployment may serve it.",
            param="model",
            code="no_deployment_in_region",
        )
    return {**tenant, **key.pinned_tags}


def describe_pins(pins: Mapping[str, str]) -> str:
    """`region=eu, tier=gold`: pins as a client reads them in an error message."""
    return ", ".join(f"{tag}={value}" for tag, value in sorted(pins.items()))
