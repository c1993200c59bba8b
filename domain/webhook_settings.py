"""Webhook settings of an instance: what a caller may set, and the bounds each value must keep."""

from __future__ import annotations

from dataclasses import dataclass

from domain import validation as v
from domain.entities import EventType, WebhookSettings
from domain.errors import ValidationFailed

MAX_RETRIES = 20
MIN_RETRY_INTERVAL_MS = 100
MAX_RETRY_INTERVAL_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class WebhookSettingsInput:
    notify_received: bool | None = None
    notify_sent: bool | None = None
    notify_delivery: bool | None = None
    notify_read: bool | None = None
    max_retries: int | None = None
    retry_interval: int | None = None
    secret: str | None = None
    headers: dict[str, str] | None = None
    events: list[str] | None = None


def apply_webhook_settings(target: WebhookSettings, data: WebhookSettingsInput) -> bool:
    """Validates and applies; returns whether anything changed."""
    before = WebhookSettings(**vars(target))
    for name in ("notify_received", "notify_sent", "notify_delivery", "notify_read"):
        value = getattr(data, name)
        if value is not None:
            setattr(target, name, bool(value))
    if data.max_retries is not None:
        target.max_retries = v.int_range(data.max_retries, "maxRetries", 0, MAX_RETRIES) or 0
    if data.retry_interval is not None:
        target.retry_interval_ms = (
            v.int_range(
                data.retry_interval, "retryInterval", MIN_RETRY_INTERVAL_MS, MAX_RETRY_INTERVAL_MS
            )
            or MIN_RETRY_INTERVAL_MS
        )
    if data.secret is not None:
        target.secret = v.text(data.secret, "webhookSecret", max_len=512) or None
    if data.headers is not None:
        target.headers = v.headers(data.headers) or {}
    if data.events is not None:
        target.events = webhook_events(data.events)
    return vars(before) != vars(target)


def webhook_events(names: list[str]) -> list[str]:
    """The event kinds an instance's webhook sends: known names, each once, in order."""
    if not isinstance(names, list) or len(names) > len(EventType):
        raise ValidationFailed(
            f"'events' must be a list of at most {len(EventType)} event types",
            {"field": "events"},
        )
    chosen: list[str] = []
    for name in names:
        try:
            kind = EventType(name).value
        except ValueError:
            allowed = ", ".join(t.value for t in EventType)
            raise ValidationFailed(
                f"Unknown event type {name!r}; expected one of: {allowed}", {"field": "events"}
            ) from None
        if kind not in chosen:
            chosen.append(kind)
    return chosen
