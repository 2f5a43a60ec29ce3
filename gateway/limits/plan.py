"""Which buckets a tenant's key is charged against: its own limits, its tenant's, and the
tenant's plan quotas. What is not set is not limited."""

from __future__ import annotations

from decimal import Decimal

from gateway.auth.key_info import KeyInfo
from gateway.config import PlanConfig
from gateway.limits.buckets import Bucket, Family, Period

_ADJECTIVE = {"day": "daily", "month": "monthly"}
_CALENDAR: tuple[Period, ...] = ("day", "month")
_NO_PLAN = PlanConfig()


def buckets_for(key: KeyInfo, plan: PlanConfig | None, tokens: int, cost: Decimal) -> list[Bucket]:
    tag = "{t:" + key.tenant_id + "}"  # one hash slot per tenant: one atomic script
    mine, tenant = f"mb:{tag}:k:{key.key_id}", f"mb:{tag}:t"
    limits = key.tenant_limits
    plan = plan or _NO_PLAN
    # Every request checks all of these; names and labels are only made for those set.
    wanted: tuple[tuple[str, str, Family, Period, float | None, float, str], ...] = (
        (mine, ":rpm", "requests", "minute", key.rpm, 1, "requests per minute for this key"),
        (mine, ":tpm", "tokens", "minute", key.tpm, tokens, "tokens per minute for this key"),
        (
            mine,
            ":par",
            "concurrency",
            "inflight",
            key.max_parallel,
            1,
            "concurrent requests for this key",
        ),
        (
            tenant,
            ":rpm",
            "requests",
            "minute",
            limits.rpm or plan.rpm,
            1,
            "requests per minute for this organization",
        ),
        (
            tenant,
            ":tpm",
            "tokens",
            "minute",
            limits.tpm or plan.tpm,
            tokens,
            "tokens per minute for this organization",
        ),
        (
            tenant,
            ":par",
            "concurrency",
            "inflight",
            limits.max_parallel or plan.max_parallel,
            1,
            "concurrent requests for this organization",
        ),
        (
            tenant,
            ":mreq",
            "requests",
            "month",
            plan.monthly_requests,
            1,
            "monthly request quota of this organization's plan",
        ),
        (
            tenant,
            ":mtok",
            "tokens",
            "month",
            plan.monthly_tokens,
            tokens,
            "monthly token quota of this organization's plan",
        ),
    )
    buckets = [
        Bucket(owner + suffix, family, period, float(limit), cost_, label)
        for owner, suffix, family, period, limit, cost_, label in wanted
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
                        float(cost),
                        f"{_ADJECTIVE[calendar]} budget of {label}",
                    )
                )
    return buckets
