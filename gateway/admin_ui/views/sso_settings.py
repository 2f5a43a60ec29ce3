"""A tenant's single sign-on settings, for its owners and admins: the identity provider
(OpenID Connect or SAML), who may sign in through it and with which role.

The client secret is write-only: the field is always empty, and leaving it empty keeps the
stored one. Only owners may change the identity provider itself (see
`gateway.sso.tenant_settings`, which checks, saves and audits every change).
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field, field_validator

from gateway.admin_api.access import owner_rights, tenant_for
from gateway.admin_ui import forms, sessions
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.sessions import redirect
from gateway.appkeys import POOL
from gateway.errors import InvalidRequest, PermissionDenied
from gateway.roles import Action, Role
from gateway.sso import flow, tenant_settings
from gateway.sso.services import SSO
from gateway.store import sso
from gateway.store.records import Tenant
from gateway.store.sso import SsoConfig

CALLBACK_PATH = "/admin/sso/oidc/callback"
SAML_METADATA_PATH = "/admin/sso/saml/metadata"
SAML_ACS_PATH = "/admin/sso/saml/acs"


class SsoForm(forms.Form):
    enabled: bool = False
    protocol: Literal["oidc", "saml"] = "oidc"
    oidc_issuer: str | None = Field(None, max_length=500)
    oidc_client_id: str | None = Field(None, max_length=500)
    oidc_client_secret: str | None = Field(None, max_length=2000)
    saml_idp_entity_id: str | None = Field(None, max_length=500)
    saml_sso_url: str | None = Field(None, max_length=2000)
    saml_x509_cert: str | None = Field(None, max_length=20000)
    allowed_domains: list[str] = []
    default_role: Role = Role.MEMBER
    group_roles: dict[str, str] = {}
    groups_claim: str = Field("groups", max_length=200)
    jit: bool = False

    @field_validator("allowed_domains", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> list[str]:
        return tenant_settings.parse_domains(
            " ".join(value if isinstance(value, list) else [value])
        )

    @field_validator("group_roles", mode="before")
    @classmethod
    def _group_roles(cls, value: Any) -> dict[str, str]:
        return tenant_settings.parse_group_roles(value) if isinstance(value, str) else value

    @field_validator("saml_x509_cert")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        return tenant_settings.normalize_certificate(value) if value else None

    def config(self) -> SsoConfig:
        return SsoConfig(**self.model_dump(mode="json", exclude={"oidc_client_secret"}))


async def settings_page(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.SSO_MANAGE)
    current = await sso.get(request.config_dict[POOL], tenant.id)
    flash = await sessions.take_flash(request) or {}
    return await _page(request, tenant, _as_text(current.config), {}, 200, flash.get("notice"))


async def save_settings(request: web.Request) -> web.StreamResponse:
    tenant, principal = await tenant_for(request, Action.SSO_MANAGE)
    try:
        form = await forms.read(request, SsoForm)
    except forms.FormErrors as exc:
        return await _page(request, tenant, _posted(exc.values), exc.errors, 400)
    services = request.app[SSO]
    try:
        await tenant_settings.save(
            request.config_dict[POOL],
            services.cipher,
            principal.actor,
            tenant,
            form.config(),
            form.oidc_client_secret,
            owner_rights=await owner_rights(request, tenant),
            saml_problem=services.saml_problem,
        )
    except (InvalidRequest, PermissionDenied) as exc:
        errors = {exc.param or "": exc.message}
        return await _page(request, tenant, _as_text(form.config()), errors, exc.status)
    await sessions.put_flash(request, {"notice": "Single sign-on settings saved."})
    return redirect(f"/admin/t/{tenant.slug}/sso")


def _as_text(config: SsoConfig) -> dict[str, Any]:
    """The settings as the form shows them; lists and mappings as the text one types."""
    values = {name: getattr(config, name) for name in SsoConfig.__dataclass_fields__}
    values["allowed_domains"] = ", ".join(config.allowed_domains)
    values["group_roles"] = "\n".join(f"{g} {r}" for g, r in config.group_roles.items())
    return values


def _posted(values: dict[str, Any]) -> dict[str, Any]:
    """What was typed, for showing it again: never the client secret."""
    shown = {k: v for k, v in values.items() if k != "oidc_client_secret"}
    domains = shown.get("allowed_domains", [])
    shown["allowed_domains"] = " ".join(domains) if isinstance(domains, list) else domains
    for box in ("enabled", "jit"):
        shown[box] = box in values
    return shown


async def _page(
    request: web.Request,
    tenant: Tenant,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int,
    notice: str | None = None,
) -> web.Response:
    pool, services = request.config_dict[POOL], request.app[SSO]
    current = await sso.get(pool, tenant.id)
    return await render(
        request,
        "sso_settings.html",
        status,
        tenant=tenant,
        values=values,
        errors=errors,
        notice=notice,
        has_client_secret=current.has_client_secret,
        owner_rights=await owner_rights(request, tenant),
        roles=[role.value for role in Role],
        saml_problem=services.saml_problem,
        callback_url=flow.console_url(request, CALLBACK_PATH),
        saml_metadata_url=flow.console_url(request, SAML_METADATA_PATH),
        saml_acs_url=flow.console_url(request, SAML_ACS_PATH),
    )


ROUTES = (
    Route("GET", "/t/{tenant}/sso", settings_page),
    Route("POST", "/t/{tenant}/sso", save_settings),
)
LINKS = (
    Link("Single sign-on", "/admin/t/{tenant}/sso", "tenant", order=80, action=Action.SSO_MANAGE),
)
