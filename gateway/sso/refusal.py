"""A single sign-on that cannot go on, and its record in the audit log.

Every refusal has a short `reason` for the audit log and a sentence for the person trying
to sign in, which never contains a secret, a token or the identity provider's own words.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from gateway.store import audit
from gateway.store.audit import Actor


class SignInRefused(Exception):
    def __init__(self, reason: str, message: str, *, status: int = 403, email: str = "") -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status
        self.email = email


async def record(
    pool: Any, refusal: SignInRefused, method: str, tenant_id: UUID | None, ip: str | None
) -> None:
    """The failed sign-in, under the tenant whose identity provider was used.

    Not counted by the password throttle: nobody guesses anything here, and an identity
    provider's outage must not lock people out of their password sign-in."""
    email = refusal.email.strip().lower()
    await audit.record(
        pool,
        Actor(type="anonymous", label=email or None, ip=ip),
        "user.login_failed",
        tenant_id=tenant_id,
        changes={"method": method, "reason": refusal.reason},
    )
