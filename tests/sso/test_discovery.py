"""Identity providers' discovery documents and keys: fetched, checked, kept for a while."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.sso.discovery import ProviderCache
from gateway.sso.idp_http import IdpClient
from gateway.sso.refusal import SignInRefused
from tests.fakes.oidc_idp import Idp, start_idp


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Idp, IdpClient]]:
    """An identity provider, and the console's client for reaching it."""
    idp, client = await start_idp(), IdpClient(private_networks=True)
    await client.open()
    yield idp, client
    await client.close()
    await idp.close()


async def test_metadata_and_keys_are_cached_for_their_time_to_live(
    provider: tuple[Idp, IdpClient],
) -> None:
    idp, client = provider
    now = [0.0]
    cache = ProviderCache(client, ttl=60, clock=lambda: now[0])
    metadata = await cache.metadata(idp.issuer)
    assert metadata.token_endpoint == idp.issuer + "/token"
    assert metadata.token_auth_methods == ("client_secret_basic",)
    await cache.keys(metadata)
    now[0] = 59
    assert await cache.metadata(idp.issuer) == metadata
    assert (await cache.keys(metadata)).get_by_kid("k1") is not None
    assert idp.requests == ["/.well-known/openid-configuration", "/jwks"]
    now[0] = 61
    await cache.keys(await cache.metadata(idp.issuer))
    assert len(idp.requests) == 4


async def test_a_document_for_another_issuer_is_refused(provider: tuple[Idp, IdpClient]) -> None:
    """The provider must name itself exactly as configured (Discovery 1.0, 4.3)."""
    idp, client = provider
    with pytest.raises(SignInRefused) as refused:
        await ProviderCache(client).metadata(idp.issuer + "/")
    assert refused.value.reason == "idp_discovery"
