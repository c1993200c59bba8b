"""REST and GraphQL: groups between paired sandbox instances — create, message, participant
changes arriving as events, a group poll tallied from two members' votes, invite links."""

from __future__ import annotations

from typing import Any

from tests.api.test_rest_rich import _event, _message, _pair, _post, _until
from tests.conftest import Api

ALICE, BOB, CAROL = "15550001111", "15550002222", "15550003333"
JID = "@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


async def _create(api: Api, h: dict[str, str], iid: str, name: str, people: list[str]) -> str:
    body = {"name": name, "participants": people}
    r = await api.client.post(f"/api/whatsapp/{iid}/groups", json=body, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _three(api: Api) -> tuple[dict[str, str], str, str, str]:
    h = await api.admin()
    a = await _pair(api, h, ALICE, "Alice")
    b = await _pair(api, h, BOB, "Bob")
    c = await _pair(api, h, CAROL, "Carol")
    return h, a, b, c


async def test_group_create_message_and_participant_changes(api: Api) -> None:
    h, a, b, c = await _three(api)
    r = await api.client.post(
        f"/api/whatsapp/{a}/groups", json={"name": "Team", "participants": [BOB]}, headers=h
    )
    assert r.status_code == 201, r.text
    group = r.json()
    gid = group["id"]
    assert gid.endswith("@g.us") and group["subject"] == "Team"
    roles = {p["jid"]: (p["isAdmin"], p["isSuperAdmin"]) for p in group["participants"]}
    assert roles == {ALICE + JID: (True, True), BOB + JID: (False, False)}

    created = await _event(api, h, b, "group_update", groupJid=gid, action="created")
    assert created["by"] == ALICE + JID and created["group"]["subject"] == "Team"
    listed = (await api.client.get(f"/api/whatsapp/{b}/groups", headers=h)).json()["groups"]
    assert [g["id"] for g in listed] == [gid]

    # a message to the group reaches Bob with Alice as its participant, and not Carol
    sent = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": gid, "message": "hi all"})
    got = await _message(api, h, b, gid, sent["id"])
    assert got["content"] == "hi all" and got["metadata"]["participant"] == ALICE + JID
    received = await _event(api, h, b, "message_received", messageId=sent["id"])
    assert received["participant"] == ALICE + JID and received["from"] == gid
    r = await api.client.get(f"/api/instances/{c}/chats/{gid}/messages", headers=h)
    assert r.json()["messages"] == []

    # the group's name shows in Bob's chats (its contact row)
    chats = (await api.client.get(f"/api/instances/{b}/chats", headers=h)).json()["chats"]
    assert chats[0]["remoteJid"] == gid

    # Alice adds Carol: Carol and Bob are told
    r = await api.client.post(
        f"/api/whatsapp/{a}/groups/{gid}/participants",
        json={"action": "add", "participants": ["+1 555 000 3333"]},
        headers=h,
    )
    assert r.status_code == 200 and len(r.json()["participants"]) == 3
    added = await _event(api, h, c, "group_update", groupJid=gid, action="add")
    assert added["participants"] == [CAROL + JID] and added["by"] == ALICE + JID
    await _event(api, h, b, "group_update", groupJid=gid, action="add")

    # Bob is no admin: he cannot remove Carol (403), until Alice promotes him
    r = await api.client.post(
        f"/api/whatsapp/{b}/groups/{gid}/participants",
        json={"action": "remove", "participants": [CAROL]},
        headers=h,
    )
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    await _post(
        api,
        h,
        f"/api/whatsapp/{a}/groups/{gid}/participants",
        {"action": "promote", "participants": [BOB]},
    )
    await _event(api, h, b, "group_update", groupJid=gid, action="promote")
    removed = await _post(
        api,
        h,
        f"/api/whatsapp/{b}/groups/{gid}/participants",
        {"action": "remove", "participants": [CAROL]},
    )
    assert CAROL + JID not in {p["jid"] for p in removed["participants"]}
    gone = await _event(api, h, c, "group_update", groupJid=gid, action="remove")
    assert gone["by"] == BOB + JID
    r = await api.client.get(f"/api/whatsapp/{c}/groups/{gid}", headers=h)
    assert r.status_code == 404

    # rename and describe: every member hears of it
    r = await api.client.put(
        f"/api/whatsapp/{b}/groups/{gid}/subject", json={"subject": "Core team"}, headers=h
    )
    assert r.status_code == 200 and r.json()["subject"] == "Core team"
    await _event(api, h, a, "group_update", action="subject", subject="Core team")
    r = await api.client.put(
        f"/api/whatsapp/{a}/groups/{gid}/description", json={"description": "ship it"}, headers=h
    )
    assert r.json()["description"] == "ship it"
    await _event(api, h, b, "group_update", action="description", description="ship it")


async def test_a_group_poll_tallies_votes_from_two_members(api: Api) -> None:
    h, a, b, c = await _three(api)
    gid = await _create(api, h, a, "Lunch", [BOB, CAROL])
    poll = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-poll",
        {"phone": gid, "question": "Where?", "options": ["Thai", "Deli"]},
    )
    await _message(api, h, b, gid, poll["id"])
    await _message(api, h, c, gid, poll["id"])
    await _post(api, h, f"/api/whatsapp/{b}/poll-vote", {"pollId": poll["id"], "options": ["Thai"]})
    await _post(api, h, f"/api/whatsapp/{c}/poll-vote", {"pollId": poll["id"], "options": ["Deli"]})

    async def tallied() -> bool:
        m = await _message(api, h, a, gid, poll["id"])
        return bool(m["metadata"]["poll"]["tally"] == {"Thai": 1, "Deli": 1})

    await _until(tallied)
    votes = {v["voter"]: v["options"] for v in await _all_votes(api, h, a)}
    assert votes == {BOB + JID: ["Thai"], CAROL + JID: ["Deli"]}


