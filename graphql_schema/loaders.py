"""DataLoaders: the nested fields of a query (each instance's chats, chat, events, activity,
contacts and webhook deliveries, each chat's messages, quoted messages, a chat's contact,
today's usage, owners) are gathered per level and read with one use-case call (one storage
query) per level and set of arguments, however many parents there are.

They do not cache: a websocket keeps its context for hours, and a subscription's answers
must not come from an earlier operation. Batching is what they are for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from strawberry.dataloader import DataLoader

from domain.entities import ActivityLog, ChatSummary, Contact, Event, Message, Principal, User
from domain.entities import Instance as InstanceEntity
from domain.webhooks import WebhookDelivery

if TYPE_CHECKING:
    from graphql_schema.context import Context

K = TypeVar("K")
V = TypeVar("V")
Before = tuple[datetime, str] | None
# (instance, page size, position, filters...): the keys of one batch share all but the first.
ActivityKey = tuple[
    InstanceEntity, int, Before, tuple[str, ...] | None, datetime | None, datetime | None
]
# (instance, page size, after this timestamp, types, the newest page rather than the oldest)
EventKey = tuple[InstanceEntity, int | None, int | None, tuple[str, ...] | None, bool]
ContactKey = tuple[InstanceEntity, int, tuple[str, str] | None, str | None, bool]
DeliveryKey = tuple[InstanceEntity, int, int | None, str | None, str | None]


def _grouped(
    group_of: Callable[[K], Hashable],
    load_group: Callable[[list[K]], Awaitable[list[V]]],
) -> Callable[[list[K]], Awaitable[list[V]]]:
    """One call per group of keys that share their arguments (page size, cursor)."""

    async def load(keys: list[K]) -> list[V]:
        groups: dict[Hashable, list[int]] = {}
        for index, key in enumerate(keys):
            groups.setdefault(group_of(key), []).append(index)
        answers: list[Any] = [None] * len(keys)
        for indexes in groups.values():
            found = await load_group([keys[i] for i in indexes])
            for i, value in zip(indexes, found, strict=True):
                answers[i] = value
        return answers

    return load


class Loaders:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.recent_chats = DataLoader[
            tuple[InstanceEntity, int | None, Before], list[ChatSummary]
        ](_grouped(lambda k: (k[1], k[2]), self._recent_chats), cache=False)
        self.latest_messages = DataLoader[
            tuple[InstanceEntity, str, int | None, Before], list[Message]
        ](_grouped(lambda k: (k[2], k[3]), self._latest_messages), cache=False)
        self.message = DataLoader[tuple[InstanceEntity, str], Message | None](
            self._messages, cache=False
        )
        self.contact = DataLoader[tuple[InstanceEntity, str], Contact | None](
            self._contacts, cache=False
        )
        self.usage_today = DataLoader[InstanceEntity, dict[str, int]](
            self._usage_today, cache=False
        )
        self.user = DataLoader[str, User | None](self._users, cache=False)
        self.chat = DataLoader[tuple[InstanceEntity, str], ChatSummary | None](
            self._chats, cache=False
        )
        self.activity = DataLoader[ActivityKey, list[ActivityLog]](
            _grouped(lambda k: k[1:], self._activity), cache=False
        )
        self.events = DataLoader[EventKey, tuple[list[Event], bool]](
            _grouped(lambda k: k[1:], self._events), cache=False
        )
        self.contacts = DataLoader[ContactKey, list[Contact]](
            _grouped(lambda k: k[1:], self._contact_pages), cache=False
        )
        self.deliveries = DataLoader[DeliveryKey, list[WebhookDelivery]](
            _grouped(lambda k: k[1:], self._deliveries), cache=False
        )

    async def _principal(self) -> Principal:
        return await self._context.principal()

    @property
    def _c(self) -> Any:
        return self._context.container

    async def _recent_chats(
        self, keys: list[tuple[InstanceEntity, int | None, Before]]
    ) -> list[list[ChatSummary]]:
        _, limit, before = keys[0]
        found = await self._c.messaging.recent_chats(
            await self._principal(), [k[0] for k in keys], limit=limit, before=before
        )
        return [found.get(k[0].id, []) for k in keys]

    async def _latest_messages(
        self, keys: list[tuple[InstanceEntity, str, int | None, Before]]
    ) -> list[list[Message]]:
        _, _, limit, before = keys[0]
        chats = [(k[0], k[1]) for k in keys]
        found: list[list[Message]] = await self._c.messaging.latest(
            await self._principal(), chats, limit=limit, before=before
        )
        return found

    async def _messages(self, keys: list[tuple[InstanceEntity, str]]) -> list[Message | None]:
        found = await self._c.messaging.by_ids(await self._principal(), keys)
        return [found.get((i.id, message_id)) for i, message_id in keys]

    async def _contacts(self, keys: list[tuple[InstanceEntity, str]]) -> list[Contact | None]:
        found = await self._c.contacts.for_chats(await self._principal(), keys)
        return [found.get((i.id, jid)) for i, jid in keys]

    async def _usage_today(self, keys: list[InstanceEntity]) -> list[dict[str, int]]:
        found = await self._c.usage.today_for(await self._principal(), keys)
        return [found[i.id] for i in keys]

    async def _users(self, keys: Sequence[str]) -> list[User | None]:
        found = await self._c.accounts.users_by_ids(await self._principal(), list(keys))
        return [found.get(k) for k in keys]

    async def _chats(self, keys: list[tuple[InstanceEntity, str]]) -> list[ChatSummary | None]:
        found: list[ChatSummary | None] = await self._c.messaging.chats_by_id(
            await self._principal(), keys
        )
        return found

    async def _activity(self, keys: list[ActivityKey]) -> list[list[ActivityLog]]:
        _, limit, before, actions, start, end = keys[0]
        found = await self._c.instances.activity_pages(
            await self._principal(),
            [k[0] for k in keys],
            actions=actions,
            start=start,
            end=end,
            limit=limit,
            before=before,
        )
        return [found[k[0].id] for k in keys]

    async def _events(self, keys: list[EventKey]) -> list[tuple[list[Event], bool]]:
        _, limit, since_ms, types, newest = keys[0]
        found = await self._c.instances.event_pages(
            await self._principal(),
            [k[0] for k in keys],
            since_ms=since_ms,
            limit=limit,
            types=types,
            newest=newest,
        )
        return [found[k[0].id] for k in keys]

    async def _contact_pages(self, keys: list[ContactKey]) -> list[list[Contact]]:
        _, limit, after, search, only_groups = keys[0]
        found = await self._c.contacts.pages(
            await self._principal(),
            [k[0] for k in keys],
            limit=limit,
            after=after,
            search=search,
            only_groups=only_groups,
        )
        return [found[k[0].id] for k in keys]

    async def _deliveries(self, keys: list[DeliveryKey]) -> list[list[WebhookDelivery]]:
        _, limit, before_seq, status, event = keys[0]
        found = await self._c.webhooks.delivery_pages(
            await self._principal(),
            [k[0] for k in keys],
            status=status,
            event=event,
            limit=limit,
            before_seq=before_seq,
        )
        return [found[k[0].id] for k in keys]
