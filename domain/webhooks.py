"""Webhooks: which events an instance wants, the exact bytes sent, and the delivery records."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.entities import DOCUMENT_EVENTS, Event, EventType, Instance
from domain.times import iso_ms

TEST_EVENT = "webhook_test"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class WebhookDelivery:
    id: str  # also the X-Webhook-Id header, for receivers' de-duplication
    instance_id: str
    event_id: str | None
    event: str
    url: str
    body: str  # the exact JSON text sent (and signed)
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    retry_interval_ms: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    seq: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    last_duration_ms: int | None = None
    delivered_at: datetime | None = None


class Outcome(StrEnum):
    """What became of an attempt, as a class: what callers see instead of raw internal errors
    (which would turn /webhooks/test into a probe of whatever answers at an address)."""

    DELIVERED = "delivered"
    HTTP_STATUS = "http_status"  # answered, not 2xx
    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_FAILED = "connection_failed"  # reset, unreachable, TLS failure, bad answer
    HOST_NOT_FOUND = "host_not_found"
    TARGET_REFUSED = "target_refused"  # the target rules (WEBHOOK_PRIVATE_URLS, own address)
    INVALID_REQUEST = "invalid_request"  # e.g. a header that cannot be sent
    DISABLED = "disabled"  # webhooks off or no URL: nothing was sent


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    failure: Outcome | None = None  # why nothing was answered, when status_code is None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def outcome(self) -> Outcome:
        if self.ok:
            return Outcome.DELIVERED
        if self.status_code is not None:
            return Outcome.HTTP_STATUS
        return self.failure or Outcome.CONNECTION_FAILED


def js_stringify(value: Any) -> str:
    """The text JavaScript's JSON.stringify gives for JSON-safe data: no spaces, UTF-8 as is.

    Lone surrogates (possible in strings decoded from JSON) are escaped as JS does since
    ES2019, so the text always encodes to UTF-8.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def wants(instance: Instance, event: Event) -> bool:
    """Whether this instance's webhook settings ask for this event."""
    if not instance.webhook_enabled or not instance.webhook_url:
        return False
    w = instance.webhook
    chosen = w.events if w.events is not None else DOCUMENT_EVENTS
    if event.type.value not in chosen:
        return False
    if event.type is EventType.MESSAGE_RECEIVED:
        return w.notify_received
    if event.type is EventType.MESSAGE_SENT:
        return w.notify_sent
    if event.type is EventType.MESSAGE_STATUS:
        if event.data.get("status") == "read":
            return w.notify_read
        return w.notify_delivery
    return True


def body_of(event_type: str, data: dict[str, Any], timestamp_ms: int) -> str:
    return js_stringify({"event": event_type, "data": data, "timestamp": iso_ms(timestamp_ms)})


def headers_for(delivery: WebhookDelivery, instance: Instance) -> dict[str, str]:
    standard = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "wamux-webhooks/1",
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Id": delivery.id,
        "X-Webhook-Attempt": str(delivery.attempts + 1),
    }
    # Header names are case-insensitive: a custom one spelt in another case must not be
    # sent as a second line next to a standard one (the standard one wins).
    taken = {name.lower() for name in (*standard, "X-Webhook-Signature")}
    headers = {k: v for k, v in instance.webhook.headers.items() if k.lower() not in taken}
    headers.update(standard)
    if instance.webhook.secret:
        headers["X-Webhook-Signature"] = signature(
            instance.webhook.secret, delivery.body.encode("utf-8")
        )
    return headers
