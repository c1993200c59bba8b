"""The `wamux` commands other than serve: each builds the container (nothing is started:
no engine connects, no delivery goes out), runs one use case and prints its summary."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from api.bootstrap import Container, build
from api.databases import display_url
from api.settings import Settings
from domain.backup import Summary, export_lines, import_lines
from domain.errors import DomainError
from domain.operator import Operator
from domain.users import NewUser


def one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, DomainError | ValueError | OSError) else ""
    text = text or str(exc) or type(exc).__name__
    return " ".join(text.split())


async def run(settings: Settings, args: argparse.Namespace, password: Callable[[Any], str]) -> None:
    container = build(settings)
    try:
        if args.command == "migrate":
            await container.storage.migrate()
            print(f"database at schema {await container.inventory.stored_version()}")
        elif args.command == "db" and args.action == "switch":
            await container.storage.migrate()
            await _db_switch(container, args.provider, args.migrate)
        elif args.command == "db":
            await _db_status(container)
        elif args.command == "instances":
            await _instances(container)
        elif args.command == "export":
            await _export(container, args.file, args.force)
        else:
            await container.storage.migrate()
            if args.command == "import":
                await _import(container, args.file, args.provider)
            elif args.command == "create-user":
                user, api_key = await container.accounts.register(
                    NewUser(
                        args.email,
                        password(args.password),
                        args.first_name,
                        args.last_name,
                        args.role,
                    ),
                    check_password=True,
                )
                print(f"created {user.role.value} {user.email} id={user.id}")
                print(f"api key: {api_key}")
            elif args.command == "reset-password":
                user = await _operator(container).reset_password(
                    args.email, password(args.password)
                )
                print(f"password of {user.email} changed; tokens issued before no longer work")
            elif args.command == "rotate-api-key":
                user, api_key = await _operator(container).rotate_api_key(args.email)
                print(f"new api key of {user.email}: {api_key}")
    finally:
        await container.storage.close()


def _operator(c: Container) -> Operator:
    return Operator(c.storage.unit_of_work, c.accounts)


async def _instances(c: Container) -> None:
    rows = await _operator(c).instances()
    print(f"{'ID':36}  {'OWNER':28}  {'ENGINE':8}  {'STATUS':12}  {'PHONE':16}  NAME")
    for instance, owner in rows:
        print(
            f"{instance.id:36}  {owner[:28]:28}  {instance.engine.value:8}  "
            f"{instance.status.value:12}  {(instance.phone or '-'):16}  {instance.name}"
        )
    print(f"{len(rows)} instance(s)")


async def _db_status(c: Container) -> None:
    inventory = c.inventory
    stored = await inventory.stored_version()
    head = inventory.schema_version()
    provider = c.settings.database_provider
    print(f"provider: {provider} ({display_url(c.settings, provider)})")
    state = "current" if stored == head else "needs `wamux migrate`"
    print(f"schema:   {stored or 'none'} (this release: {head}; {state})")
    if stored is None:
        return
    async with inventory.snapshot() as snap:
        counts = {kind: await snap.count(kind) for kind in inventory.kinds()}
    for kind, n in counts.items():
        print(f"  {kind:20} {n}")
    print(f"{sum(counts.values())} record(s)")


def _bar(total: int | None = None) -> tqdm[Any]:
    # Shown on a terminal only; a pipe or a log file gets the summary line alone.
    return tqdm(total=total, unit=" records", file=sys.stderr, disable=not sys.stderr.isatty())


@contextmanager
def _opened(path: Path, mode: str, packed: bool) -> Iterator[IO[str]]:
    if mode == "w":
        # 0600 from the first byte: a backup holds password hashes and sealed keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        raw: IO[bytes] = os.fdopen(fd, "wb")
    else:
        raw = open(path, "rb")
    with raw:
        if packed:
            with gzip.open(raw, mode + "t", encoding="utf-8") as unpacked:
                yield unpacked  # type: ignore[misc]
        else:
            with open(raw.fileno(), mode, encoding="utf-8", closefd=False) as text:
                yield text


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")


async def _export(c: Container, path: Path, force: bool) -> None:
    _refuse_overwrite(path, force)
    summary = Summary()
    partial = path.with_name(path.name + ".partial")
    with _bar() as bar, _opened(partial, "w", path.suffix == ".gz") as out:
        lines = export_lines(c.inventory, summary, lambda n: setattr(bar, "total", n), bar.update)
        async for line in lines:
            out.write(line)
    partial.replace(path)  # a file under the final name is always whole
    print(f"exported {summary.total} records to {path}: {_counts(summary)}")


async def _import(c: Container, path: Path, provider: str | None) -> None:
    summary = Summary()
    into = None
    if provider is not None and provider != c.databases.provider:
        into = await c.databases.prepared(provider)  # pinged and migrated
    inventory = into.inventory if into is not None else c.inventory
    try:
        with _bar() as bar, _opened(path, "r", path.suffix == ".gz") as source:
            await import_lines(
                inventory, source, summary, lambda n: setattr(bar, "total", n), bar.update
            )
    finally:
        if into is not None:
            await into.storage.close()
    where = f" into {provider}" if into is not None else ""
    print(f"imported {summary.total} records from {path}{where}: {_counts(summary)}")


async def _db_switch(c: Container, provider: str, migrate: bool) -> None:
    with _bar() as bar:
        result = await c.databases.run(
            provider,
            migrate,
            lambda n: setattr(bar, "total", n),
            bar.update,
            move_instances=False,  # offline: nothing runs here
        )
    if result.migrated is None:
        print(f"switched to {provider} (nothing copied); the server will use it from its start")
    else:
        copied = ", ".join(f"{kind}: {n}" for kind, n in result.migrated.items() if n) or "none"
        print(
            f"switched to {provider}, {sum(result.migrated.values())} records on the target "
            f"({copied}); the server will use it from its start"
        )


def _counts(summary: Summary) -> str:
    return ", ".join(f"{k} {n}" for k, n in summary.counts.items() if n) or "nothing"
