"""The management commands as an operator runs them: one clear line on error, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def gateway(dsn: str, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "MODEL_BRIDGE_DATABASE_URL": dsn},
    )
    assert "Traceback" not in result.stderr + result.stdout
    return result.returncode, result.stdout, result.stderr


def test_tenant_user_key_lifecycle_and_errors(pg_dsn: str) -> None:
    assert gateway(pg_dsn, "migrate")[1].strip().startswith("applied 0001_")
    assert gateway(pg_dsn, "migrate")[1].strip() == "up to date"
    assert gateway(pg_dsn, "tenants", "create", "acme", "--name", "Acme")[0] == 0
    code, _, err = gateway(pg_dsn, "tenants", "create", "acme", "--name", "Again")
    assert code == 1 and err.strip() == "error: a tenant with slug 'acme' already exists"
    code, _, err = gateway(pg_dsn, "tenants", "create", "Bad Slug", "--name", "x")
    assert code == 1 and "slug must be" in err
    assert "acme" in gateway(pg_dsn, "tenants", "list")[1]

    code, out, _ = gateway(
        pg_dsn,
        "users",
        "create",
        "Ada@Acme.example",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert code == 0 and "created user Ada@Acme.example" in out
    code, _, err = gateway(
        pg_dsn,
        "users",
        "create",
        "ada@acme.example",
        "--password-stdin",
        stdin="another password!\n",
    )
    assert code == 1 and "already exists" in err
    code, _, err = gateway(
        pg_dsn, "users", "add-to-tenant", "ada@acme.example", "acme", "--role", "king"
    )
    assert code == 1 and "owner, admin, member, viewer" in err
    assert (
        gateway(pg_dsn, "users", "add-to-tenant", "ada@acme.example", "acme", "--role", "admin")[0]
        == 0
    )

    code, out, _ = gateway(
        pg_dsn,
        "keys",
        "create",
        "--tenant",
        "acme",
        "--name",
        "ci",
        "--models",
        "demo",
        "--expires",
        "2099-01-01",
        "--tag",
        "cost_center=research",
        "--rpm",
        "60",
    )
    secret = out.strip().splitlines()[-1]
    assert code == 0 and secret.startswith("sk-mb-") and len(secret) > 40
    listing = gateway(pg_dsn, "keys", "list", "--tenant", "acme")[1]
    assert secret not in listing and secret[:10] in listing and "active" in listing
    prefix = next(line.split()[0] for line in listing.splitlines()[1:])
    assert gateway(pg_dsn, "keys", "revoke", prefix)[0] == 0
    assert "revoked" in gateway(pg_dsn, "keys", "list", "--tenant", "acme")[1]
    code, _, err = gateway(pg_dsn, "keys", "revoke", "sk-mb-nope")
    assert code == 1 and "no key matches" in err

    assert gateway(pg_dsn, "users", "remove-from-tenant", "ada@acme.example", "acme")[0] == 0
    audit = gateway(pg_dsn, "audit", "list")[1]
    for action in (
        "tenant.create",
        "user.create",
        "membership.create",
        "key.create",
        "key.revoke",
        "membership.delete",
    ):
        assert action in audit, action
    assert secret not in audit