async def _all_votes(api: Api, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/instances/{iid}/events?types=poll_vote", headers=h)
    return [e["data"] for e in r.json()["events"]]


async def test_invite_link_join_revoke_and_leave(api: Api) -> None:
    h, a, b, c = await _three(api)
    gid = await _create(api, h, a, "Club", [BOB])
    link = (await _post(api, h, f"/api/whatsapp/{a}/groups/{gid}/invite", {}))["inviteLink"]
    assert link.startswith("https://chat.whatsapp.com/")
    joined = await _post(api, h, f"/api/whatsapp/{c}/groups/join", {"link": link})
    assert joined["id"] == gid and CAROL + JID in {p["jid"] for p in joined["participants"]}
    await _event(api, h, a, "group_update", action="join", by=CAROL + JID)
    r = await api.client.post(f"/api/whatsapp/{c}/groups/join", json={"link": link}, headers=h)
    assert r.status_code == 409  # already in it

    new = (await _post(api, h, f"/api/whatsapp/{a}/groups/{gid}/invite", {"revoke": True}))[
        "inviteLink"
    ]
    assert new != link
    r = await api.client.post(
        f"/api/whatsapp/{b}/groups/{gid}/invite", json={"revoke": True}, headers=h
    )
    assert r.status_code == 403  # revoking needs an admin

    left = await _post(api, h, f"/api/whatsapp/{c}/groups/{gid}/leave", {})
    assert left == {"success": True}
    await _event(api, h, a, "group_update", action="leave", by=CAROL + JID)
    await _event(api, h, c, "group_update", action="leave")  # told too
    r = await api.client.post(f"/api/whatsapp/{c}/groups/join", json={"link": link}, headers=h)
    assert r.status_code == 404  # the old link was revoked


async def test_group_input_errors_are_400(api: Api) -> None:
    h, a, _, _ = await _three(api)
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "groups", {"name": "", "participants": [BOB]}, "name"),
        ("POST", "groups", {"name": "x" * 101, "participants": [BOB]}, "name"),
        ("POST", "groups", {"name": "x", "participants": []}, "participants"),
        ("POST", "groups", {"name": "x", "participants": ["abc"]}, "participants"),
        ("POST", "groups", {"name": "x", "participants": [GROUP]}, "participants"),
        ("POST", "groups/join", {"link": "https://example.com/x"}, "link"),
        ("GET", "groups/not-a-group", {}, "groupId"),
        ("POST", f"groups/{GROUP}/participants", {"action": "x", "participants": [BOB]}, "action"),
    ]  # fmt: skip
    for method, path, body, field in cases:
        kwargs: dict[str, Any] = {"json": body} if method == "POST" else {}
        r = await api.client.request(method, f"/api/whatsapp/{a}/{path}", headers=h, **kwargs)
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["details"]["field"] == field, (path, body, r.json())
    assert (await api.client.get(f"/api/whatsapp/{a}/groups", headers=h)).json() == {"groups": []}


async def test_groups_through_graphql(api: Api) -> None:
    h, a, b, _ = await _three(api)
    create = """mutation($i: ID!, $p: [String!]!) {
        createGroup(instanceId: $i, subject: "GQL", participants: $p) {
          group { id subject participants { jid isAdmin } } userErrors { field code } } }"""
    bad = (await api.gql(create, {"i": a, "p": []}, h))["data"]["createGroup"]
    assert bad["group"] is None and bad["userErrors"][0]["field"] == ["input", "participants"]
    made = (await api.gql(create, {"i": a, "p": [BOB]}, h))["data"]["createGroup"]["group"]
    assert made["subject"] == "GQL"
    await _event(api, h, b, "group_update", groupJid=made["id"], action="created")
    answer = await api.gql(
        "query($i: ID!, $g: String!) { group(instanceId: $i, groupId: $g) { subject owner } }",
        {"i": b, "g": made["id"]},
        h,
    )
    assert answer["data"]["group"] == {"subject": "GQL", "owner": ALICE + JID}
    answer = await api.gql("query($i: ID!) { groups(instanceId: $i) { id } }", {"i": b}, h)
    assert answer["data"]["groups"] == [{"id": made["id"]}]
