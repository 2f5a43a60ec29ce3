"""What single sign-on shares across requests, owned by the console's app: the HTTP client
for identity providers (opened and closed with the app), the providers' cached metadata and
keys, the client secret cipher, and whether SAML is available here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.sso import saml_support
from gateway.sso.client_secret import ClientSecretCipher
from gateway.sso.discovery import ProviderCache
from gateway.sso.idp_http import IdpClient


@dataclass(frozen=True, slots=True)
class SsoServices:
    cipher: ClientSecretCipher
    client: IdpClient
    providers: ProviderCache
    saml_problem: str | None  # None: SAML is available


SSO = web.AppKey("sso", SsoServices)


def setup(app: web.Application, console_secret: str, private_networks: bool) -> None:
    client = IdpClient(private_networks)
    app[SSO] = SsoServices(
        ClientSecretCipher(console_secret), client, ProviderCache(client), saml_support.problem()
    )
    app.cleanup_ctx.append(_idp_client)


async def _idp_client(app: web.Application) -> AsyncIterator[None]:
    await app[SSO].client.open()
    yield
    await app[SSO].client.close()
