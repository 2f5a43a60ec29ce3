"""A real OpenID Connect identity provider on 127.0.0.1, for console SSO tests (page tests
and browser tests alike).

It serves discovery, its JWKS, an authorize endpoint that signs in whoever the test set
(no login form: it redirects straight back with a code) and a token endpoint that checks
the client secret and the PKCE verifier and issues RS256 id_tokens signed with its own key
(joserfc). Tests make it misbehave on purpose through `claims` (overrides of the next
id_tokens: another audience, a stale expiry...) and `sign_with_unpublished_key`.

    idp = await start_idp()
    idp.sign_in_as("ada@a.example", groups=["platform-team"])
    ...  # configure the tenant with idp.issuer, idp.client_id, idp.client_secret
    await idp.close()
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from yarl import URL

AuthMethod = Literal["client_secret_basic", "client_secret_post"]


@dataclass
class IdpUser:
    email: str
    groups: list[str] = field(default_factory=list)
    email_verified: bool = True

    @property
    def subject(self) -> str:
        return "sub-" + self.email


@dataclass
class Grant:
    user: IdpUser
    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str


@dataclass
class Idp:
    issuer: str
    client_id: str
    client_secret: str
    auth_method: AuthMethod
    user: IdpUser | None = None  # None: the authorize endpoint answers access_denied
    claims: dict[str, Any] = field(default_factory=dict)  # None values remove a claim
    token_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # the path of every request served
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    signing_key: RSAKey | None = None  # None: `key`, the published one
    _grants: dict[str, Grant] = field(default_factory=dict)
    _server: TestServer | None = None

    def sign_in_as(
        self, email: str, *, groups: list[str] | tuple[str, ...] = (), email_verified: bool = True
    ) -> None:
        self.user = IdpUser(email, list(groups), email_verified)

    def sign_with_unpublished_key(self) -> None:
        """Tokens signed by a key the JWKS does not hold, under the published key's id."""
        self.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    # --- endpoints ---------------------------------------------------------------------

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [self.auth_method],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if (
            query.get("client_id") != self.client_id
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or not query.get("redirect_uri")
            or "openid" not in query.get("scope", "").split()
        ):
            return web.Response(status=400, text="bad authorization request")
        back = URL(query["redirect_uri"])
        if self.user is None:
            params = {"error": "access_denied", "state": query.get("state", "")}
            raise web.HTTPFound(str(back.with_query(params)))
        code = secrets.token_urlsafe(24)
        self._grants[code] = Grant(
            self.user,
            self.client_id,
            query["redirect_uri"],
            query.get("nonce", ""),
            query["code_challenge"],
        )
        raise web.HTTPFound(str(back.with_query(code=code, state=query.get("state", ""))))

    async def token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.token_requests.append(form)
        if self._client(request, form) != (self.client_id, self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self._grants.pop(form.get("code", ""), None)
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or create_s256_code_challenge(form.get("code_verifier", "")) != grant.code_challenge
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            }
        )

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.user.subject,
            "aud": grant.client_id,
            "exp": now + 300,
            "iat": now,
            "nonce": grant.nonce,
            "email": grant.user.email,
            "email_verified": grant.user.email_verified,
            "groups": grant.user.groups,
        }
        claims.update(self.claims)
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.signing_key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def _client(self, request: web.Request, form: dict[str, str]) -> tuple[str, str] | None:
        if self.auth_method == "client_secret_post":
            return form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
        return unquote(client_id), unquote(secret)


async def start_idp(
    *,
    client_id: str = "model-bridge-console",
    client_secret: str = "idp-client-secret-" + "x" * 16,
    auth_method: AuthMethod = "client_secret_basic",
) -> Idp:
    """A provider listening on 127.0.0.1; `idp.issuer` is its base URL."""
    idp = Idp(issuer="", client_id=client_id, client_secret=client_secret, auth_method=auth_method)

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        idp.requests.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_get("/.well-known/openid-configuration", idp.discovery)
    app.router.add_get("/jwks", idp.jwks)
    app.router.add_get("/authorize", idp.authorize)
    app.router.add_post("/token", idp.token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    idp._server = server
    idp.issuer = str(server.make_url("")).rstrip("/")
    return idp
