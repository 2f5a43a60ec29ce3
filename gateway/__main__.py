"""The `gateway` command: serve, check-config, and the management commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from gateway import admin_cli, logs, server
from gateway.config import (
    ConfigError,
    GatewayConfig,
    load_gateway_config,
    load_routing_config,
    with_server_overrides,
)
from gateway.credentials import resolve_credentials
from gateway.demo import demo_routing
from gateway.routing.schema import RoutingConfig
from gateway.store.database import create_pool, resolve_dsn
from gateway.store.migrations import migrate

DEFAULT_CONFIG = Path("config/gateway.yaml")
DEFAULT_ROUTING = Path("config/routing.yaml")
DSN_ENV_VAR = "MODEL_BRIDGE_DATABASE_URL"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config, routing, routing_path = _load(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 1
    if args.command == "check-config":
        print(f"ok: {len(routing.providers)} providers, {len(routing.models)} models")
        return 0
    logs.configure(config.logging.level, config.logging.format)
    dsn = resolve_dsn(_database_url(config), config.server.data_dir)
    if args.command != "serve":
        return asyncio.run(_manage(dsn, args))
    if getattr(args, "no_migrate", False):
        database = config.database.model_copy(update={"migrate_on_start": False})
        config = config.model_copy(update={"database": database})
    try:
        credentials, generated = resolve_credentials(config, os.environ)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    if generated:
        path = config.server.data_dir / "master_key"
        print(
            f"Generated a master key (saved to {path}, shown once):\n{credentials.master_key}",
            flush=True,
        )
    if args.as_worker or config.server.workers == 1:
        server.run_worker(
            config, routing, credentials, dsn, routing_path, reuse_port=args.as_worker
        )
        return 0
    # Workers share what was resolved here: the database (an embedded one is running now)
    # and the credentials.
    env = {**os.environ, **credentials.as_env(), DSN_ENV_VAR: dsn}
    raw_argv = argv if argv is not None else sys.argv[1:]
    return server.supervise(server.worker_command(raw_argv), config.server.workers, env)


async def _manage(dsn: str, args: argparse.Namespace) -> int:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        if args.command != "migrate":  # the commands need the current schema, as serve does
            async with pool.acquire() as connection:
                await migrate(connection)
        return await admin_cli.run(admin_cli.command_for(args), pool, args)
    finally:
        await pool.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Model Bridge LLM gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="bind address (env MODEL_BRIDGE_HOST)")
    serve.add_argument("--port", type=int, help="port (env MODEL_BRIDGE_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes sharing the port")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    # Set by the supervisor on the processes it starts.
    serve.add_argument("--as-worker", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("check-config", help="validate the config files, exit 0 or 1")
    admin_cli.add_commands(commands)
    for command in _leaves(parser):
        command.add_argument("--config", type=Path, help="gateway.yaml (env MODEL_BRIDGE_CONFIG)")
        command.add_argument("--routing", type=Path, help="routing.yaml (env MODEL_BRIDGE_ROUTING)")
    return parser


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that end a command line, so `--config` may follow the whole command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [leaf for child in action.choices.values() for leaf in _leaves(child)]
    return [parser]


def _load(args: argparse.Namespace) -> tuple[GatewayConfig, RoutingConfig, Path | None]:
    config_path = _path(args.config, "MODEL_BRIDGE_CONFIG", DEFAULT_CONFIG)
    routing_path = _path(args.routing, "MODEL_BRIDGE_ROUTING", DEFAULT_ROUTING)
    config = load_gateway_config(config_path)
    routing = load_routing_config(routing_path) if routing_path else demo_routing()
    overrides = {
        "host": getattr(args, "host", None) or os.environ.get("MODEL_BRIDGE_HOST"),
        "port": getattr(args, "port", None) or os.environ.get("MODEL_BRIDGE_PORT"),
        "workers": getattr(args, "workers", None),
    }
    return with_server_overrides(config, overrides), routing, routing_path


def _database_url(config: GatewayConfig) -> str | None:
    if os.environ.get(DSN_ENV_VAR):
        return os.environ[DSN_ENV_VAR]
    return config.database.url.get_secret_value() if config.database.url else None


def _path(flag: Path | None, env_var: str, default: Path) -> Path | None:
    """An explicit path must exist; the default is used only when present."""
    if flag is not None:
        return flag
    if os.environ.get(env_var):
        return Path(os.environ[env_var])
    return default if default.exists() else None


if __name__ == "__main__":
    logging.captureWarnings(True)
    sys.exit(main())
