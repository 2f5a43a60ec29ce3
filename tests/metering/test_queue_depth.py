"""The queue-depth gauge is read when scraped, so it is exact without per-record work."""

from __future__ import annotations

from pathlib import Path

from gateway.metering.record import UsageRecord
from gateway.metering.writer import UsageWriter
from gateway.metrics import Metrics


def _no_database() -> None:
    raise OSError("no database in this test: the records stay in the journal")


async def test_queue_depth_is_the_queue_at_scrape_time(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = UsageWriter(_no_database, tmp_path, metrics)
    try:
        for i in range(3):
            writer.submit(UsageRecord(request_id=f"r{i}", at=0.0))
        depth = metrics.registry.get_sample_value("model_bridge_usage_queue_depth")
    finally:
        await writer.close(deadline=0.01)
    assert depth == 3
