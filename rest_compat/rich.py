"""Beyond the document: reactions, locations, contact cards, polls and votes, edits,
deletes for everyone, forwards and presence, under `/api/whatsapp/{id}/...`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from api.deps import ContainerDep, CountedCall, PrincipalDep
from domain.rich import CardInput
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat import responses_messaging as rm
from rest_compat.responses_messaging import Sent
from rest_compat.schemas import Body

router = APIRouter(
    prefix="/api/whatsapp",
    tags=["rich messaging"],
    dependencies=[CountedCall],
    responses=r.errors(400, 401, 404, 409, 429, 502),
)

Number = StrictInt | StrictFloat


class ReactBody(Body):
    message_id: StrictStr = Field(alias="messageId")
    emoji: StrictStr = Field(description="one emoji; empty removes this account's reaction")


class LocationBody(Body):
    phone: StrictStr
    latitude: Number
    longitude: Number
    name: StrictStr | None = None
    address: StrictStr | None = None


class CardBody(Body):
    name: StrictStr
    phone: StrictStr


class ContactsBody(Body):
    phone: StrictStr
    contacts: list[CardBody] = Field(description="1 to 10 cards, each built as a vCard")


class PollBody(Body):
    phone: StrictStr
    question: StrictStr
    options: list[StrictStr] = Field(description="2 to 12 distinct choices")
    multiple_answers: StrictBool = Field(False, alias="multipleAnswers")


class VoteBody(Body):
    poll_id: StrictStr = Field(alias="pollId")
    options: list[StrictStr] = Field(description="the chosen options; empty withdraws the vote")


class EditBody(Body):
    message: StrictStr


class ForwardBody(Body):
    phone: StrictStr


class PresenceBody(Body):
    state: StrictStr = Field(
        description="composing, recording or paused (with chatId); available or unavailable"
    )
    chat_id: StrictStr | None = Field(None, alias="chatId")


class PresenceSent(r.Answer):
    success: bool


@router.post("/{instance_id}/react", response_model=Sent)
async def react(
    instance_id: str, body: ReactBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    sent = await c.rich.react(principal, instance_id, body.message_id, body.emoji)
    return {"id": sent.message_id}


@router.post("/{instance_id}/send-location", response_model=Sent)
async def send_location(
    instance_id: str, body: LocationBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    sent = await c.rich.send_location(
        principal, instance_id, body.phone, body.latitude, body.longitude, body.name, body.address
    )
    return {"id": sent.message_id}


@router.post("/{instance_id}/send-contact", response_model=Sent)
async def send_contact(
    instance_id: str, body: ContactsBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    cards = [CardInput(card.name, card.phone) for card in body.contacts]
    sent = await c.rich.send_contacts(principal, instance_id, body.phone, cards)
    return {"id": sent.message_id}


@router.post("/{instance_id}/send-poll", response_model=Sent)
async def send_poll(
    instance_id: str, body: PollBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    sent = await c.rich.send_poll(
        principal, instance_id, body.phone, body.question, body.options, body.multiple_answers
    )
    return {"id": sent.message_id}


@router.post("/{instance_id}/poll-vote", response_model=rm.Message)
async def vote_poll(
    instance_id: str, body: VoteBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    poll = await c.rich.vote(principal, instance_id, body.poll_id, body.options)
    return presenters.message(poll)


@router.post("/{instance_id}/messages/{message_id}/edit", response_model=rm.Message)
async def edit_message(
    instance_id: str, message_id: str, body: EditBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    edited = await c.rich.edit(principal, instance_id, message_id, body.message)
    return presenters.message(edited)


@router.delete("/{instance_id}/messages/{message_id}", response_model=rm.Message)
async def revoke_message(
    instance_id: str, message_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    revoked = await c.rich.revoke(principal, instance_id, message_id)
    return presenters.message(revoked)


@router.post("/{instance_id}/messages/{message_id}/forward", response_model=Sent)
async def forward_message(
    instance_id: str, message_id: str, body: ForwardBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, str]:
    sent = await c.rich.forward(principal, instance_id, message_id, body.phone)
    return {"id": sent.message_id}


@router.post("/{instance_id}/presence", response_model=PresenceSent)
async def send_presence(
    instance_id: str, body: PresenceBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, bool]:
    await c.rich.presence(principal, instance_id, body.state, body.chat_id)
    return {"success": True}
