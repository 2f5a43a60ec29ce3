"""Short-lived admin session tokens: HS256 JWTs (pyjwt) naming the user they were issued to."""

from __future__ import annotations

import time
import uuid

import jwt

ALGORITHM = "HS256"
AUDIENCE = "model-bridge-admin"
TTL_SECONDS = 3600


class TokenError(Exception):
    pass


def issue(secret: str, user_id: uuid.UUID, ttl: int = TTL_SECONDS) -> tuple[str, int]:
    now = int(time.time())
    expires = now + ttl
    claims = {
        "sub": str(user_id),
        "aud": AUDIENCE,
        "iat": now,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def verify(secret: str, token: str) -> uuid.UUID:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iat"]},
        )
        return uuid.UUID(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise TokenError(str(exc)) from None
