"""The usage report: grouped totals from the rollups, tenant-scoped, through API and CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.metering.record import UsageRecord
from gateway.store import usage
from gateway.store.database import create_pool
from tests.admin_api.world import World, build_world
from tests.conftest import GatewayFactory


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    from gateway.demo import demo_routing

    base_url = await start_gateway(demo_routing().model_dump(mode="json"))
    world = await build_world(base_url, pg_dsn)
    pool = await create_pool(pg_dsn)
    try:
        records = [
            UsageRecord(
                request_id=f"r{i}",
                at=1_790_000_000.0 + i * 3600,
                tenant_id=world.ids[tenant],
                model=model,
                prompt_tokens=10,
                completion_tokens=5,
                status=status,
                cost_usd=Decimal("0.001"),
                tags={"cost_center": center},
            )
            for i, (tenant, model, status, center) in enumerate(
                [
                    ("tenant-a", "gpt-a", 200, "research"),
                    ("tenant-a", "gpt-a", 500, "research"),
                    ("tenant-a", "gpt-b", 200, "sales"),
                    ("tenant-b", "gpt-a", 200, "research"),
                ]
            )
        ]
        await usage.write_batch(pool, records)
    finally:
        await pool.close()
    return world


async def test_tenant_usage_grouped_by_model_and_tag(world: World) -> None:
    window = "since=2026-01-01&until=2027-01-01"
    status, by_model = await world.call(
        "viewer", "GET", f"/tenants/a/usage?group_by=model&{window}"
    )
    assert status == 200
    assert [(r["bucket"], r["requests"], r["errors"]) for r in by_model["data"]] == [
        ("gpt-a", 2, 1),
        ("gpt-b", 1, 0),
    ]
    assert Decimal(str(by_model["data"][0]["cost_usd"])) == Decimal("0.002")
    status, by_tag = await world.call(
        "owner", "GET", f"/tenants/a/usage?group_by=tag:cost_center&{window}"
    )
    assert {r["bucket"]: r["requests"] for r in by_tag["data"]} == {"research": 2, "sales": 1}
    status, everything = await world.call("platform", "GET", f"/usage?group_by=model&{window}")
    assert sum(r["requests"] for r in everything["data"]) == 4


@pytest.mark.parametrize("group_by", ["color", "tag", "tag:", "model:x"])
async def test_bad_group_by_is_named(world: World, group_by: str) -> None:
    status, payload = await world.call("owner", "GET", f"/tenants/a/usage?group_by={group_by}")
    assert status == 400 and payload["error"]["param"] == "group_by"


async def test_other_tenants_usage_is_not_found(world: World) -> None:
    assert (await world.call("owner", "GET", "/tenants/b/usage"))[0] == 404
    assert (await world.call("owner", "GET", "/usage"))[0] == 403


async def test_cli_prints_the_same_report(world: World, pg_dsn: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "usage",
            "--tenant",
            "a",
            "--group-by",
            "model",
            "--since",
            "2026-01-01",
            "--until",
            "2027-01-01",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "MODEL_BRIDGE_DATABASE_URL": pg_dsn},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "REQUESTS", "ERRORS"]
    assert lines[1].split()[:3] == ["gpt-a", "2", "1"]
