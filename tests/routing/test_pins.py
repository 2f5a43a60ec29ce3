"""Data residency: a tenant's pins (`tenant_tags` in routing.yaml) and a key's own, which
only narrow them, keep requests on the deployments carrying the pinned tags."""

from __future__ import annotations

from typing import Any

import asyncpg
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    StartUpstream,
    bounded,
    chat,
    group,
    providers,
    sdk,
    served_by,
    tenant_key,
)

EU, US = {"tags": {"region": "eu"}}, {"tags": {"region": "us"}}


def regional(fakes: dict[str, Any], tenant_tags: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": fakes,
        "models": {
            "both": group("eu", "us", eu=EU, us=US),
            "us-only": group("us", us=US),
            "us-then-eu": group("us", us=US, fallbacks=["eu-only"]),
            "eu-only": group("eu", eu=EU),
        },
        "tenant_tags": tenant_tags,
    }


@pytest.mark.parametrize("pinned_by", ["tenant", "key"])
async def test_a_pinned_caller_stays_in_its_region(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    pool: asyncpg.Pool,
    pinned_by: str,
) -> None:
    eu, us = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, eu=eu, us=us)
    tenant_tags = {"acme": {"region": "eu"}} if pinned_by == "tenant" else {}
    base = await start_gateway(regional(fakes, tenant_tags))
    key_pins = {"pinned_tags": {"region": "eu"}} if pinned_by == "key" else {}
    pinned_key = await tenant_key(pool, "acme", **key_pins)
    other_key = await tenant_key(pool, "globex")
    async with sdk(base, pinned_key) as pinned, sdk(base, other_key) as unpinned:
        results = await bounded(30, 5, lambda _: chat(pinned, "both"))
        assert {served_by(headers) for headers, _ in results} == {"both:eu:m"}
        assert (len(eu.requests), us.requests) == (30, [])
        with pytest.raises(openai.BadRequestError) as refused:
            await chat(pinned, "us-only")
        # A group with nothing in the region moves on to its fallbacks, not to the US.
        headers, _ = await chat(pinned, "us-then-eu")
        assert served_by(headers) == "eu-only:eu:m"
        assert us.requests == []
        # Not vacuous: another tenant's key does reach the US deployment.
        headers, _ = await chat(unpinned, "us-only")
        assert served_by(headers) == "us-only:us:m"
    assert refused.value.code == "no_deployment_in_region"
    assert refused.value.body["message"] == (  # type: ignore[index]
        "No deployment of `us-only` is allowed for this tenant (pinned to region=eu)."
    )


@pytest.mark.parametrize(
    ("key_region", "refusal"),
    [
        (
            "us",
            "This key is pinned to region=us, but its tenant only reaches region=eu: "
            "no deployment may serve it.",
        ),
        ("eu", None),
    ],
    ids=["contradicting", "agreeing"],
)
async def test_a_key_pin_cannot_widen_its_tenants(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    pool: asyncpg.Pool,
    key_region: str,
    refusal: str | None,
) -> None:
    eu, us = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, eu=eu, us=us)
    base = await start_gateway(regional(fakes, {"acme": {"region": "eu"}}))
    key = await tenant_key(pool, "acme", pinned_tags={"region": key_region})
    async with sdk(base, key) as client:
        if refusal is None:
            headers, _ = await chat(client, "both")
            assert served_by(headers) == "both:eu:m"
        else:
            with pytest.raises(openai.BadRequestError) as refused:
                await chat(client, "both")
            assert refused.value.body == {  # OpenAI's shape, in words a person reads
                "message": refusal,
                "type": "invalid_request_error",
                "param": "model",
                "code": "no_deployment_in_region",
            }
    assert us.requests == []
