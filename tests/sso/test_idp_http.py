"""The console's client for identity providers goes only where a tenant admin may send it:
https (http to loopback only), and no loopback or private address unless the operator
allows private networks."""

from __future__ import annotations

import pytest

from gateway.sso.idp_http import IdpClient, is_public, url_problem
from gateway.sso.refusal import SignInRefused
from tests.fakes.oidc_idp import start_idp


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://login.example.com/realms/acme", True),
        ("http://127.0.0.1:8081", True),
        ("http://localhost:8081/idp", True),
        ("http://login.example.com", False),
        ("ftp://login.example.com", False),
        ("https://user:pw@login.example.com", False),
        ("https://login.example.com/#x", False),
        ("/relative", False),
        ("not a url", False),
    ],
)
def test_identity_provider_addresses(url: str, allowed: bool) -> None:
    assert (url_problem(url) is None) == allowed


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("fe80::1%eth0", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) == public


async def test_private_addresses_are_refused_unless_allowed() -> None:
    idp = await start_idp()
    guarded, allowed = IdpClient(private_networks=False), IdpClient(private_networks=True)
    await guarded.open()
    await allowed.open()
    try:
        port = idp.issuer.rsplit(":", 1)[1]
        for url, reason in [
            (idp.issuer + "/jwks", "idp_address"),  # a loopback address, literally
            (f"http://localhost:{port}/jwks", "idp_unreachable"),  # resolved to one
        ]:
            with pytest.raises(SignInRefused) as refused:
                await guarded.get_json(url)
            assert refused.value.reason == reason
        assert "keys" in await allowed.get_json(idp.issuer + "/jwks")
        with pytest.raises(SignInRefused) as refused:
            await allowed.get_json(idp.issuer + "/authorize")  # a 400, not JSON
        assert refused.value.reason == "idp_unreachable"
    finally:
        await guarded.close()
        await allowed.close()
        await idp.close()
