"""id_token checks that the end-to-end tests cannot reach through a well-behaved provider."""

from __future__ import annotations

import pytest

from gateway.sso.discovery import ProviderCache, ProviderMetadata
from gateway.sso.idp_http import IdpClient
from gateway.sso.oidc import identity_from, verify_id_token
from gateway.sso.refusal import SignInRefused


async def test_a_provider_without_public_key_signatures_is_refused() -> None:
    """HS256 would be checked with the client secret; "none" with nothing at all."""
    metadata = ProviderMetadata(
        issuer="https://login.example.com",
        authorization_endpoint="https://login.example.com/authorize",
        token_endpoint="https://login.example.com/token",
        jwks_uri="https://login.example.com/jwks",
        token_auth_methods=("client_secret_basic",),
        signing_algorithms=("HS256", "none"),
    )
    cache = ProviderCache(IdpClient(private_networks=False))  # never reached
    with pytest.raises(SignInRefused) as refused:
        await verify_id_token(cache, metadata, "client", "a.b.c", "nonce")
    assert refused.value.reason == "idp_algorithms"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "1", "email_verified": True}, "email_missing"),
        ({"sub": "1", "email": "ada@a.example"}, "email_unverified"),
        ({"sub": "1", "email": "ada@a.example", "email_verified": "false"}, "email_unverified"),
        ({"sub": "1", "email": "ada@a.example", "email_verified": 1}, "email_unverified"),
    ],
)
def test_only_a_verified_address_is_used(claims: dict[str, object], reason: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        identity_from(claims, "groups")
    assert refused.value.reason == reason


def test_groups_come_from_the_named_claim_as_a_list_or_one_name() -> None:
    claims = {"sub": "1", "email": "ada@a.example", "email_verified": "true", "roles": "admins"}
    assert identity_from(claims, "roles").groups == ("admins",)
    assert identity_from(claims | {"roles": ["a", 3, "b"]}, "roles").groups == ("a", "b")
    assert identity_from(claims, "groups").groups == ()
