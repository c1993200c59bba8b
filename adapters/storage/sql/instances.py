"""SQL repository of instances, and the removal of everything an instance owns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select

from adapters.storage.sql.cache import SqlCache, copy_instance
from adapters.storage.sql.events import IN_CHUNK
from adapters.storage.sql.prepared import PREFIX, Prepared, raw_columns
from adapters.storage.sql.sealing import open_webhook, seal_webhook
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import (
    activity_logs,
    chat_summaries,
    contacts,
    events,
    instances,
    limit_notices,
    media,
    messages,
    usage_daily,
    webhook_deliveries,
)
from domain.entities import Engine, Instance, InstanceStatus, WebhookSettings
from domain.ports import SecretBox

# Every table with an instance_id column: removing an instance removes its rows in each.
_OWNED_BY_INSTANCE = (
    chat_summaries,
    messages,
    contacts,
    media,
    webhook_deliveries,
    usage_daily,
    limit_notices,
    events,
    activity_logs,
)


_UPDATE = Prepared.update_by_id(instances, [c.name for c in instances.columns if c.name != "id"])


def _instance(row: Any, box: SecretBox) -> Instance:
    """From a row of the `instances` columns: a `fetch` row (raw values) or a Row."""
    values = _RAW(row)
    return Instance(
        id=values["id"],
        user_id=values["user_id"],
        name=values["name"],
        description=values["description"],
        engine=Engine(values["engine"]),
        status=InstanceStatus(values["status"]),
        status_reason=values["status_reason"],
        will_reconnect=values["will_reconnect"],
        qr_code=values["qr_code"],
        qr_attempt=values["qr_attempt"],
        phone=values["phone"],
        push_name=values["push_name"],
        webhook_url=values["webhook_url"],
        webhook_enabled=values["webhook_enabled"],
        webhook=WebhookSettings(**open_webhook(values["webhook"], box)),
        options=dict(values["options"] or {}),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        last_activity_at=values["last_activity_at"],
        limits=dict(values["limits"] or {}),
    )


_RAW = raw_columns(instances)
# Prepared: every call on an instance reads it (on SQLite from the cache, mostly).
_GET = Prepared(
    lambda _dialect: select(instances).where(instances.c.id == bindparam(PREFIX + "id")),
    {"id": instances.c.id.type},
)


def _instance_values(instance: Instance, box: SecretBox) -> dict[str, Any]:
    return {
        "id": instance.id,
        "user_id": instance.user_id,
        "name": instance.name,
        "description": instance.description,
        "engine": instance.engine.value,
        "status": instance.status.value,
        "status_reason": instance.status_reason,
        "will_reconnect": instance.will_reconnect,
        "qr_code": instance.qr_code,
        "qr_attempt": instance.qr_attempt,
        "phone": instance.phone,
        "push_name": instance.push_name,
        "webhook_url": instance.webhook_url,
        "webhook_enabled": instance.webhook_enabled,
        "webhook": seal_webhook(vars(instance.webhook), box),
        "options": instance.options,
        "created_at": instance.created_at,
        "updated_at": instance.updated_at,
        "last_activity_at": instance.last_activity_at,
        "limits": instance.limits,
    }


class SqlInstances:
    def __init__(
        self,
        session: SqlSession,
        box: SecretBox,
        cache: SqlCache | None = None,
        *,
        writes: bool = True,
    ) -> None:
        self._s = session
        self._box = box  # seals the webhook secret and headers (see sealing.py)
        self._cache = cache
        self._writes = writes  # on the writer (True) or a pooled read-only connection
        # Reads answered from the cache: on the one writer always; on a server database only
        # in read-only units (a unit that writes reads what it changes from the database).
        self._reads = cache if cache is not None and (cache.one_writer or not writes) else None
        # what this unit wrote, for its own reads (the cache has it only once applied)
        self._written: dict[str, Instance | None] = {}

    def _wrote(self, instance_id: str, instance: Instance | None, *, added: bool) -> None:
        cache = self._cache
        if cache is None:
            return
        self._written[instance_id] = copy_instance(instance) if instance else None
        rows = cache.instances
        if added and instance is not None:
            kept = copy_instance(instance)
            self._s.after_commit(lambda: rows.put(instance_id, kept))
            return
        # Forgotten, not replaced: an UPDATE of a row deleted meanwhile must not bring the
        # instance back. Instances change rarely; the next read fills the cache again.
        self._s.after_commit(lambda: rows.applied(instance_id), lambda: rows.committed(instance_id))
        if instance is None:
            self._s.after_commit(cache.usage.clear)  # its counters went with it

    async def add(self, instance: Instance) -> None:
        await self._s.execute(insert(instances).values(**_instance_values(instance, self._box)))
        self._wrote(instance.id, instance, added=True)

    async def get(self, instance_id: str) -> Instance | None:
        cache = self._reads
        if cache is not None:
            if self._writes:
                await self._s.hold()
            if instance_id in self._written:
                mine = self._written[instance_id]
                return copy_instance(mine) if mine else None
            hit = cache.instances.get(instance_id)
            if hit is not None:
                return hit
            version = cache.instances.version(instance_id)
        rows = await self._s.fetch(_GET, {"id": instance_id})
        found = _instance(rows[0], self._box) if rows else None
        if cache is not None and found is not None:
            cache.instances.fill(instance_id, found, version, writer=self._writes)
        return found

    async def get_many(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        """Like `get` for each id, with one statement for all those the cache lacks."""
        cache = self._reads
        found: dict[str, Instance] = {}
        missing: list[str] = []
        versions: dict[str, Any] = {}
        if cache is not None and self._writes and instance_ids:
            await self._s.hold()
        for instance_id in dict.fromkeys(instance_ids):
            if cache is not None:
                if instance_id in self._written:
                    mine = self._written[instance_id]
                    if mine is not None:
                        found[instance_id] = copy_instance(mine)
                    continue
                hit = cache.instances.get(instance_id)
                if hit is not None:
                    found[instance_id] = hit
                    continue
                versions[instance_id] = cache.instances.version(instance_id)
            missing.append(instance_id)
        for start in range(0, len(missing), IN_CHUNK):
            chunk = missing[start : start + IN_CHUNK]
            rows = await self._s.execute(select(instances).where(instances.c.id.in_(chunk)))
            for row in rows:
                instance = _instance(row, self._box)
                found[instance.id] = instance
                if cache is not None:
                    cache.instances.fill(
                        instance.id, instance, versions[instance.id], writer=self._writes
                    )
        return found

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        query = select(instances).order_by(instances.c.created_at, instances.c.id)
        if user_id is not None:
            query = query.where(instances.c.user_id == user_id)
        return [_instance(r, self._box) for r in await self._s.execute(query)]

    async def update(self, instance: Instance) -> None:
        # Prepared: building `update().values(**row)` for 20 columns cost ~1 ms of CPU, and
        # every connection report (1,000 instances coming back after a restart) updates one.
        await self._s.write(_UPDATE, _instance_values(instance, self._box))
        self._wrote(instance.id, instance, added=False)

    async def delete(self, instance_id: str) -> None:
        # Explicit rather than ON DELETE CASCADE, so every backend removes the same rows.
        for table in _OWNED_BY_INSTANCE:
            await self._s.execute(delete(table).where(table.c.instance_id == instance_id))
        await self._s.execute(delete(instances).where(instances.c.id == instance_id))
        self._wrote(instance_id, None, added=False)
