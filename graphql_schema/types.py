"""GraphQL object types, each built from a domain entity (`from_entity`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from domain.entities import ActivityLog as ActivityEntity
from domain.entities import Contact as ContactEntity
from domain.entities import Page
from domain.entities import User as UserEntity
from domain.wire import EngineContact as EngineContactEntity
from graphql_schema.enums import Role
from graphql_schema.events import Event
from graphql_schema.payloads import UserError
from graphql_schema.relay import Node

if TYPE_CHECKING:
    from graphql_schema.graph import Instance


def to_json(value: Mapping[str, Any]) -> JSON:
    """Strawberry's JSON scalar is an opaque NewType to mypy: the one cast, for output."""
    return cast(JSON, value)


def from_json(value: JSON | None) -> Any:
    """An input JSON value as plain Python; the use case validates its shape."""
    return cast(Any, value)


@strawberry.type
class Pagination:
    total: int
    limit: int
    skip: int
    has_more: bool

    @classmethod
    def from_page(cls, page: Page) -> Pagination:
        return cls(total=page.total, limit=page.limit, skip=page.skip, has_more=page.has_more)


@strawberry.type(description="A user account.")
class User(Node):
    id: strawberry.ID
    email: str
    first_name: str
    last_name: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_entity(cls, u: UserEntity) -> User:
        return cls(
            id=strawberry.ID(u.id),
            email=u.email,
            first_name=u.first_name,
            last_name=u.last_name,
            role=Role.of(u.role),
            is_active=u.is_active,
            created_at=u.created_at,
            updated_at=u.updated_at,
            last_login_at=u.last_login_at,
        )


@strawberry.type
class UserPage:
    users: list[User]
    pagination: Pagination


@strawberry.type(description="A created user and its API key, or why it was not created.")
class UserWithApiKey:
    user: User | None = strawberry.field(description="Null when `userErrors` is not.")
    api_key: str | None = strawberry.field(description="Shown once: store it now.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


@strawberry.type
class LoginPayload:
    token: str
    user: User
    api_key: str | None


@strawberry.type
class ActivityLog:
    id: strawberry.ID
    instance_id: str
    action: str
    details: JSON
    created_at: datetime

    @classmethod
    def from_entity(cls, a: ActivityEntity) -> ActivityLog:
        return cls(
            id=strawberry.ID(a.id),
            instance_id=a.instance_id,
            action=a.action,
            details=to_json(a.details),
            created_at=a.created_at,
        )


@strawberry.type
class ActivityPage:
    logs: list[ActivityLog]
    pagination: Pagination


@strawberry.type
class EventPage:
    events: list[Event]
    latest_timestamp: datetime | None
    count: int
    has_more: bool


@strawberry.type(
    description="The answer of a mutation that removes an object or acts on one without "
    "input (delete, reconnect, logout)."
)
class Result:
    success: bool = strawberry.field(
        description="True when done; false with `userErrors` when the arguments were wrong "
        "(nothing changed). Not-found and authorisation stay GraphQL errors."
    )
    message: str = strawberry.field(description="What was done, in English, for people.")
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the removed object, for a delete; else null."
    )
    instance: Annotated[Instance, strawberry.lazy("graphql_schema.graph")] | None = (
        strawberry.field(
            default=None,
            description="The instance acted on, as it is now (reconnect, logout); null for a "
            "delete and for others.",
        )
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Arguments to correct; else empty."
    )


@strawberry.type
class Contact:
    """A contact saved on the instance (imported, added, or seen in a chat)."""

    id: strawberry.ID
    instance_id: str
    name: str | None
    number: str
    remote_jid: str
    push_name: str | None
    is_group: bool
    profile_picture: str | None
    about: str | None
    last_activity: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_entity(cls, c: ContactEntity) -> Contact:
        return cls(
            id=strawberry.ID(c.id),
            instance_id=c.instance_id,
            name=c.name,
            number=c.number,
            remote_jid=c.remote_jid,
            push_name=c.push_name,
            is_group=c.is_group,
            profile_picture=c.profile_picture,
            about=c.about,
            last_activity=c.last_activity,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


@strawberry.type
class ContactPage:
    contacts: list[Contact]
    pagination: Pagination


@strawberry.type
class EngineContact:
    """A contact in the WhatsApp account's own address book (not saved on the instance)."""

    id: str = strawberry.field(description="The contact's JID.")
    name: str | None
    number: str
    is_group: bool

    @classmethod
    def from_entity(cls, c: EngineContactEntity) -> EngineContact:
        return cls(id=c.jid, name=c.name, number=c.number, is_group=c.is_group)
