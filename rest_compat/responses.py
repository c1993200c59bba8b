"""Response bodies of the REST layer, so /openapi.json documents every answer.

Messages, chats, contacts and webhook deliveries live in `responses_messaging`.

The handlers keep building plain dicts (`presenters`); these models only state their shape.
Keys are the API document's, written here in snake_case and turned into its camelCase by
the alias generator (FastAPI answers by alias). Every key the server always sends is
required, nullable where the server may send `null`, and `extra="forbid"`: a presenter that
drifts from its model fails the response validation in the tests instead of silently losing
a key on the wire.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

from domain.entities import Engine, EventType, InstanceStatus, Role


class Answer(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")


# --- shared -------------------------------------------------------------------------------


class ErrorBody(Answer):
    """Every 4xx/5xx answer: a machine code, a sentence, and sometimes the details."""

    error: str
    message: str
    details: dict[str, Any] | None = None


class Success(Answer):
    success: bool


class SuccessMessage(Answer):
    success: bool
    message: str


class Pagination(Answer):
    total: int
    limit: int
    skip: int
    has_more: bool


class Liveness(Answer):
    status: str


class Readiness(Answer):
    status: str
    storage: str
    error: str | None = None  # the exception's class name, when storage is down (503)


# --- auth and users -------------------------------------------------------------------------


class Me(Answer):
    id: str
    email: str
    first_name: str
    last_name: str
    role: Role


class LoggedInUser(Me):
    api_key: str


class Login(Answer):
    token: str
    user: LoggedInUser


class RotatedApiKey(Answer):
    api_key: str


class User(Answer):
    id: str
    email: str
    first_name: str
    last_name: str
    role: Role
    is_active: bool
    created_at: str
    updated_at: str
    last_login_at: str | None


class CreatedUser(User):
    api_key: str


class UserPage(Answer):
    users: list[User]
    pagination: Pagination


# --- instances ------------------------------------------------------------------------------


class ConnectionStatus(Answer):
    ready: bool
    status: InstanceStatus
    has_qr: bool


class WebhookSettings(Answer):
    instance_id: str
    notify_received: bool
    notify_sent: bool
    notify_delivery: bool
    notify_read: bool
    max_retries: int
    retry_interval: int  # milliseconds
    secret: str | None
    headers: dict[str, str]
    # Beyond the document: shown only once an instance chose its event kinds, so the
    # document's answer stays exactly as written for everyone else.
    events: list[str] | None = None

    @model_serializer(mode="wrap")
    def _omit_unchosen_events(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("events") is None:
            data.pop("events", None)
        return data


class InstanceCreated(Answer):
    id: str
    name: str
    description: str | None
    user_id: str
    status: InstanceStatus
    engine: Engine
    webhook_url: str | None
    webhook_enabled: bool
    created_at: str
    updated_at: str


class InstanceListed(InstanceCreated):
    connection_status: ConnectionStatus


class InstanceList(Answer):
    instances: list[InstanceListed]


class InstanceDetail(InstanceCreated):
    phone: str | None
    push_name: str | None
    status_reason: str | None
    webhook_settings: WebhookSettings
    connection_status: ConnectionStatus
    limits: dict[str, int]


class InstanceUpdated(Answer):
    id: str
    name: str
    description: str | None
    webhook_url: str | None
    webhook_enabled: bool
    updated_at: str
    webhook_settings: WebhookSettings
    limits: dict[str, int]


class InstanceState(Answer):
    instance_id: str
    status: InstanceStatus
    ready: bool
    has_qr: bool
    last_activity: str | None
    reason: str | None
    connection_details: ConnectionStatus


class QrCode(Answer):
    qr_code: str


class QrGenerating(Answer):
    message: str
    status: str


class ActivityEntry(Answer):
    id: str
    instance_id: str
    action: str
    details: dict[str, Any]
    created_at: str


class ActivityPage(Answer):
    logs: list[ActivityEntry]
    pagination: Pagination


class EventEntry(Answer):
    id: str
    type: EventType
    timestamp: str
    data: dict[str, Any]


class EventPage(Answer):
    events: list[EventEntry]
    latest_timestamp: str | None
    count: int
    has_more: bool


# --- stats ----------------------------------------------------------------------------------


class Usage(Answer):
    messages_sent: int
    messages_received: int
    media_sent: int
    media_received: int
    total_media_size: int
    api_calls: int
    webhook_sent: int


class UsageTotal(Usage):
    instance_count: int


class InstanceUsage(Answer):
    instance_id: str
    name: str
    messages_sent: int
    messages_received: int
    media_sent: int
    media_received: int
    total_media_size: int
    api_calls: int
    webhook_sent: int


class UserStats(Answer):
    total: UsageTotal
    instances: list[InstanceUsage]


class DailyStats(Answer):
    date: str
    messages_sent: int
    messages_received: int
    media_sent: int
    media_received: int


class UsageWithDays(Usage):
    daily_stats: list[DailyStats]


class InstanceStats(Answer):
    usage: UsageWithDays


class Counts(Answer):
    total: int
    active: int


class SystemStats(Answer):
    instances: Counts
    users: Counts
    usage: Usage


# --- sandbox --------------------------------------------------------------------------------


class Disconnected(Answer):
    success: bool
    status: ConnectionStatus


class Incoming(Answer):
    success: bool
    message_id: str


# --- non-JSON answers and errors, for `responses=` --------------------------------------------

BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}

QR_IMAGES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The QR code: JSON by default, an image with `format=png` or `svg`",
        "content": {"image/png": BINARY, "image/svg+xml": {"schema": {"type": "string"}}},
    },
    202: {"model": QrGenerating, "description": "QR code generation in progress"},
}

MEDIA_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The stored file, served with its own type (image/jpeg, ...): inline for images,"
            " audio and video (not SVG), as an attachment otherwise; always with"
            " `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`"
        ),
        "content": {"*/*": BINARY},
    }
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The shared error body under each of `codes`."""
    return {code: {"model": ErrorBody, "description": _REASONS[code]} for code in codes}


_REASONS = {
    400: "Invalid input",
    401: "Missing or invalid credentials",
    403: "Not allowed for this user",
    404: "No such resource (or not yours)",
    409: "Conflicts with the current state",
    429: "A daily limit is used up",
    502: "The WhatsApp engine failed",
    503: "Storage unavailable",
}


# --- hot read routes ----------------------------------------------------------------------


def serialized(body: dict[str, Any]) -> Response:
    """`body` as JSON, sent as is: FastAPI does not validate a Response against the route's
    `response_model` (which still documents it). For the read routes that answer pages of
    messages, chats or daily counters, validating then dumping the page cost more than
    reading it. Their bodies come from the same presenters, and
    tests/api/test_read_bodies_match_models.py validates them against these models.

    Compact UTF-8 like FastAPI's own; orjson refuses integers beyond 64 bits (they could sit
    in a message's metadata), and then the standard library writes the body."""
    try:
        content = orjson.dumps(body)
    except TypeError:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, media_type="application/json")
