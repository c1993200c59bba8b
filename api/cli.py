"""`wamux ...`: the console entry point (serve, migrate, users, instances, db, backups).

Every command ends with a summary line on stdout, or with ONE line on stderr saying what went
wrong and a non-zero exit code (2: bad configuration or arguments, 1: the command failed)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from api.settings import Settings

log = logging.getLogger("wamux.cli")


class CommandFailed(Exception):
    """A command's own failure: its message is the line shown."""


def describe(error: ValidationError) -> str:
    """`PORT: Input should be a valid integer (got 'abc')`: the variable, not the field."""
    parts = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "?"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {message} (got {item.get('input')!r})")
    return "; ".join(parts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wamux", description="WhatsApp multi-instance API server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "serve", help="start the server (HOST, PORT, DATA_DIR, ... from the environment)"
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    create = sub.add_parser("create-user", help="create a user and print its API key")
    create.add_argument("--email", required=True)
    create.add_argument("--password", help="read from the terminal (or stdin) when omitted")
    create.add_argument("--first-name", default="")
    create.add_argument("--last-name", default="")
    create.add_argument("--role", choices=["user", "admin"], default="user")
    reset = sub.add_parser("reset-password", help="set a user's password (its tokens stop working)")
    reset.add_argument("--email", required=True)
    reset.add_argument("--password", help="read from the terminal (or stdin) when omitted")
    rotate = sub.add_parser("rotate-api-key", help="give a user a new API key and print it")
    rotate.add_argument("--email", required=True)
    instances = sub.add_parser("instances", help="instances")
    instances_sub = instances.add_subparsers(dest="action", required=True)
    instances_sub.add_parser("list", help="every instance: id, owner, engine, status, phone")
    db = sub.add_parser("db", help="the database")
    db_sub = db.add_subparsers(dest="action", required=True)
    db_sub.add_parser("status", help="provider, schema revision and record counts")
    switch = db_sub.add_parser(
        "switch", help="use another provider from now on (server stopped); --migrate copies"
    )
    switch.add_argument("provider", choices=["sqlite", "postgresql", "mongodb"])
    switch.add_argument(
        "--migrate", action="store_true", help="copy every record into the (empty) target first"
    )
    export = sub.add_parser("export", help="write every record to one file (JSON lines)")
    export.add_argument("file", type=Path, help="the backup to write (.gz: compressed)")
    export.add_argument("--force", action="store_true", help="overwrite an existing file")
    load = sub.add_parser("import", help="read a backup into an EMPTY database")
    load.add_argument("file", type=Path, help="a file written by `wamux export`")
    load.add_argument(
        "--provider",
        choices=["sqlite", "postgresql", "mongodb"],
        help="into that provider's configured database (default: the one in use)",
    )
    worker = sub.add_parser(
        "engine-worker", help="internal: a neonize engine worker (the server starts these)"
    )
    worker.add_argument("--fd", type=int, required=True, help="the inherited socket")
    worker.add_argument("--worker-id", required=True)
    worker.add_argument("--instances-dir", type=Path, required=True)
    worker.add_argument("--max-clients", type=int, required=True)
    worker.add_argument("--log-level", default="info")
    return parser


def _password(given: str | None) -> str:
    if given is not None:
        return given
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise CommandFailed("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "engine-worker":
        # Before Settings: the server hands the worker everything it needs on the command line.
        from adapters.transport.neonize.worker import run

        return run(args.fd, args.instances_dir, args.max_clients, args.worker_id, args.log_level)

    try:
        settings = Settings()
        from api.databases import ChoiceFile, check_provider, choice_path

        # a provider this release cannot use: said before anything starts
        chosen = ChoiceFile(choice_path(settings)).load()
        check_provider(
            settings.model_copy(update={"database_provider": chosen}) if chosen else settings
        )
    except ValidationError as exc:  # a bad setting is a message naming it, not a traceback
        print(f"wamux: invalid configuration: {describe(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"wamux: invalid configuration: {exc}", file=sys.stderr)
        return 2
    from api import logs

    if args.command != "serve" and settings.log_level == "info":
        # A command's output is its summary; migrations' INFO lines would bury it.
        logs.configure("warning", settings.log_format)
    else:
        logs.configure(settings.log_level, settings.log_format)
    if args.command == "serve":
        from api.serve import serve

        serve(settings)
        return 0
    from api import commands

    try:
        asyncio.run(commands.run(settings, args, _password))
    except KeyboardInterrupt:
        print("wamux: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the operator; the trace only with LOG_LEVEL=debug
        log.debug("%s failed", args.command, exc_info=True)
        print(f"wamux {args.command}: {commands.one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
