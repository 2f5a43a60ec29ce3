"""A usage record survives its journal line exactly, in today's form and in the older one."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import orjson

from gateway.metering.record import UsageRecord
from tests.metering.records import FULL_RECORD as RECORD


def test_a_record_round_trips_through_its_journal_line() -> None:
    line = RECORD.to_json_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert UsageRecord.from_json(line) == RECORD
    assert isinstance(UsageRecord.from_json(line).cost_usd, Decimal)


def test_a_line_written_as_an_object_is_still_read() -> None:
    fields = dataclasses.asdict(RECORD) | {"cost_usd": str(RECORD.cost_usd)}
    assert UsageRecord.from_json(orjson.dumps(fields)) == RECORD
