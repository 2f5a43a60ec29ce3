"""The console's HTTP client for identity providers: discovery documents, key sets, tokens.

The addresses come from tenant administrators, so the client is careful where it goes: only
`https` (plain `http` to a loopback host, for development), never a redirect, small bodies,
short timeouts, and by default no address that is not public (loopback, private networks,
link-local cloud metadata), checked on the resolved address so DNS cannot sneak one in.
Operators with an identity provider on their own network allow it with
`admin.sso_private_networks`.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from gateway.sso.refusal import SignInRefused

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
_LOOPBACK_NAMES = frozenset({"localhost"})
_UNREACHABLE = "Your identity provider could not be reached. Try again in a moment."


def url_problem(url: str) -> str | None:
    """Why `url` may not be an identity provider address, or None when it may."""
    try:
        parsed = URL(url)
    except ValueError:
        return "must be a URL"
    if not parsed.absolute or not parsed.host:
        return "must be a full URL, such as https://login.example.com"
    if parsed.user or parsed.password or parsed.fragment:
        return "must not contain a user name, password or fragment"
    if parsed.scheme == "https" or (parsed.scheme == "http" and is_loopback(parsed.host)):
        return None
    return "must use https (plain http only to localhost)"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


class PublicAddressResolver(AbstractResolver):
    """Resolves as usual, keeping only public addresses."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [result for result in found if is_public(result["host"])]
        if not public:
            raise OSError(f"{host} has no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


class IdpClient:
    def __init__(self, private_networks: bool) -> None:
        self._private_networks = private_networks
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        resolver = DefaultResolver()
        connector = aiohttp.TCPConnector(
            limit=32,
            ttl_dns_cache=60,
            resolver=resolver if self._private_networks else PublicAddressResolver(resolver),
        )
        self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_json(self, url: str) -> dict[str, Any]:
        status, body = await self._call("GET", url)
        if status != 200:
            logger.warning("identity provider answered %s for %s", status, URL(url).host)
            raise SignInRefused("idp_error", _UNREACHABLE, status=502)
        return body

    async def post_form(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        return await self._call("POST", url, data=form, headers=headers)

    async def _call(
        self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        self._check(url)
        assert self._session is not None, "IdpClient.open() runs at start-up"
        headers = {"Accept": "application/json"} | (headers or {})
        try:
            async with self._session.request(
                method, url, headers=headers, allow_redirects=False, **kwargs
            ) as response:
                body = await _read_capped(response)
                return response.status, _json_object(body)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            logger.warning("identity provider %s failed: %s", URL(url).host, type(exc).__name__)
            raise SignInRefused("idp_unreachable", _UNREACHABLE, status=502) from exc

    def _check(self, url: str) -> None:
        """Literal addresses here; names are checked once resolved (`PublicAddressResolver`)."""
        host = "" if url_problem(url) else URL(url).host or ""
        if not host or (_is_ip(host) and not is_public(host) and not self._private_networks):
            logger.warning("refused identity provider address for host %r", host)
            raise SignInRefused(
                "idp_address",
                "The identity provider's address is not allowed. Ask an administrator "
                "to check the tenant's SSO settings.",
                status=502,
            )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ValueError("identity provider response too large")
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    value = orjson.loads(body) if body else {}
    if not isinstance(value, dict):
        raise ValueError("identity provider response is not a JSON object")
    return value
