"""Which buckets a tenant's key is charged against: its own limits, its tenant's, and the
tenant's plan quotas. What is not set is not limited.

They depend only on the key (its `KeyInfo` carries its tenant's limits too) and on the plan,
which comes from config and does not change at runtime, so they are built once per key, not
per request. A key that changes, or whose tenant does, is a new `KeyInfo`: the key cache
replaces entries and never edits one. So the object a set was built from tells whether the
set is still current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.auth.key_info import KeyInfo
from gateway.config import PlanConfig
from gateway.limits.buckets import Bucket, Family, Period

_ADJECTIVE = {"day": "daily", "month": "monthly"}
_CALENDAR: tuple[Period, ...] = ("day", "month")
_NO_PLAN = PlanConfig()


@dataclass(frozen=True, slots=True)
class KeyLimits:
    buckets: tuple[Bucket, ...]
    # Whether a request must estimate its tokens: only for keys with token or budget
    # buckets (the budget's estimated cost is priced from them).
    counts_tokens: bool
    # Whether a request must estimate its cost: only for keys with a budget.
    counts_cost: bool


def limits_for(key: KeyInfo, plan: PlanConfig | None) -> KeyLimits:
    buckets = buckets_for(key, plan or _NO_PLAN)
    families = {bucket.family for bucket in buckets}
    counts_cost = "budget" in families
    return KeyLimits(buckets, counts_cost or "tokens" in families, counts_cost)


def buckets_for(key: KeyInfo, plan: PlanConfig) -> tuple[Bucket, ...]:
    tag = "{t:" + key.tenant_id + "}"  # one hash slot per tenant: one atomic script
    mine, tenant = f"mb:{tag}:k:{key.key_id}", f"mb:{tag}:t"
    limits = key.tenant_limits
    wanted: tuple[tuple[str, Family, Period, float | None, str], ...] = (
        (f"{mine}:rpm", "requests", "minute", key.rpm, "requests per minute for this key"),
        (f"{mine}:tpm", "tokens", "minute", key.tpm, "tokens per minute for this key"),
        (
            f"{mine}:par",
            "concurrency",
            "inflight",
            key.max_parallel,
            "concurrent requests for this key",
        ),
        (
            f"{tenant}:rpm",
            "requests",
            "minute",
            limits.rpm or plan.rpm,
            "requests per minute for this organization",
        ),
        (
            f"{tenant}:tpm",
            "tokens",
            "minute",
            limits.tpm or plan.tpm,
            "tokens per minute for this organization",
        ),
        (
            f"{tenant}:par",
            "concurrency",
            "inflight",
            limits.max_parallel or plan.max_parallel,
            "concurrent requests for this organization",
        ),
        (
            f"{tenant}:mreq",
            "requests",
            "month",
            plan.monthly_requests,
            "monthly request quota of this organization's plan",
        ),
        (
            f"{tenant}:mtok",
            "tokens",
            "month",
            plan.monthly_tokens,
            "monthly token quota of this organization's plan",
        ),
    )
    buckets = [
        Bucket(name, family, period, float(limit), label)
        for name, family, period, limit, label in wanted
        if limit is not None
    ]
    budgets = (
        (mine, key.budget_usd, key.budget_period, "this key"),
        (tenant, limits.budget_usd, limits.budget_period, "this organization"),
    )
    for owner, amount, period, label in budgets:
        for calendar in _CALENDAR:  # narrows the stored text to a Period
            if amount is not None and period == calendar:
                buckets.append(
                    Bucket(
                        f"{owner}:usd",
                        "budget",
                        calendar,
                        float(amount),
                        f"{_ADJECTIVE[calendar]} budget of {label}",
                    )
                )
    return tuple(buckets)


class LimitsByKey:
    """Each key's limits, built at its first request and kept while its `KeyInfo` is the
    current one."""

    def __init__(self, plans: Mapping[str, PlanConfig], max_keys: int = 100_000) -> None:
        self._plans = plans
        self._max_keys = max_keys
        self._built: dict[str, tuple[KeyInfo, KeyLimits]] = {}

    def get(self, key: KeyInfo) -> KeyLimits:
        built = self._built.get(key.key_id)
        if built is not None and built[0] is key:
            return built[1]
        if len(self._built) >= self._max_keys:
            self._built.clear()  # crude but bounded, as the key cache is; keys rebuild cheaply
        limits = limits_for(key, self._plans.get(key.plan))
        self._built[key.key_id] = (key, limits)
        return limits
