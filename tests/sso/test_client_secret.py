"""The client secret at rest: encrypted per tenant under the console secret."""

from __future__ import annotations

import uuid

from gateway.sso.client_secret import ClientSecretCipher

CONSOLE_SECRET = "a-console-secret-of-at-least-32-bytes!"


def test_a_secret_decrypts_only_for_its_tenant_under_the_same_console_secret() -> None:
    cipher = ClientSecretCipher(CONSOLE_SECRET)
    tenant, other = uuid.uuid4(), uuid.uuid4()
    sealed = cipher.encrypt(tenant, "client-secret")
    assert b"client-secret" not in sealed
    assert cipher.decrypt(tenant, sealed) == "client-secret"
    assert cipher.decrypt(other, sealed) is None  # copied into another tenant's row
    assert ClientSecretCipher(CONSOLE_SECRET + "x").decrypt(tenant, sealed) is None
