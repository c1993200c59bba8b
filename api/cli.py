"""`wamux serve | migrate | create-user | engine-worker`: the console entry point."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from pathlib import Path

from api.settings import Settings


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces each of its plugins at INFO; only the migrations themselves matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def serve(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(settings)
    # The modules' objects live as long as the process: out of the collector's sight, a full
    # collection under load walks only what requests create (shorter pauses, lower p99).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Access lines are written at INFO: above it, uvicorn would still build each one.
        access_log=settings.log_level.lower() in ("trace", "debug", "info"),
    )


async def _migrate(settings: Settings) -> None:
    from adapters.security import FernetBox
    from adapters.storage.sql.uow import SqlStorage

    # The box seals secrets that older releases stored in the clear (migration 0004).
    storage = SqlStorage(settings.sql_url(), FernetBox(settings.resolve_jwt_secret()))
    await storage.migrate()
    await storage.close()


async def _create_user(settings: Settings, args: argparse.Namespace) -> None:
    from api.bootstrap import build
    from domain.users import NewUser

    container = build(settings)
    await container.storage.migrate()
    user, api_key = await container.accounts.register(
        NewUser(args.email, args.password, args.first_name, args.last_name, args.role),
        check_password=True,
    )
    await container.storage.close()
    print(f"created {user.role.value} {user.email} id={user.id}")
    print(f"api key: {api_key}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wamux", description="WhatsApp multi-instance API server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "serve", help="start the server (HOST, PORT, DATA_DIR, ... from the environment)"
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    create = sub.add_parser("create-user", help="create a user and print its API key")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--first-name", default="")
    create.add_argument("--last-name", default="")
    create.add_argument("--role", choices=["user", "admin"], default="user")
    worker = sub.add_parser(
        "engine-worker", help="internal: a neonize engine worker (the server starts these)"
    )
    worker.add_argument("--fd", type=int, required=True, help="the inherited socket")
    worker.add_argument("--worker-id", required=True)
    worker.add_argument("--instances-dir", type=Path, required=True)
    worker.add_argument("--max-clients", type=int, required=True)
    worker.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.command == "engine-worker":
        # Before Settings: the server hands the worker everything it needs on the command line.
        from adapters.transport.neonize.worker import run

        return run(args.fd, args.instances_dir, args.max_clients, args.worker_id, args.log_level)

    try:
        settings = Settings()
    except Exception as exc:  # a bad setting is a message, not a traceback
        print(f"wamux: invalid configuration: {exc}", file=sys.stderr)
        return 2
    _logging(settings.log_level)
    try:
        if args.command == "serve":
            serve(settings)
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        else:
            asyncio.run(_create_user(settings, args))
    except ValueError as exc:
        print(f"wamux: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
