"""Signing in with a password (and a TOTP code when the account has one), shared by the
admin API and the console so that throttling, timing and the audit trail are the same."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pyotp

from gateway.admin_api.throttle import LoginThrottle
from gateway.errors import AuthenticationError, RateLimited
from gateway.passwords import verify_password
from gateway.store import audit, users
from gateway.store.audit import Actor
from gateway.store.records import User

TOTP_ISSUER = "Model Bridge"


def subjects(email: str, ip: str | None) -> tuple[str, str]:
    """Failures count against the account and against the address they came from."""
    return f"account:{email.strip().lower()}", f"address:{ip}"


def check_throttle(throttle: LoginThrottle, email: str, ip: str | None) -> None:
    wait = throttle.retry_after(*subjects(email, ip))
    if wait > 0:
        raise RateLimited(
            "Too many failed sign-in attempts. Try again later.",
            headers={"Retry-After": str(int(wait) + 1)},
        )


async def password(
    pool: Any, throttle: LoginThrottle, email: str, secret: str, ip: str | None
) -> tuple[User, str | None]:
    """The user and their TOTP secret (None: no second factor), or AuthenticationError."""
    check_throttle(throttle, email, ip)
    found = await users.get_by_email(pool, email)
    user, password_hash = found if found else (None, None)
    if not await verify_password(password_hash, secret) or user is None:
        await failed(pool, throttle, email, ip, user, "password")
        raise AuthenticationError("Incorrect email or password.", code="invalid_credentials")
    return user, await users.totp_secret(pool, user.id)


async def second_factor(
    pool: Any, throttle: LoginThrottle, user: User, totp_secret: str, code: str, ip: str | None
) -> None:
    """Accepts a current code once; a wrong or replayed code counts as a failed sign-in."""
    check_throttle(throttle, user.email, ip)
    step = matching_step(totp_secret, code)
    if step is None or not await users.use_totp_step(pool, user.id, step):
        await failed(pool, throttle, user.email, ip, user, "totp")
        raise AuthenticationError("That code is not valid. Try the current one.", code="totp")


def matching_step(totp_secret: str, code: str) -> int | None:
    """The time step the code belongs to, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(totp_secret)
    now = time.time()
    for drift in (0, -1, 1):
        moment = now + drift * totp.interval
        if totp.verify(code.strip(), for_time=moment, valid_window=0):
            return totp.timecode(moment)
    return None


def provisioning_uri(totp_secret: str, email: str) -> str:
    return pyotp.TOTP(totp_secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def new_totp_secret() -> str:
    return pyotp.random_base32()


async def failed(
    pool: Any,
    throttle: LoginThrottle,
    email: str,
    ip: str | None,
    user: User | None,
    method: str,
) -> None:
    throttle.failed(*subjects(email, ip))
    actor = Actor(type="anonymous", label=email.strip().lower(), ip=ip)
    await audit.record(
        pool,
        actor,
        "user.login_failed",
        target_type="user",
        target_id=user.id if user else None,
        changes={"method": method},
    )


async def succeeded(
    pool: Any,
    throttle: LoginThrottle | None,
    user: User,
    method: str,
    ip: str | None,
    *,
    tenant_id: UUID | None = None,
) -> None:
    """`tenant_id`: the tenant whose identity provider signed the user in (SSO)."""
    if throttle is not None:
        throttle.succeeded(subjects(user.email, ip)[0])
    actor = Actor(type="user", id=str(user.id), label=user.email, ip=ip)
    await audit.record(
        pool,
        actor,
        "user.login",
        tenant_id=tenant_id,
        target_type="user",
        target_id=user.id,
        changes={"method": method},
    )
