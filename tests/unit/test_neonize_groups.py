"""Groups through the neonize worker: each request as the Go call it makes (fake FFI layer),
real group events as `group_update`, and what the domain keeps of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.transport.neonize.host import NeonizeHost
from domain.entities import EventType
from tests.unit.neonize_support import (
    EMPTY,
    ME,
    FakeGo,
    Recorder,
    attach,
    dispatch,
    eventually,
    group_proto,
    jid,
    make_host,
    npb,
    reset_event_loop,
)
from tests.unit.test_neonize_domain import Rig
from tests.unit.test_neonize_domain import rig as domain_rig  # noqa: F401

GROUP = "120363000000000001"
GJID = GROUP + "@g.us"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[NeonizeHost, Recorder, FakeGo]]:
    reset_event_loop()
    recorder = Recorder()
    host = make_host(tmp_path, recorder)
    go = FakeGo()
    go.groups[GROUP] = group_proto(
        GROUP, "Team", [(ME, ME, True), ("777", "4915112345678", False), ("888", "", False)],
        topic="old topic",
    )  # fmt: skip
    attach(host, "i1", go)
    yield host, recorder, go
    await host.close()
    reset_event_loop()


async def test_group_list_and_info_show_members_by_phone_number(rig: Any) -> None:
    host, _, _ = rig
    [listed] = await host.call("groups", "i1", {})
    info = await host.call("group_info", "i1", {"groupJid": GJID})
    assert listed == info
    assert info["jid"] == GJID and info["subject"] == "Team"
    assert info["description"] == "old topic" and info["owner"] == f"{ME}@s.whatsapp.net"
    assert info["participants"] == [
        {"jid": f"{ME}@s.whatsapp.net", "is_admin": True, "is_super_admin": True},
        {"jid": "4915112345678@s.whatsapp.net", "is_admin": False, "is_super_admin": False},
        {"jid": "888@lid", "is_admin": False, "is_super_admin": False},  # no phone known
    ]


async def test_group_changes_are_the_go_calls_whatsmeow_offers(rig: Any) -> None:
    host, _, go = rig
    made = await host.call(
        "create_group", "i1", {"subject": "New", "participants": ["4915112345678@s.whatsapp.net"]}
    )
    assert made["subject"] == "New" and len(made["participants"]) == 2
    await host.call("set_group_subject", "i1", {"groupJid": GJID, "subject": "Renamed"})
    await host.call("set_group_description", "i1", {"groupJid": GJID, "description": "new"})
    await host.call(
        "update_group_participants",
        "i1",
        {"groupJid": GJID, "action": "promote", "participants": ["4915112345678@s.whatsapp.net"]},
    )
    link = await host.call("group_invite_link", "i1", {"groupJid": GJID, "revoke": True})
    joined = await host.call("join_group", "i1", {"code": "CODE0123456789"})
    await host.call("leave_group", "i1", {"groupJid": GJID})
    calls = dict(go.calls)
    assert calls["CreateGroup"] == ("New", ["4915112345678"])
    assert calls["SetGroupName"] == (GROUP, "Renamed")
    user, previous, new, topic = calls["SetGroupTopic"]
    assert (user, previous, topic) == (GROUP, "TOPIC1", "new") and new and new != previous
    assert calls["UpdateGroupParticipants"] == (["4915112345678"], "promote")
    assert link == {"link": "https://chat.whatsapp.com/NEWCODE0123456789"}
    assert calls["GetGroupInviteLink"] is True
    assert joined == {"groupJid": "120363777@g.us"}
    assert calls["JoinGroupWithLink"] == "CODE0123456789"
    assert calls["LeaveGroup"] == GROUP


async def test_an_unknown_group_is_an_engine_failure_not_a_crash(rig: Any) -> None:
    host, _, _ = rig
    with pytest.raises(Exception, match="item-not-found"):
        await host.call("group_info", "i1", {"groupJid": "120363555@g.us"})


def _info_event(**fields: Any) -> npb.GroupInfoEvent:
    return npb.GroupInfoEvent(
        JID=jid(GROUP, "g.us"), Notify="", Sender=jid("4915112345678"), Timestamp=1,
        PrevParticipantsVersionID="", ParticipantVersionID="", JoinReason="", **fields,
    )  # fmt: skip


async def test_group_events_become_group_updates(rig: Any) -> None:
    host, recorder, _ = rig
    hosted = host._hosted["i1"]
    name = npb.GroupName(Name="Renamed", NameSetAt=1, NameSetBy=EMPTY)
    dispatch(hosted, _info_event(Name=name, Join=[jid("15550003333")]))
    joined = npb.JoinedGroup(
        Reason="", Type="new", CreateKey="", GroupInfo=group_proto("120363444", "Fresh", []),
        Sender=jid(ME), SenderPN=EMPTY,
    )  # fmt: skip
    dispatch(hosted, joined)
    await recorder.wait_for(lambda: len(recorder.of("group_update")) == 3)
    changes = [e["change"] for e in recorder.of("group_update")]
    by = "4915112345678@s.whatsapp.net"
    assert {"groupJid": GJID, "by": by, "action": "subject", "subject": "Renamed"} in changes
    carol = "15550003333@s.whatsapp.net"
    added = {"groupJid": GJID, "by": by, "action": "add", "participants": [carol]}
    assert added in changes
    created = next(e for e in recorder.of("group_update") if e["change"]["action"] == "created")
    assert (
        created["group"]["subject"] == "Fresh" and created["change"]["groupJid"] == "120363444@g.us"
    )


async def test_group_updates_reach_the_domain_as_events_and_name_the_group(domain_rig: Rig) -> None:  # noqa: F811
    rig = domain_rig
    hosted = rig.host._hosted[rig.inst.id]
    joined = npb.JoinedGroup(
        Reason="", Type="", CreateKey="", GroupInfo=group_proto(GROUP, "Neighbours", []),
        Sender=jid("4915112345678"), SenderPN=EMPTY,
    )  # fmt: skip
    dispatch(hosted, joined)
    dispatch(hosted, _info_event(Leave=[jid("4915112345678")]))
    await eventually(lambda: len(rig.events(EventType.GROUP_UPDATE)) == 2)
    first, second = rig.events(EventType.GROUP_UPDATE)
    assert first["action"] == "add" and first["group"]["subject"] == "Neighbours"
    assert second["action"] == "remove" and second["participants"] == [
        "4915112345678@s.whatsapp.net"
    ]
    [contact] = [c for c in rig.core.storage.state.contacts.values() if c.is_group]
    assert (contact.remote_jid, contact.name) == (GJID, "Neighbours")
