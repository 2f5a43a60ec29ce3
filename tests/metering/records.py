"""A usage record with every field set, as tests of its journal line and its row use it."""

from __future__ import annotations

from decimal import Decimal

from gateway.metering.record import UsageRecord

FULL_RECORD = UsageRecord(
    "req_1",
    1700000000.25,
    "8d5f3a4e-0000-4000-8000-000000000001",
    "8d5f3a4e-0000-4000-8000-000000000002",
    None,
    "fast",
    "gpt-4o-mini",
    "openai",
    "openai/0",
    "b",
    12,
    7,
    3,
    "provider",
    Decimal("1.23456789E-8"),  # in exponent form, as Decimal arithmetic can leave a cost
    41.5,
    120.25,
    200,
    False,
    2,
    {"team": "search"},
)
