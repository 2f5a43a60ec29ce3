"""The OIDC client secret at rest.

Fernet (AES-CBC with HMAC-SHA256: an authenticated recipe, not a primitive to assemble),
under a key derived with HKDF from the console secret and the tenant's id. Per-tenant keys
mean one tenant's ciphertext, copied into another's row, does not decrypt there.
"""

from __future__ import annotations

import base64
from uuid import UUID

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PURPOSE = b"model-bridge/sso-client-secret/"


class ClientSecretCipher:
    def __init__(self, console_secret: str) -> None:
        self._secret = console_secret.encode()

    def encrypt(self, tenant_id: UUID, client_secret: str) -> bytes:
        return self._fernet(tenant_id).encrypt(client_secret.encode())

    def decrypt(self, tenant_id: UUID, ciphertext: bytes) -> str | None:
        """The secret; None when it cannot be read (the console secret has changed since)."""
        try:
            return self._fernet(tenant_id).decrypt(ciphertext).decode()
        except InvalidToken:
            return None

    def _fernet(self, tenant_id: UUID) -> Fernet:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE + tenant_id.bytes
        )
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(self._secret)))
