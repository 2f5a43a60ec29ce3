"""A small multi-tenant world for admin API tests: two tenants, a user in every role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.admin_api.tokens import issue
from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.management import users as manage_users
from gateway.passwords import hash_password
from gateway.store.audit import Actor
from gateway.store.database import create_pool
from gateway.store.keys import KeySettings
from tests.conftest import MASTER_KEY, TOKEN_SECRET

PASSWORD = "correct horse battery"
ROLES = ("owner", "admin", "member", "viewer")
SETUP = Actor(type="system", label="test setup")


@dataclass
class World:
    root: str  # the gateway's base URL without /v1
    tokens: dict[str, str]  # who -> bearer credential ("master", "platform", roles, "owner-b")
    ids: dict[str, str]  # names of objects -> ids

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.root}/admin/api{path}", json=body, headers=headers
            ) as response,
        ):
            payload = await response.json(content_type=None) if response.status != 204 else None
            return response.status, payload


async def build_world(base_url: str, dsn: str) -> World:
    root = base_url.removesuffix("/v1")
    pool = await create_pool(dsn)
    ids: dict[str, str] = {}
    try:
        for slug in ("a", "b"):
            tenant = await manage_tenants.create(pool, SETUP, slug, f"Tenant {slug.upper()}")
            ids[f"tenant-{slug}"] = str(tenant.id)
            key = await manage_keys.create(pool, SETUP, slug, KeySettings(name=f"key-{slug}"))
            ids[f"key-{slug}"] = str(key.key.id)
        people = {role: f"{role}@a.example" for role in ROLES} | {"owner-b": "owner@b.example"}
        people["platform"] = "root@platform.example"
        password_hash = await hash_password(PASSWORD)  # once: argon2 is slow on purpose
        for who, email in people.items():
            user = await manage_users.create(pool, SETUP, email, None, who == "platform")
            await pool.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1", user.id, password_hash
            )
            ids[f"user-{who}"] = str(user.id)
            if who != "platform":
                slug, role = ("b", "owner") if who == "owner-b" else ("a", who)
                await manage_users.put_membership(pool, SETUP, slug, user.id, role)
    finally:
        await pool.close()
    # Tokens as POST /admin/api/login issues them (its own tests sign in for real).
    tokens = {"master": MASTER_KEY} | {
        who: issue(TOKEN_SECRET, uuid.UUID(ids[f"user-{who}"]))[0] for who in people
    }
    return World(root, tokens, ids)
