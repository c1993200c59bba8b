"""Entity -> JSON shapes of the documented API (field names and nesting as the spec writes them)."""

from __future__ import annotations

import json
from typing import Any

from domain.entities import (
    ActivityLog,
    ChatSummary,
    Contact,
    Event,
    Instance,
    Message,
    Page,
    User,
)
from domain.times import iso, iso_ms
from domain.webhooks import WebhookDelivery
from domain.wire import EngineContact


def user(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "role": u.role.value,
        "isActive": u.is_active,
        "createdAt": iso(u.created_at),
        "updatedAt": iso(u.updated_at),
        "lastLoginAt": iso(u.last_login_at),
    }


def me(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "role": u.role.value,
    }


def pagination(page: Page) -> dict[str, Any]:
    return {"total": page.total, "limit": page.limit, "skip": page.skip, "hasMore": page.has_more}


def connection_status(i: Instance) -> dict[str, Any]:
    return {"ready": i.ready, "status": i.status.value, "hasQr": i.has_qr}


def webhook_settings(i: Instance) -> dict[str, Any]:
    w = i.webhook
    return {
        "instanceId": i.id,
        "notifyReceived": w.notify_received,
        "notifySent": w.notify_sent,
        "notifyDelivery": w.notify_delivery,
        "notifyRead": w.notify_read,
        "maxRetries": w.max_retries,
        "retryInterval": w.retry_interval_ms,
        "secret": w.secret,
        "headers": dict(w.headers),
        **({"events": list(w.events)} if w.events is not None else {}),
    }


def _instance_base(i: Instance) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "userId": i.user_id,
        "status": i.status.value,
        "engine": i.engine.value,
        "webhookUrl": i.webhook_url,
        "webhookEnabled": i.webhook_enabled,
        "createdAt": iso(i.created_at),
        "updatedAt": iso(i.updated_at),
    }


def instance_created(i: Instance) -> dict[str, Any]:
    return _instance_base(i)


def instance_listed(i: Instance) -> dict[str, Any]:
    return {**_instance_base(i), "connectionStatus": connection_status(i)}


def instance_detail(i: Instance) -> dict[str, Any]:
    return {
        **_instance_base(i),
        "phone": i.phone,
        "pushName": i.push_name,
        "statusReason": i.status_reason,
        "webhookSettings": webhook_settings(i),
        "connectionStatus": connection_status(i),
        "limits": dict(i.limits),
    }


def instance_updated(i: Instance) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "webhookUrl": i.webhook_url,
        "webhookEnabled": i.webhook_enabled,
        "updatedAt": iso(i.updated_at),
        "webhookSettings": webhook_settings(i),
        "limits": dict(i.limits),
    }


def instance_status(i: Instance) -> dict[str, Any]:
    return {
        "instanceId": i.id,
        "status": i.status.value,
        "ready": i.ready,
        "hasQr": i.has_qr,
        "lastActivity": iso(i.last_activity_at),
        "reason": i.status_reason,
        "connectionDetails": connection_status(i),
    }


def activity(log: ActivityLog) -> dict[str, Any]:
    return {
        "id": log.id,
        "instanceId": log.instance_id,
        "action": log.action,
        "details": log.details,
        "createdAt": iso(log.created_at),
    }


def event(e: Event) -> dict[str, Any]:
    return {"id": e.id, "type": e.type.value, "timestamp": iso_ms(e.timestamp_ms), "data": e.data}


def message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "instanceId": m.instance_id,
        "remoteJid": m.remote_jid,
        "fromMe": m.from_me,
        "messageType": m.message_type,
        "content": m.content,
        "messageId": m.message_id,
        "hasMedia": m.has_media,
        "mediaUrl": m.media_url,
        "caption": m.caption,
        "mimeType": m.mime_type,
        "fileName": m.file_name,
        "mediaSize": m.media_size,
        "quotedMessageId": m.quoted_message_id,
        "status": m.status.value,
        "metadata": m.metadata,
        "createdAt": iso(m.created_at),
        "updatedAt": iso(m.updated_at),
        "statusUpdatedAt": iso(m.status_updated_at),
    }


def contact(c: Contact) -> dict[str, Any]:
    return {
        "id": c.id,
        "instanceId": c.instance_id,
        "name": c.name,
        "number": c.number,
        "remoteJid": c.remote_jid,
        "pushName": c.push_name,
        "isGroup": c.is_group,
        "profilePicture": c.profile_picture,
        "about": c.about,
        "lastActivity": iso(c.last_activity),
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
    }


def engine_contact(c: EngineContact) -> dict[str, Any]:
    return {"id": c.jid, "name": c.name, "number": c.number, "isGroup": c.is_group}


def chat(c: ChatSummary) -> dict[str, Any]:
    return {
        "remoteJid": c.remote_jid,
        "name": c.name,
        "isGroup": c.remote_jid.endswith("@g.us"),
        "unreadCount": c.unread_count,
        "messageCount": c.message_count,
        "lastMessage": message(c.last_message),
        "markedUnread": c.marked_unread,
    }


def delivery(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "instanceId": d.instance_id,
        "event": d.event,
        "eventId": d.event_id,
        "url": d.url,
        "status": d.status.value,
        "attempts": d.attempts,
        "maxAttempts": d.max_attempts,
        "lastStatusCode": d.last_status_code,
        "lastError": d.last_error,
        "lastDurationMs": d.last_duration_ms,
        "nextAttemptAt": iso(d.next_attempt_at) if d.status.value == "pending" else None,
        "deliveredAt": iso(d.delivered_at),
        "createdAt": iso(d.created_at),
        "updatedAt": iso(d.updated_at),
        "payload": json.loads(d.body),
    }
