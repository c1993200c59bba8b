"""The spec's "WhatsApp API" sending endpoints: text, media by URL, and file upload."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, UploadFile

from api.deps import ContainerDep, CountedCall, PrincipalDep
from rest_compat.schemas import SendMediaBody, SendTextBody

router = APIRouter(prefix="/api/whatsapp", tags=["messaging"], dependencies=[CountedCall])


@router.post("/{instance_id}/send")
async def send_text(
    instance_id: str, body: SendTextBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    sent = await c.messaging.send_text(
        principal, instance_id, body.phone, body.message, body.quoted_message_id
    )
    return {"id": sent.message_id}


@router.post("/{instance_id}/send-media")
async def send_media(
    instance_id: str, body: SendMediaBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    sent = await c.messaging.send_media_url(
        principal,
        instance_id,
        body.phone,
        body.url,
        body.caption,
        body.filename,
        body.quoted_message_id,
    )
    return {"id": sent.message_id}


@router.post("/{instance_id}/send-file")
async def send_file(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    phone: str = Form(...),
    file: UploadFile = File(...),
    caption: str | None = Form(None),
    quoted_message_id: str | None = Form(None, alias="quotedMessageId"),
) -> dict[str, str]:
    upload = await c.messaging.read_upload(file.read, file.size, file.filename, file.content_type)
    sent = await c.messaging.send_file(
        principal, instance_id, phone, upload, caption, quoted_message_id
    )
    return {"id": sent.message_id}
