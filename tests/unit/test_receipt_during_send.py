"""A receipt that arrives while the engine's send call is still in flight wins over the
late "sent" the send records once the call returns: a status never moves backwards."""

from __future__ import annotations

import pytest

from domain.entities import EventType, MessageStatus
from domain.instances import NewInstance
from domain.wire import OutgoingMessage
from tests.unit.conftest import Core

PHONE = "+1 555 123-4567"
JID = "15551234567@s.whatsapp.net"


@pytest.mark.parametrize("early", [MessageStatus.DELIVERED, MessageStatus.READ])
async def test_a_receipt_during_the_send_is_not_overwritten_by_sent(
    core: Core, early: MessageStatus
) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="shop"))
    await core.listener.on_connected(inst.id, "15550000000", "Shop")

    async def receipt_before_the_call_returns(outgoing: OutgoingMessage) -> None:
        await core.listener.on_receipt(inst.id, JID, [outgoing.message_id], early)

    core.engine.while_sending = receipt_before_the_call_returns
    core.bus.published.clear()
    sent = await core.messaging.send_text(owner, inst.id, PHONE, "hello")

    stored = {m.message_id: m.status for m in core.storage.state.messages.values()}
    assert stored == {sent.message_id: early}
    assert sent.status is early
    statuses = [e.data["status"] for e in core.bus.published if e.type is EventType.MESSAGE_STATUS]
    assert statuses == [early.value]
    history, _ = await core.messaging.history(owner, inst.id, PHONE)
    assert [m.status for m in history] == [early]
