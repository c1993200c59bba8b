"""SQL repository of contacts."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.storage.sql.pages import per_key
from adapters.storage.sql.prepared import PREFIX, TEXT_LIST, Prepared, one_of, raw_columns
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import contacts
from domain.entities import Contact

_CONTACT_FIELDS = (
    "id", "instance_id", "number", "remote_jid", "is_group", "name", "push_name",
    "profile_picture", "about", "last_activity", "created_at", "updated_at",
)  # fmt: skip


_TABLE_ORDER = tuple(c.name for c in contacts.columns)


def _touch_statement(dialect: str) -> Any:
    """Insert, or on the same (instance, remoteJid) move its activity and take a new push
    name if one is given: one statement, no read first."""
    dialect_insert = (postgresql if dialect == "postgresql" else sqlite).insert
    stmt = dialect_insert(contacts).values({n: bindparam(PREFIX + n) for n in _CONTACT_FIELDS})
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[contacts.c.instance_id, contacts.c.remote_jid],
        set_={
            "push_name": func.coalesce(new.push_name, contacts.c.push_name),
            "last_activity": new.last_activity,
            "updated_at": new.updated_at,
        },
    )


_TOUCH = Prepared(_touch_statement, {n: contacts.c[n].type for n in _CONTACT_FIELDS})

# Kept by an upsert of an existing (instance, remoteJid): the row's identity.
_KEPT = ("id", "instance_id", "remote_jid", "created_at")


def _upsert_statement(dialect: str) -> Any:
    """Insert, or replace every field but the row's identity: one statement, so two saves
    of one number racing on PostgreSQL cannot both insert."""
    dialect_insert = (postgresql if dialect == "postgresql" else sqlite).insert
    stmt = dialect_insert(contacts).values({n: bindparam(PREFIX + n) for n in _CONTACT_FIELDS})
    return stmt.on_conflict_do_update(
        index_elements=[contacts.c.instance_id, contacts.c.remote_jid],
        set_={n: stmt.excluded[n] for n in _CONTACT_FIELDS if n not in _KEPT},
    )


_UPSERT = Prepared(_upsert_statement, {n: contacts.c[n].type for n in _CONTACT_FIELDS})


def _contact(row: Any) -> Contact:
    """From a row that starts with the `contacts` columns, by position (see messages.py)."""
    return Contact(**dict(zip(_TABLE_ORDER, row, strict=False)))


_RAW = raw_columns(contacts)


def _many(dialect: str) -> Any:
    """An instance's contacts among some JIDs, bound as one list (`one_of`)."""
    return select(contacts).where(
        contacts.c.instance_id == bindparam(PREFIX + "instance_id"),
        one_of(contacts.c.remote_jid, PREFIX + "remote_jids", dialect),
    )


# Prepared: the conversation list asks for a page's contacts on every call, and building an
# IN list of 50 values cost more than SQLite finding them.
_MANY = Prepared(_many, {"instance_id": contacts.c.instance_id.type, "remote_jids": TEXT_LIST})


_SORT_NAME = func.coalesce(contacts.c.name, contacts.c.push_name, contacts.c.number)


def _filters(
    instance_id: str, search: str | None, only_groups: bool, dialect: str = "sqlite"
) -> list[Any]:
    where: list[Any] = [contacts.c.instance_id == instance_id]
    if only_groups:
        where.append(contacts.c.is_group.is_(True))
    if search:
        # SQLite's lower() is Python's casefold here (uow.py); PostgreSQL's folds by the
        # database's LC_CTYPE (any UTF-8 locale folds "Алиса"), as str.lower() does.
        term = search.casefold() if dialect == "sqlite" else search.lower()
        where.append(
            or_(
                func.lower(contacts.c.name).contains(term, autoescape=True),
                func.lower(contacts.c.push_name).contains(term, autoescape=True),
                contacts.c.number.contains(term, autoescape=True),
            )
        )
    return where


class SqlContacts:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def _dialect(self) -> str:
        bind = self._s.bind
        return bind.dialect.name if bind is not None else "sqlite"

    async def get(self, instance_id: str, remote_jid: str) -> Contact | None:
        query = select(contacts).where(
            contacts.c.instance_id == instance_id, contacts.c.remote_jid == remote_jid
        )
        row = (await self._s.execute(query)).first()
        return _contact(row) if row else None

    async def get_many(self, instance_id: str, remote_jids: Sequence[str]) -> dict[str, Contact]:
        if not remote_jids:
            return {}
        values = {"instance_id": instance_id, "remote_jids": list(remote_jids)}
        found = [Contact(**_RAW(row)) for row in await self._s.fetch(_MANY, values)]
        return {contact.remote_jid: contact for contact in found}

    async def find(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        query = select(contacts).where(
            tuple_(contacts.c.instance_id, contacts.c.remote_jid).in_(wanted)
        )
        return {(r.instance_id, r.remote_jid): _contact(r) for r in await self._s.execute(query)}

    async def upsert(self, contact: Contact) -> None:
        await self._s.write(_UPSERT, {name: getattr(contact, name) for name in _CONTACT_FIELDS})

    async def touch(self, contact: Contact) -> None:
        await self._s.write(_TOUCH, {name: getattr(contact, name) for name in _CONTACT_FIELDS})

    async def list(
        self,
        instance_id: str,
        *,
        search: str | None,
        only_groups: bool,
        limit: int,
        skip: int,
    ) -> tuple[list[Contact], int]:
        condition = and_(*_filters(instance_id, search, only_groups, self._dialect()))
        total = (
            await self._s.execute(select(func.count()).select_from(contacts).where(condition))
        ).scalar_one()
        rows = await self._s.execute(
            select(contacts)
            .where(condition)
            .order_by(_SORT_NAME, contacts.c.id)
            .limit(limit)
            .offset(skip)
        )
        return [_contact(r) for r in rows], total

    async def page(
        self,
        instance_ids: Sequence[str],
        *,
        search: str | None,
        only_groups: bool,
        after: tuple[str, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[Contact]]:
        def page_of(instance_id: str) -> Any:
            where = _filters(instance_id, search, only_groups, self._dialect())
            if after is not None:
                name, last_id = after
                where.append(
                    or_(_SORT_NAME > name, and_(_SORT_NAME == name, contacts.c.id > last_id))
                )
            return (
                select(contacts, _SORT_NAME.label("sort_name"))
                .where(*where)
                .order_by(_SORT_NAME, contacts.c.id)
                .limit(limit)
            )

        found: dict[str, list[Contact]] = {i: [] for i in instance_ids}
        order = [("sort_name", False), ("id", False)]
        for row in await per_key(self._s.execute, instance_ids, page_of, order):
            found[row.instance_id].append(_contact(row))
        return found
