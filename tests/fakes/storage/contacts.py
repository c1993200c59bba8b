"""The fake ContactRepository."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Sequence
from typing import Any

from domain.entities import Contact
from tests.fakes.storage.state import require_instance


def _sort_name(c: Contact) -> str:
    """COALESCE(name, push_name, number): an empty string is a value, only None is skipped."""
    if c.name is not None:
        return c.name
    return c.push_name if c.push_name is not None else c.number


class MemoryContacts:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def get(self, instance_id: str, remote_jid: str) -> Contact | None:
        contacts = self.t["contacts"].values()
        found = (c for c in contacts if c.instance_id == instance_id and c.remote_jid == remote_jid)
        return copy.deepcopy(next(found, None))

    async def get_many(self, instance_id: str, remote_jids: Sequence[str]) -> dict[str, Contact]:
        wanted = set(remote_jids)
        return {
            c.remote_jid: copy.deepcopy(c)
            for c in self.t["contacts"].values()
            if c.instance_id == instance_id and c.remote_jid in wanted
        }

    async def find(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
        wanted = set(keys)
        return {
            (c.instance_id, c.remote_jid): copy.deepcopy(c)
            for c in self.t["contacts"].values()
            if (c.instance_id, c.remote_jid) in wanted
        }

    async def upsert(self, contact: Contact) -> None:
        existing = await self.get(contact.instance_id, contact.remote_jid)
        stored = copy.deepcopy(contact)
        if existing is None:
            require_instance(self.t, contact.instance_id)
            if contact.id in self.t["contacts"]:
                raise ValueError("unique id")
        else:
            stored.id, stored.created_at = existing.id, existing.created_at
        self.t["contacts"][stored.id] = stored

    async def touch(self, contact: Contact) -> None:
        existing = await self.get(contact.instance_id, contact.remote_jid)
        if existing is None:
            await self.upsert(contact)
            return
        if contact.push_name is not None:
            existing.push_name = contact.push_name
        existing.last_activity = contact.last_activity
        existing.updated_at = contact.updated_at
        self.t["contacts"][existing.id] = existing

    async def list(
        self,
        instance_id: str,
        *,
        search: str | None,
        only_groups: bool,
        limit: int,
        skip: int,
    ) -> tuple[list[Contact], int]:
        term = search.lower() if search else None

        def matches(c: Contact) -> bool:
            fields = (c.name, c.push_name, c.number)
            return term is None or any(term in f.lower() for f in fields if f is not None)

        found = [
            c
            for c in self.t["contacts"].values()
            if c.instance_id == instance_id and (c.is_group or not only_groups) and matches(c)
        ]
        found.sort(key=lambda c: (_sort_name(c), c.id))
        return copy.deepcopy(found[skip : skip + limit]), len(found)

    async def page(
        self,
        instance_ids: Sequence[str],
        *,
        search: str | None,
        only_groups: bool,
        after: tuple[str, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[Contact]]:
        found: dict[str, list[Contact]] = {}
        for instance_id in instance_ids:
            page, _ = await self.list(
                instance_id, search=search, only_groups=only_groups, limit=10**9, skip=0
            )
            if after is not None:
                page = [c for c in page if (_sort_name(c), c.id) > after]
            found[instance_id] = page[:limit]
        return found
