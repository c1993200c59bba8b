"""History pages and conversation lists at any pace of messages: every page equals the cut of
the whole, ordered list, whatever way a backend bounds its reads (MongoDB reads time windows
sized from a chat's pace, and bounds the conversation list by what it read last:
adapters/storage/mongo/windows.py). On every backend."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.entities import Message
from tests.contract.test_messaging_contract import ALICE, _add_messages, _two_instances, message
from tests.contract.test_storage_contract import T0


def _at(m: Message, moment: datetime, n: int) -> Message:
    m.created_at = m.updated_at = m.status_updated_at = moment
    m.id = f"i1-x{n:03d}"
    m.message_id = f"3EB1{n:04d}"
    return m


def _uneven_chat() -> list[Message]:
    """One chat whose pace changes: one message years back, a burst of 40 a second apart a
    month back, 6 a day apart, 5 sharing one moment, then 20 a minute apart."""
    moments = [T0 - timedelta(days=900)]
    burst = T0 - timedelta(days=30)
    moments += [burst + timedelta(seconds=s) for s in range(40)]
    moments += [T0 - timedelta(days=d) for d in range(12, 6, -1)]
    moments += [T0 - timedelta(days=2)] * 5
    moments += [T0 + timedelta(minutes=m) for m in range(20)]
    return [_at(message(0), moment, n) for n, moment in enumerate(moments)]


def _newest_first(items: list[Message]) -> list[str]:
    return [m.id for m in sorted(items, key=lambda m: (m.created_at, m.id), reverse=True)]


async def _page(storage: Any, **kw: Any) -> tuple[list[str], int]:
    args: dict[str, Any] = {"start": None, "end": None, **kw}
    async with storage.unit_of_work(read_only=True) as uow:
        found, total = await uow.messages.list_chat("i1", ALICE, **args)
    return [m.id for m in found], total


async def test_every_history_page_is_the_cut_of_the_whole_history(storage: Any) -> None:
    await _two_instances(storage)
    chat = _uneven_chat()
    await _add_messages(storage, *chat)
    whole = _newest_first(chat)
    for limit in (1, 3, 7, 25, 50, 200):
        for skip in (0, 1, 4, 19, 24, 26, 45, 71, 72, 80):
            assert await _page(storage, limit=limit, skip=skip) == (
                whole[skip : skip + limit],
                len(whole),
            ), (limit, skip)


async def test_every_dated_history_page_is_the_cut_of_those_dates(storage: Any) -> None:
    await _two_instances(storage)
    chat = _uneven_chat()
    await _add_messages(storage, *chat)
    spans = [
        (None, T0 - timedelta(days=2)),  # ends on the five that share a moment
        (T0 - timedelta(days=30, seconds=-5), T0 - timedelta(days=8)),
        (T0 - timedelta(days=2), None),
        (T0 - timedelta(days=3000), T0 - timedelta(days=800)),
        (T0 + timedelta(days=1), None),  # after every message
    ]
    for start, end in spans:
        inside = [
            m
            for m in chat
            if (start is None or m.created_at >= start) and (end is None or m.created_at <= end)
        ]
        whole = _newest_first(inside)
        for limit, skip in ((2, 0), (10, 0), (10, 3), (100, 0), (5, 40)):
            page = await _page(storage, start=start, end=end, limit=limit, skip=skip)
            assert page == (whole[skip : skip + limit], len(whole)), (start, end, limit, skip)


async def test_history_pages_follow_a_message_moved_back_in_time(storage: Any) -> None:
    await _two_instances(storage)
    chat = _uneven_chat()
    await _add_messages(storage, *chat)
    async with storage.unit_of_work() as uow:
        moved = await uow.messages.get("i1", chat[-1].message_id)  # the newest, 20 years back
        moved.created_at = T0 - timedelta(days=7300)
        await uow.messages.update(moved)
        await uow.commit()
    chat[-1].created_at = T0 - timedelta(days=7300)
    whole = _newest_first(chat)
    for limit, skip in ((5, 0), (30, 50), (10, len(whole) - 3)):
        assert await _page(storage, limit=limit, skip=skip) == (
            whole[skip : skip + limit],
            len(whole),
        )


def _jid(n: int) -> str:
    return f"1555{n:07d}@s.whatsapp.net"


def _in_chat(n: int, chat: int, minute: int) -> Message:
    m = message(n, _jid(chat), minute=minute)
    m.id = f"i1-y{n:03d}"
    m.message_id = f"3EB2{n:04d}"
    return m


def _recent_first(items: list[Message]) -> list[tuple[str, str, int]]:
    last: dict[str, Message] = {}
    counts: dict[str, int] = {}
    for m in items:
        counts[m.remote_jid] = counts.get(m.remote_jid, 0) + 1
        top = last.get(m.remote_jid)
        if top is None or (m.created_at, m.id) > (top.created_at, top.id):
            last[m.remote_jid] = m
    order = sorted(last, key=lambda jid: jid)
    order.sort(key=lambda jid: last[jid].created_at, reverse=True)
    return [(jid, last[jid].id, counts[jid]) for jid in order]


async def _chat_page(storage: Any, limit: int, skip: int) -> tuple[list[tuple[str, str, int]], int]:
    async with storage.unit_of_work(read_only=True) as uow:
        chats, total = await uow.messages.chats("i1", limit=limit, skip=skip)
    return [(c.remote_jid, c.last_message.id, c.message_count) for c in chats], total


async def _every_page_matches(storage: Any, stored: list[Message]) -> None:
    whole = _recent_first(stored)
    for limit, skip in ((3, 0), (3, 3), (5, 0), (4, 9), (3, 0), (20, 0), (2, 1)):
        assert await _chat_page(storage, limit, skip) == (
            whole[skip : skip + limit],
            len(whole),
        ), (limit, skip)


async def test_conversation_list_pages_stay_right_as_chats_move(storage: Any) -> None:
    await _two_instances(storage)
    # 12 chats, two with the same last moment (the jid orders them), read page by page.
    stored = [_in_chat(n, chat=n % 12, minute=10 + n) for n in range(24)]
    stored.append(_in_chat(24, chat=5, minute=33))  # chat 5's last: the same minute as chat 9's
    await _add_messages(storage, *stored)
    await _every_page_matches(storage, stored)

    stored.append(_in_chat(30, chat=0, minute=90))  # the least recent chat becomes the first
    stored.append(_in_chat(31, chat=40, minute=5))  # a new chat, older than every other
    await _add_messages(storage, *stored[-2:])
    await _every_page_matches(storage, stored)

    async with storage.unit_of_work() as uow:  # the first chat's only recent message moves back
        back = await uow.messages.get("i1", stored[-2].message_id)
        back.created_at = T0
        await uow.messages.update(back)
        gone = await uow.messages.get("i1", stored[-1].message_id)  # chat 40 moves to chat 11
        gone.remote_jid = _jid(11)
        await uow.messages.update(gone)
        await uow.commit()
    stored[-2].created_at = T0
    stored[-1].remote_jid = _jid(11)
    await _every_page_matches(storage, stored)

    leading = {jid for jid, _, _ in _recent_first(stored)[:3]}
    async with storage.unit_of_work() as uow:  # the three most recent chats lose their lead
        for m in stored:
            if m.remote_jid in leading:
                moved = await uow.messages.get("i1", m.message_id)
                moved.created_at = T0 - timedelta(days=1)
                await uow.messages.update(moved)
                m.created_at = T0 - timedelta(days=1)
        await uow.commit()
    await _every_page_matches(storage, stored)


async def test_keyset_walks_of_a_chat_and_of_the_list_give_each_item_once(storage: Any) -> None:
    await _two_instances(storage)
    chat = _uneven_chat()
    chats = [_in_chat(n, chat=n % 12, minute=10 + n) for n in range(24)]
    chats.append(_in_chat(24, chat=5, minute=33))  # ties with chat 9's last moment
    await _add_messages(storage, *chat, *chats)
    for size in (1, 4, 9, 50):
        walked: list[str] = []
        before = None
        async with storage.unit_of_work(read_only=True) as uow:
            while True:
                page = (await uow.messages.latest([("i1", ALICE)], before=before, limit=size))[
                    ("i1", ALICE)
                ]
                if not page:
                    break
                walked += [m.id for m in page]
                before = (page[-1].created_at, page[-1].id)
        assert walked == _newest_first(chat), size
        listed: list[str] = []
        after = None
        async with storage.unit_of_work(read_only=True) as uow:
            while True:
                rows = (await uow.messages.recent_chats(["i1"], before=after, limit=size))["i1"]
                if not rows:
                    break
                listed += [c.remote_jid for c in rows]
                after = (rows[-1].last_message.created_at, rows[-1].remote_jid)
        everything = _recent_first([*chat, *chats])
        assert listed == [jid for jid, _, _ in everything], size
