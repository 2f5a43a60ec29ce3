"""OpenID Connect sign-in: the authorization code flow with PKCE (S256), state and nonce.

The browser goes to the provider with a fresh state, nonce and code challenge; it comes back
with a code, which is exchanged (with the code verifier and the client secret) for an
id_token. That token counts only when its signature verifies against the provider's
published keys and its issuer, audience, expiry, issue time and nonce are what this sign-in
expects. Tokens come and go through authlib's and joserfc's code, never hand-written crypto.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError

from gateway.sso.discovery import ProviderCache, ProviderMetadata
from gateway.sso.identity import Identity, group_names
from gateway.sso.idp_http import IdpClient
from gateway.sso.refusal import SignInRefused
from gateway.store.sso import SsoConfig

SCOPE = "openid email profile"
# Public-key signatures only: an HMAC-signed token would be checked with the client secret,
# which the provider (or anyone who learned the secret) could then use to mint tokens.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY_SECONDS = 60  # clock differences between us and the provider
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
_NOT_ACCEPTED = "Your identity provider did not complete the sign-in. Please try again."


@dataclass(frozen=True, slots=True)
class Authorization:
    """Where to send the browser, and what the callback must find again."""

    url: str
    state: str
    nonce: str
    code_verifier: str


async def authorization(
    providers: ProviderCache, config: SsoConfig, redirect_uri: str
) -> Authorization:
    metadata = await providers.metadata(_issuer(config))
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    url = prepare_grant_uri(
        metadata.authorization_endpoint,
        config.oidc_client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=SCOPE,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return Authorization(url, state, nonce, verifier)


async def sign_in(
    providers: ProviderCache,
    client: IdpClient,
    config: SsoConfig,
    client_secret: str,
    code: str,
    redirect_uri: str,
    flow: Authorization,
) -> Identity:
    """The identity in the verified id_token the code is exchanged for."""
    metadata = await providers.metadata(_issuer(config))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": flow.code_verifier,
    }
    client_id = config.oidc_client_id or ""
    headers, form = _client_authentication(metadata, client_id, client_secret, form)
    status, body = await client.post_form(metadata.token_endpoint, form, headers)
    id_token = body.get("id_token")
    if status != 200 or not isinstance(id_token, str):
        error = body.get("error")
        detail = error if isinstance(error, str) and _ERROR_CODE.match(error) else status
        raise SignInRefused(f"token_exchange:{detail}", _NOT_ACCEPTED, status=502)
    claims = await verify_id_token(providers, metadata, client_id, id_token, flow.nonce)
    return identity_from(claims, config.groups_claim)


def _client_authentication(
    metadata: ProviderMetadata, client_id: str, secret: str, form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """HTTP Basic when the provider takes it (the default), else the secret in the form."""
    if "client_secret_basic" in metadata.token_auth_methods:
        # RFC 6749, section 2.3.1: both parts are form-encoded before Basic encoding.
        basic = aiohttp.encode_basic_auth(quote(client_id, safe=""), quote(secret, safe=""))
        return {"Authorization": basic}, form
    if "client_secret_post" in metadata.token_auth_methods:
        return {}, form | {"client_id": client_id, "client_secret": secret}
    raise SignInRefused(
        "idp_auth_method",
        "Your identity provider accepts no client authentication the console supports.",
        status=502,
    )


async def verify_id_token(
    providers: ProviderCache,
    metadata: ProviderMetadata,
    client_id: str,
    id_token: str,
    nonce: str,
) -> dict[str, Any]:
    algorithms = [name for name in metadata.signing_algorithms if name in ASYMMETRIC]
    if not algorithms:  # joserfc would take an empty list as "its defaults"
        raise SignInRefused("idp_algorithms", _NOT_ACCEPTED, status=502)
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": metadata.issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        try:
            token = jwt.decode(id_token, await providers.keys(metadata), algorithms=algorithms)
        except InvalidKeyIdError:
            fresh = await providers.keys(metadata, fresh=True)
            token = jwt.decode(id_token, fresh, algorithms=algorithms)
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SignInRefused(_rejection(exc), _NOT_ACCEPTED, status=400) from exc
    claims: dict[str, Any] = token.claims
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInRefused("id_token_azp", _NOT_ACCEPTED, status=400)
    return claims


def _rejection(exc: Exception) -> str:
    """The audit log's reason: which check the token failed."""
    if isinstance(exc, ExpiredTokenError):
        return "id_token_expired"
    if isinstance(exc, ClaimError):
        return f"id_token_{exc.claim}"
    if isinstance(exc, JoseError) and exc.error in ("bad_signature", "invalid_key_id"):
        return "id_token_signature"
    return "id_token_invalid"


def identity_from(claims: dict[str, Any], groups_claim: str) -> Identity:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInRefused(
            "email_missing", "Your identity provider did not share your email address."
        )
    # Some providers send the string "true"; anything else is not a verified address.
    verified = claims.get("email_verified")
    if verified is not True and verified != "true":  # `in (True, ...)` would take 1 too
        raise SignInRefused(
            "email_unverified",
            f"Your identity provider has not verified {email}, so it cannot be used to sign in.",
            email=email,
        )
    return Identity(email, group_names(claims.get(groups_claim)), str(claims["sub"]))


def _issuer(config: SsoConfig) -> str:
    if not config.oidc_issuer or not config.oidc_client_id:
        raise SignInRefused("not_configured", "Single sign-on is not set up for this tenant.")
    return config.oidc_issuer
