"""Changing a tenant's single sign-on settings: checked, saved and written to the audit log.

Owners and admins manage SSO, but whoever chooses the identity provider can sign in as any
member of the tenant, owners included (the provider vouches for their addresses). So only
an owner (or a platform administrator) may choose or change the provider (its addresses,
client id and secret, certificate and groups claim) or grant the owner role through it;
admins manage the rest: switching it on or off, domains, roles below owner, provisioning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import asdict
from typing import Any

from cryptography import x509

from gateway.errors import InvalidRequest, PermissionDenied
from gateway.roles import Role
from gateway.sso.client_secret import ClientSecretCipher
from gateway.sso.idp_http import url_problem
from gateway.store import audit, sso
from gateway.store.audit import Actor
from gateway.store.records import Tenant
from gateway.store.sso import SsoConfig

PROVIDER_FIELDS = (
    "oidc_issuer",
    "oidc_client_id",
    "saml_idp_entity_id",
    "saml_sso_url",
    "saml_x509_cert",
    "groups_claim",
)
_REQUIRED = {
    "oidc": ("oidc_issuer", "oidc_client_id"),
    "saml": ("saml_idp_entity_id", "saml_sso_url", "saml_x509_cert"),
}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def parse_domains(text: str) -> list[str]:
    """Domains separated by commas, spaces or lines; a leading '@' is allowed."""
    domains = [d.strip().lstrip("@").lower() for d in re.split(r"[\s,]+", text) if d.strip()]
    for domain in domains:
        if not _DOMAIN.match(domain):
            raise ValueError(f"{domain!r} is not a domain name")
    return sorted(set(domains))


def parse_group_roles(text: str) -> dict[str, str]:
    """One mapping a line: the group's name (spaces allowed), then the role."""
    mapping: dict[str, str] = {}
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        group, _, role = line.rpartition(" ")
        if not group.strip() or role not in set(Role):
            roles = ", ".join(Role)
            raise ValueError(f"{line!r}: write the group, a space, then one of: {roles}")
        mapping[group.strip()] = role
    return mapping


def normalize_certificate(text: str) -> str:
    """The certificate's base64 body (what python3-saml takes), from PEM or bare base64."""
    body = re.sub(r"-----(BEGIN|END) CERTIFICATE-----|\s", "", text)
    try:
        x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("not an X.509 certificate in PEM or base64") from None
    return body


def fingerprint(certificate: str | None) -> str | None:
    """SHA-256 of the certificate, for the audit log: which one, without the whole of it."""
    if not certificate:
        return None
    return hashlib.sha256(base64.b64decode(certificate)).hexdigest()


async def save(
    pool: Any,
    cipher: ClientSecretCipher,
    actor: Actor,
    tenant: Tenant,
    new: SsoConfig,
    client_secret: str | None,
    *,
    owner_rights: bool,
    saml_problem: str | None,
) -> None:
    """Raises InvalidRequest (naming the field) or PermissionDenied; saves nothing then."""
    current = await sso.get(pool, tenant.id)
    _check(new, current.has_client_secret or bool(client_secret), saml_problem)
    changes = _changes(current.config, new)
    if client_secret:
        changes["oidc_client_secret"] = "replaced"  # never the value
    if not owner_rights:
        _check_owner_rule(current.config, new, changes)
    secret = cipher.encrypt(tenant.id, client_secret) if client_secret else None
    async with pool.acquire() as conn, conn.transaction():
        await sso.put(conn, tenant.id, new, secret)
        await audit.record(
            conn,
            actor,
            "sso.update",
            tenant_id=tenant.id,
            target_type="tenant",
            target_id=tenant.id,
            changes=changes,
        )


def _check(new: SsoConfig, has_secret: bool, saml_problem: str | None) -> None:
    for name in ("oidc_issuer", "saml_sso_url"):
        value = getattr(new, name)
        problem = url_problem(value) if value else None
        if problem:
            raise InvalidRequest(f"The address {problem}.", param=name)
    if not new.enabled:
        return  # an incomplete setup may be saved, switched off
    if new.protocol == "saml" and saml_problem:
        raise InvalidRequest(f"SAML is unavailable: {saml_problem}", param="protocol")
    for name in _REQUIRED[new.protocol]:
        if not getattr(new, name):
            raise InvalidRequest("Required to switch single sign-on on.", param=name)
    if new.protocol == "oidc" and not has_secret:
        raise InvalidRequest("Required to switch single sign-on on.", param="oidc_client_secret")
    if not new.allowed_domains:
        raise InvalidRequest(
            "Name at least one domain whose addresses may sign in.", param="allowed_domains"
        )


def _check_owner_rule(current: SsoConfig, new: SsoConfig, changes: dict[str, Any]) -> None:
    changed_provider = next(
        (name for name in (*PROVIDER_FIELDS, "oidc_client_secret") if name in changes), None
    )
    if changed_provider:
        raise PermissionDenied(
            "Only an owner may choose or change the identity provider.", param=changed_provider
        )
    if _owner_groups(current) != _owner_groups(new):
        raise PermissionDenied(
            "Only an owner may map groups to the owner role, or change those mappings.",
            param="group_roles",
        )
    if Role.OWNER in (current.default_role, new.default_role) and "default_role" in changes:
        raise PermissionDenied(
            "Only an owner may make owner the default role, or change it from owner.",
            param="default_role",
        )


def _owner_groups(config: SsoConfig) -> frozenset[str]:
    return frozenset(g for g, role in config.group_roles.items() if role == Role.OWNER)


def _changes(old: SsoConfig, new: SsoConfig) -> dict[str, Any]:
    before, after = asdict(old), asdict(new)
    for config, values in ((old, before), (new, after)):
        values["saml_x509_cert"] = fingerprint(config.saml_x509_cert)
    return {name: [before[name], value] for name, value in after.items() if before[name] != value}
