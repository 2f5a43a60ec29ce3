"""Identity providers' discovery documents and signing keys, fetched and kept for a while.

A document is used only when it names exactly the issuer it was fetched for (OpenID Connect
Discovery 1.0, section 4.3), and only with endpoints the client may call. Keys are fetched
again, once, when a token names a key id the cached set lacks: providers rotate keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.sso.idp_http import IdpClient, url_problem
from gateway.sso.refusal import SignInRefused

TTL_SECONDS = 3600.0
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
_DOCUMENT = "/.well-known/openid-configuration"
_MISCONFIGURED = (
    "Your identity provider's configuration could not be used. Ask an administrator to check "
    "the tenant's SSO settings."
)


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]
    signing_algorithms: tuple[str, ...]


def parse_metadata(issuer: str, document: dict[str, Any]) -> ProviderMetadata:
    endpoints = [document.get(name) for name in _ENDPOINTS]
    if document.get("issuer") != issuer or not all(
        isinstance(url, str) and url_problem(url) is None for url in endpoints
    ):
        raise SignInRefused("idp_discovery", _MISCONFIGURED, status=502)
    authorize, token, jwks = (str(url) for url in endpoints)
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=authorize,
        token_endpoint=token,
        jwks_uri=jwks,
        # The defaults the specification gives for a document that leaves them out.
        token_auth_methods=_strings(document, "token_endpoint_auth_methods_supported")
        or ("client_secret_basic",),
        signing_algorithms=_strings(document, "id_token_signing_alg_values_supported")
        or ("RS256",),
    )


def _strings(document: dict[str, Any], name: str) -> tuple[str, ...]:
    value = document.get(name)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


class ProviderCache:
    """Per issuer: the metadata and key set, each for `ttl` seconds."""

    def __init__(
        self,
        client: IdpClient,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    async def metadata(self, issuer: str) -> ProviderMetadata:
        cached = self._metadata.get(issuer)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        document = await self._client.get_json(issuer.rstrip("/") + _DOCUMENT)
        metadata = parse_metadata(issuer, document)
        self._metadata[issuer] = (self._clock() + self._ttl, metadata)
        return metadata

    async def keys(self, metadata: ProviderMetadata, *, fresh: bool = False) -> KeySet:
        cached = self._keys.get(metadata.jwks_uri)
        if not fresh and cached is not None and cached[0] > self._clock():
            return cached[1]
        document = await self._client.get_json(metadata.jwks_uri)
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInRefused("idp_keys", _MISCONFIGURED, status=502) from exc
        self._keys[metadata.jwks_uri] = (self._clock() + self._ttl, keys)
        return keys
