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


@strawberry.type(description="Where an offset page stands (the deprecated offset lists).")
class Pagination:
    total: int = strawberry.field(description="Items in the whole list, all pages together.")
    limit: int = strawberry.field(description="The page size asked for (1 to 1000).")
    skip: int = strawberry.field(description="Items before this page.")
    has_more: bool = strawberry.field(description="Whether items come after this page.")

    @classmethod
    def from_page(cls, page: Page) -> Pagination:
        return cls(total=page.total, limit=page.limit, skip=page.skip, has_more=page.has_more)


@strawberry.type(description="A user account.")
class User(Node):
    id: strawberry.ID = strawberry.field(description="The user's id (a UUID).")
    email: str = strawberry.field(description="The login email, lower case, unique.")
    first_name: str = strawberry.field(description="First name; may be empty.")
    last_name: str = strawberry.field(description="Last name; may be empty.")
    role: Role = strawberry.field(description="admin sees and manages everything; user, own.")
    is_active: bool = strawberry.field(
        description="False: the account can neither log in nor use its API key."
    )
    created_at: datetime = strawberry.field(description="When the account was created.")
    updated_at: datetime = strawberry.field(description="When the account last changed.")
    last_login_at: datetime | None = strawberry.field(
        description="The last successful password login; null if never (API keys do not count)."
    )

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


@strawberry.type(description="An offset page of users (deprecated `users`; see allUsers).")
class UserPage:
    users: list[User] = strawberry.field(description="The page, oldest account first.")
    pagination: Pagination = strawberry.field(description="Where the page stands.")


@strawberry.type(description="A created user and its API key, or why it was not created.")
class UserWithApiKey:
    user: User | None = strawberry.field(description="Null when `userErrors` is not.")
    api_key: str | None = strawberry.field(description="Shown once: store it now.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


@strawberry.type(description="A successful login: a JWT for `Authorization: Bearer`.")
class LoginPayload:
    token: str = strawberry.field(
        description="The JWT; it stops working at its expiry or when the password changes."
    )
    user: User = strawberry.field(description="The user logged in.")
    api_key: str | None = strawberry.field(
        description="The user's API key (for `x-api-key`); null when it cannot be shown."
    )


@strawberry.type(description="An entry of an instance's activity log (what happened, when).")
class ActivityLog:
    id: strawberry.ID = strawberry.field(description="The entry's id.")
    instance_id: str = strawberry.field(description="The instance it is about.")
    action: str = strawberry.field(
        description="What happened: created, updated, webhook_updated, qr_received, "
        "connected, disconnected, reconnecting, logged_out, message_sent, message_received, "
        "message_status, message_reaction, message_edited, message_revoked, poll_vote, "
        "group_update or limit_exceeded (a list that may grow)."
    )
    details: JSON = strawberry.field(
        description="The action's details, an object whose keys depend on the action "
        "(e.g. connected: phone, pushName; updated: fields)."
    )
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_entity(cls, a: ActivityEntity) -> ActivityLog:
        return cls(
            id=strawberry.ID(a.id),
            instance_id=a.instance_id,
            action=a.action,
            details=to_json(a.details),
            created_at=a.created_at,
        )


@strawberry.type(description="An offset page of activity (deprecated; see Instance.activity).")
class ActivityPage:
    logs: list[ActivityLog] = strawberry.field(description="The page, newest first.")
    pagination: Pagination = strawberry.field(description="Where the page stands.")


@strawberry.type(
    description="Events after `since`, as GET /events (deprecated; see Instance.events)."
)
class EventPage:
    events: list[Event] = strawberry.field(description="The events, oldest first.")
    latest_timestamp: datetime | None = strawberry.field(
        description="Pass back as `since` for the next poll: the last event's timestamp, or "
        "`since` itself when none came; null when neither."
    )
    count: int = strawberry.field(description="How many events this page holds.")
    has_more: bool = strawberry.field(description="Whether more events wait after this page.")


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


@strawberry.type(
    description="A contact saved on the instance (imported, added, or seen in a chat)."
)
class Contact:
    id: strawberry.ID = strawberry.field(description="The contact's id on this server.")
    instance_id: str = strawberry.field(description="The instance it is saved on.")
    name: str | None = strawberry.field(description="The name saved here; null if none.")
    number: str = strawberry.field(
        description="The phone number, digits only (a group's id for a group)."
    )
    remote_jid: str = strawberry.field(
        description="Its JID: <digits>@s.whatsapp.net, or <id>@g.us for a group."
    )
    push_name: str | None = strawberry.field(
        description="The name its owner set in WhatsApp, as last seen; null if never seen."
    )
    is_group: bool = strawberry.field(description="Whether it is a group.")
    profile_picture: str | None = strawberry.field(
        description="A URL of its profile picture, when known."
    )
    about: str | None = strawberry.field(description="Its 'about' text, when known.")
    last_activity: datetime | None = strawberry.field(
        description="The last message to or from it; null if none."
    )
    created_at: datetime = strawberry.field(description="When it was first saved.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

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


@strawberry.type(description="An offset page of contacts (deprecated; see Instance.contacts).")
class ContactPage:
    contacts: list[Contact] = strawberry.field(description="The page, by name.")
    pagination: Pagination = strawberry.field(description="Where the page stands.")


@strawberry.type(
    description="A contact in the WhatsApp account's own address book (not saved on the instance)."
)
class EngineContact:
    id: str = strawberry.field(description="The contact's JID.")
    name: str | None = strawberry.field(description="Its name in the address book, if any.")
    number: str = strawberry.field(description="The phone number, digits only.")
    is_group: bool = strawberry.field(description="Whether it is a group.")

    @classmethod
    def from_entity(cls, c: EngineContactEntity) -> EngineContact:
        return cls(id=c.jid, name=c.name, number=c.number, is_group=c.is_group)
