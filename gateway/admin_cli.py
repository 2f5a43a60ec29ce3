"""Management commands: `gateway migrate | tenants | users | keys | audit`.

They run against the same database as the server (its URL, or the embedded server in the
data folder) and go through the same operations as the admin API, audit entries included.
Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from gateway.admin_api.usage import parse_group_by
from gateway.errors import GatewayError, InvalidRequest, NotFound
from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.management import users as manage_users
from gateway.store import audit, keys, tenants, usage, users
from gateway.store.audit import Actor, AuditFilter
from gateway.store.keys import KeySettings
from gateway.store.migrations import migrate

CLI_ACTOR = Actor(type="system", label="cli")
Command = Callable[[Any, argparse.Namespace], Awaitable[None]]


def add_commands(commands: Any) -> None:
    commands.add_parser("migrate", help="apply pending database migrations")

    tenant = commands.add_parser("tenants", help="manage tenants").add_subparsers(
        dest="action", required=True
    )
    create = tenant.add_parser("create")
    create.add_argument("slug")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", default="free")
    create.add_argument("--models", type=_csv, help="allowed models, comma-separated")
    tenant.add_parser("list")
    for verb in ("suspend", "activate"):
        tenant.add_parser(verb).add_argument("slug")

    user = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = user.add_parser("create")
    create.add_argument("email")
    create.add_argument("--platform-admin", action="store_true")
    create.add_argument("--password-stdin", action="store_true", help="read the password")
    user.add_parser("list")
    add = user.add_parser("add-to-tenant")
    add.add_argument("email")
    add.add_argument("slug")
    add.add_argument("--role", required=True)
    remove = user.add_parser("remove-from-tenant")
    remove.add_argument("email")
    remove.add_argument("slug")

    key = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = key.add_parser("create")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--user", help="owning user's email")
    create.add_argument("--models", type=_csv, help="allowed models, comma-separated")
    create.add_argument("--expires", type=_date, help="ISO date or date-time (UTC)")
    create.add_argument("--rpm", type=int)
    create.add_argument("--tpm", type=int)
    create.add_argument("--max-parallel", type=int)
    create.add_argument("--budget-usd", type=_decimal)
    create.add_argument("--budget-period", choices=("day", "month"))
    create.add_argument("--tag", action="append", default=[], help="KEY=VALUE, repeatable")
    create.add_argument(
        "--pin",
        action="append",
        default=[],
        help="TAG=VALUE: only deployments with this tag (e.g. region=eu), repeatable",
    )
    key.add_parser("list").add_argument("--tenant", required=True)
    key.add_parser("revoke").add_argument("key", help="key id or display prefix")

    report = commands.add_parser("usage", help="usage and cost, grouped")
    report.add_argument("--tenant", help="one tenant (default: all)")
    report.add_argument(
        "--group-by",
        default="day",
        help="day, hour, model, provider, deployment, key, user, variant or tag:NAME",
    )
    report.add_argument("--since", type=_date, help="ISO date (default: 30 days ago)")
    report.add_argument("--until", type=_date, help="ISO date (default: now)")

    audit_list = (
        commands.add_parser("audit", help="read the audit log")
        .add_subparsers(dest="action", required=True)
        .add_parser("list")
    )
    audit_list.add_argument("--tenant")
    audit_list.add_argument("--action", dest="filter_action")
    audit_list.add_argument("--limit", type=int, default=50)


def command_for(args: argparse.Namespace) -> Command:
    name = args.command if args.command in ("migrate", "usage") else f"{args.command}_{args.action}"
    return _COMMANDS[name.replace("-", "_")]


async def run(command: Command, pool: Any, args: argparse.Namespace) -> int:
    try:
        await command(pool, args)
    except GatewayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


# --- commands -----------------------------------------------------------------------------


async def _migrate(pool: Any, args: argparse.Namespace) -> None:
    async with pool.acquire() as connection:
        applied = await migrate(connection)
    print("\n".join(f"applied {name}" for name in applied) or "up to date")


async def _tenants_create(pool: Any, args: argparse.Namespace) -> None:
    t = await manage_tenants.create(pool, CLI_ACTOR, args.slug, args.name, args.plan, args.models)
    print(f"created tenant {t.slug} ({t.id})")


async def _tenants_list(pool: Any, args: argparse.Namespace) -> None:
    rows = await tenants.list_all(pool, 10_000, 0)
    _table(
        ("SLUG", "NAME", "STATUS", "PLAN", "ID"),
        [(t.slug, t.name, t.status, t.plan, t.id) for t in rows],
    )


async def _tenants_suspend(pool: Any, args: argparse.Namespace) -> None:
    await manage_tenants.set_status(pool, CLI_ACTOR, args.slug, "suspended")
    print(f"suspended {args.slug}")


async def _tenants_activate(pool: Any, args: argparse.Namespace) -> None:
    await manage_tenants.set_status(pool, CLI_ACTOR, args.slug, "active")
    print(f"activated {args.slug}")


async def _users_create(pool: Any, args: argparse.Namespace) -> None:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (empty: sign in with SSO only): ") or None
    user = await manage_users.create(
        pool, CLI_ACTOR, args.email, password, is_platform_admin=args.platform_admin
    )
    print(f"created user {user.email} ({user.id})")


async def _users_list(pool: Any, args: argparse.Namespace) -> None:
    rows = await users.list_all(pool, 10_000, 0)
    _table(
        ("EMAIL", "PLATFORM ADMIN", "ID"),
        [(u.email, "yes" if u.is_platform_admin else "", u.id) for u in rows],
    )


async def _users_add_to_tenant(pool: Any, args: argparse.Namespace) -> None:
    user = await manage_users.get_by_email(pool, args.email)
    _, role = await manage_users.put_membership(pool, CLI_ACTOR, args.slug, user.id, args.role)
    print(f"{user.email} is now {role.value} in {args.slug}")


async def _users_remove_from_tenant(pool: Any, args: argparse.Namespace) -> None:
    user = await manage_users.get_by_email(pool, args.email)
    await manage_users.remove_membership(pool, CLI_ACTOR, args.slug, user.id)
    print(f"removed {user.email} from {args.slug}")


async def _keys_create(pool: Any, args: argparse.Namespace) -> None:
    owner = await manage_users.get_by_email(pool, args.user) if args.user else None
    settings = KeySettings(
        name=args.name,
        user_id=owner.id if owner else None,
        allowed_models=args.models,
        rpm=args.rpm,
        tpm=args.tpm,
        max_parallel=args.max_parallel,
        budget_usd=args.budget_usd,
        budget_period=args.budget_period,
        tags=_tags(args.tag),
        expires_at=args.expires,
        pinned_tags=_tags(args.pin),
    )
    created = await manage_keys.create(pool, CLI_ACTOR, args.tenant, settings)
    print(f"created key {created.key.name} ({created.key.id}) in {args.tenant}")
    print("the secret is shown once; store it now:")
    print(created.secret)


async def _keys_list(pool: Any, args: argparse.Namespace) -> None:
    tenant = await manage_tenants.get(pool, args.tenant)
    rows = await keys.list_in_tenant(pool, tenant.id, 10_000, 0)
    _table(
        ("PREFIX", "NAME", "STATE", "LAST USED", "EXPIRES", "ID"),
        [
            (
                k.prefix,
                k.name,
                "revoked" if k.revoked_at else "active",
                _when(k.last_used_at),
                _when(k.expires_at),
                k.id,
            )
            for k in rows
        ],
    )


async def _keys_revoke(pool: Any, args: argparse.Namespace) -> None:
    found = await _find_key(pool, args.key)
    key = await manage_keys.revoke(pool, CLI_ACTOR, found.tenant_id, found.id)
    print(f"revoked {key.prefix} ({key.id})")


async def _audit_list(pool: Any, args: argparse.Namespace) -> None:
    tenant_id = (await manage_tenants.get(pool, args.tenant)).id if args.tenant else None
    entries = await audit.list_entries(
        pool, AuditFilter(tenant_id=tenant_id, action=args.filter_action), args.limit, 0
    )
    _table(
        ("AT", "ACTOR", "ACTION", "TARGET", "FROM"),
        [
            (
                _when(e.at),
                e.actor_label or e.actor_id or e.actor_type,
                e.action,
                f"{e.target_type or ''}:{e.target_id or ''}",
                e.source_ip or "",
            )
            for e in entries
        ],
    )


async def _usage(pool: Any, args: argparse.Namespace) -> None:
    tenant_id = (await manage_tenants.get(pool, args.tenant)).id if args.tenant else None
    dimension, tag = parse_group_by(args.group_by)
    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=30)
    rows = await usage.report(pool, tenant_id, since, until, dimension, tag)
    _table(
        (
            args.group_by.upper(),
            "REQUESTS",
            "ERRORS",
            "CACHE HITS",
            "PROMPT TOK",
            "COMPLETION TOK",
            "COST USD",
        ),
        [
            (
                r["bucket"] or "-",
                r["requests"],
                r["errors"],
                r["cache_hits"],
                r["prompt_tokens"],
                r["completion_tokens"],
                f"{r['cost_usd']:.6f}",
            )
            for r in rows
        ],
    )


_COMMANDS: dict[str, Command] = {
    "migrate": _migrate,
    "usage": _usage,
    "tenants_create": _tenants_create,
    "tenants_list": _tenants_list,
    "tenants_suspend": _tenants_suspend,
    "tenants_activate": _tenants_activate,
    "users_create": _users_create,
    "users_list": _users_list,
    "users_add_to_tenant": _users_add_to_tenant,
    "users_remove_from_tenant": _users_remove_from_tenant,
    "keys_create": _keys_create,
    "keys_list": _keys_list,
    "keys_revoke": _keys_revoke,
    "audit_list": _audit_list,
}


# --- helpers for this module's arguments and output ---------------------------------------


async def _find_key(pool: Any, reference: str) -> Any:
    try:
        key_id = UUID(reference)
    except ValueError:
        matches = await keys.find_by_prefix(pool, reference.rstrip("…"))
        if len(matches) > 1:
            raise InvalidRequest(f"{reference!r} matches several keys; use the key id") from None
        if not matches:
            raise NotFound(f"no key matches {reference!r}") from None
        return matches[0]
    key = await keys.find_by_id(pool, key_id)
    if key is None:
        raise NotFound(f"no key {reference}")
    return key


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidRequest(f"tag {pair!r} is not KEY=VALUE", param="tag")
        tags[name] = value
    return tags


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
