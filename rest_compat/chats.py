"""The spec's "聊天和消息" section, plus the list of conversations and read/unread marks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from api.bootstrap import Container
from api.deps import ContainerDep, CountedCall, PrincipalDep
from domain.entities import Principal
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat import responses_messaging as rm

router = APIRouter(
    prefix="/api/instances",
    tags=["chats"],
    dependencies=[CountedCall],
    responses=r.errors(400, 401, 404, 429),
)


@router.get("/{instance_id}/chats", response_model=rm.ChatPage)
async def list_chats(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    limit: int | None = Query(None),
    skip: int | None = Query(None),
) -> Response:
    return r.serialized(await chats_body(c, principal, instance_id, limit, skip))


async def chats_body(
    c: Container, principal: Principal, instance_id: str, limit: int | None, skip: int | None
) -> dict[str, Any]:
    """The conversation list's body (also answered by rest_compat.fast_reads)."""
    found, page = await c.messaging.chats(principal, instance_id, limit=limit, skip=skip)
    return {"chats": [presenters.chat(x) for x in found], "pagination": presenters.pagination(page)}


@router.get("/{instance_id}/chats/{chat_id}/messages", response_model=rm.MessagePage)
async def chat_messages(
    instance_id: str,
    chat_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    limit: int | None = Query(None),
    skip: int | None = Query(None),
    start_date: str | None = Query(None, alias="startDate"),
    end_date: str | None = Query(None, alias="endDate"),
) -> Response:
    return r.serialized(
        await history_body(c, principal, instance_id, chat_id, limit, skip, start_date, end_date)
    )


async def history_body(
    c: Container,
    principal: Principal,
    instance_id: str,
    chat_id: str,
    limit: int | None,
    skip: int | None,
    start_date: str | None,
    end_date: str | None,
) -> dict[str, Any]:
    """A history page's body (also answered by rest_compat.fast_reads)."""
    found, page = await c.messaging.history(
        principal, instance_id, chat_id, limit=limit, skip=skip, start=start_date, end=end_date
    )
    return {
        "messages": [presenters.message(m) for m in found],
        "pagination": presenters.pagination(page),
    }


@router.post("/{instance_id}/chats/{chat_id}/read", response_model=rm.MarkedRead)
async def mark_chat_read(
    instance_id: str, chat_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    count = await c.messaging.mark_read(principal, instance_id, chat_id)
    return {"success": True, "markedRead": count}


@router.post("/{instance_id}/chats/{chat_id}/unread", response_model=r.Success)
async def mark_chat_unread(
    instance_id: str, chat_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    """WhatsApp's "mark as unread": a flag on the chat (the phone shows a badge), its
    messages untouched; a new message in the chat or a read mark clears it."""
    await c.messaging.mark_unread(principal, instance_id, chat_id)
    return {"success": True}
