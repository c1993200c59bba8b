"""Use cases of the sandbox engine's control endpoints: pair by "scanning", drop a connection."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from domain import validation as v
from domain.entities import Engine, Instance, InstanceStatus, MessageStatus, Principal
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.instances import Instances, require_connected
from domain.media import too_large
from domain.messages import MAX_TEXT, clean_file_name, guess_mime
from domain.phones import normalise_phone, to_jid
from domain.ports import Clock, Connections, MediaFetcher, SandboxControl, UnitOfWorkFactory
from domain.times import to_ms
from domain.wire import IncomingMessage, MediaPayload, media_kind, whatsapp_message_id


class SandboxUseCases:
    def __init__(self, instances: Instances, connections: Connections) -> None:
        self._instances = instances
        self._connections = connections

    def control(self) -> SandboxControl:
        return self._connections.sandbox()

    async def require(self, principal: Principal, instance_id: str) -> Instance:
        return await self._sandbox_instance(principal, instance_id)

    async def _sandbox_instance(self, principal: Principal, instance_id: str) -> Instance:
        instance = await self._instances.get(principal, instance_id)
        if instance.engine is not Engine.SANDBOX:
            raise Conflict(
                f"Instance {instance_id} runs on the '{instance.engine.value}' engine; "
                "sandbox controls only work on sandbox instances",
                {"engine": instance.engine.value},
            )
        return instance

    async def scan(
        self, principal: Principal, instance_id: str, phone: str | None, push_name: str | None
    ) -> None:
        instance = await self._sandbox_instance(principal, instance_id)
        digits = normalise_phone(phone) if phone else None
        name = v.text(push_name, "pushName", max_len=100) or None
        if instance.status is not InstanceStatus.QR:
            raise Conflict(
                f"Instance is '{instance.status.value}', not waiting for a QR scan",
                {"status": instance.status.value},
            )
        await self._connections.sandbox().scan(instance_id, digits, name)

    async def disconnect(self, principal: Principal, instance_id: str, reason: str | None) -> None:
        await self._sandbox_instance(principal, instance_id)
        why = v.text(reason, "reason", max_len=200) or "connection_lost"
        await self._connections.sandbox().drop(instance_id, why)


@dataclass(frozen=True)
class SimulatedMedia:
    mime_type: str | None
    file_name: str | None
    base64: str | None = None
    url: str | None = None


class SandboxMessaging:
    """Sandbox hooks for traffic: a message from outside, a receipt for a sent message."""

    def __init__(
        self,
        *,
        sandbox: SandboxUseCases,
        uow: UnitOfWorkFactory,
        fetcher: MediaFetcher,
        clock: Clock,
        max_media_bytes: int,
        message_ids: Callable[[], str] = whatsapp_message_id,
    ) -> None:
        self._sandbox = sandbox
        self._uow = uow
        self._fetcher = fetcher
        self._clock = clock
        self._max_media = max_media_bytes
        self._message_ids = message_ids

    async def incoming(
        self,
        principal: Principal,
        instance_id: str,
        sender: str,
        body: str | None,
        push_name: str | None,
        media: SimulatedMedia | None,
    ) -> str:
        jid = to_jid(sender, "from")
        text = v.text(body, "body", max_len=MAX_TEXT) if body is not None else None
        name = v.text(push_name, "pushName", max_len=100) or None
        payload = await self._media(media, text) if media is not None else None
        if payload is None and not text:
            raise ValidationFailed("Give a 'body', a 'media', or both", {"field": "body"})
        instance = await self._sandbox.require(principal, instance_id)
        require_connected(instance)
        message_id = self._message_ids()
        message = IncomingMessage(
            message_id=message_id,
            chat_jid=jid,
            sender_jid=jid,
            timestamp=to_ms(self._clock.now()) // 1000,
            text=None if payload else text,
            push_name=name,
            media=payload,
        )
        await self._sandbox.control().incoming(instance_id, message)
        return message_id

    async def _media(self, media: SimulatedMedia, caption: str | None) -> MediaPayload:
        if (media.base64 is None) == (media.url is None):
            raise ValidationFailed(
                "'media' needs exactly one of 'base64' or 'url'", {"field": "media"}
            )
        if media.base64 is not None:
            try:
                data = base64.b64decode(media.base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed(
                    "'media.base64' is not valid base64", {"field": "media.base64"}
                ) from None
            declared = media.mime_type
            name = media.file_name
        else:
            fetched = await self._fetcher.fetch(v.url(media.url, "media.url") or "")
            data, declared, name = (
                fetched.data,
                media.mime_type or fetched.mime_type,
                media.file_name or fetched.file_name,
            )
        if not data:
            raise ValidationFailed("'media' is empty", {"field": "media"})
        if len(data) > self._max_media:
            raise too_large("media", self._max_media)
        file_name = clean_file_name(name, "file")
        mime = guess_mime(file_name, declared)
        return MediaPayload(data, mime, file_name, media_kind(mime), caption)

    async def receipt(
        self, principal: Principal, instance_id: str, message_id: str, status: str
    ) -> None:
        try:
            wanted = MessageStatus(status)
        except ValueError:
            wanted = None
        if wanted not in (MessageStatus.DELIVERED, MessageStatus.READ):
            raise ValidationFailed("'status' must be 'delivered' or 'read'", {"field": "status"})
        await self._sandbox.require(principal, instance_id)
        async with self._uow(read_only=True) as uow:
            message = await uow.messages.get(instance_id, message_id)
        if message is None or not message.from_me:
            raise NotFound(f"Sent message {message_id} not found on instance {instance_id}")
        await self._sandbox.control().receipt(instance_id, message.remote_jid, message_id, wanted)
