"""GraphQL: the rich mutations call the same use cases as REST; fixable input comes back as
userErrors, someone else's instance as a not-found error."""

from __future__ import annotations

from typing import Any

from tests.api.test_rest_rich import ALICE, BOB, _event, _message, _pair
from tests.conftest import Api

MESSAGE = "message { messageId messageType content metadata } userErrors { field code message }"


async def _pair_both(api: Api) -> tuple[dict[str, str], str, str]:
    h = await api.admin()
    return h, await _pair(api, h, ALICE, "Alice"), await _pair(api, h, BOB, "Bob")


async def test_location_poll_vote_edit_and_revoke_through_graphql(api: Api) -> None:
    h, a, b = await _pair_both(api)
    answer = await api.gql(
        f"""mutation($i: ID!) {{ sendLocation(instanceId: $i, input: {{phone: "{BOB}",
        latitude: 48.85, longitude: 2.35, name: "Paris"}}) {{ {MESSAGE} }} }}""",
        {"i": a},
        h,
    )
    sent = answer["data"]["sendLocation"]
    assert sent["userErrors"] == [] and sent["message"]["messageType"] == "location"
    got = await _message(api, h, b, ALICE, sent["message"]["messageId"])
    assert got["metadata"]["location"]["name"] == "Paris"

    poll = (
        await api.gql(
            f"""mutation($i: ID!) {{ sendPoll(instanceId: $i, input: {{phone: "{BOB}",
            question: "Day?", options: ["Mon", "Tue"]}}) {{ {MESSAGE} }} }}""",
            {"i": a},
            h,
        )
    )["data"]["sendPoll"]["message"]
    await _message(api, h, b, ALICE, poll["messageId"])
    vote = (
        "mutation($i: ID!, $p: String!, $o: [String!]!) { "
        f"votePoll(instanceId: $i, pollId: $p, options: $o) {{ {MESSAGE} }} }}"
    )
    wrong = (await api.gql(vote, {"i": b, "p": poll["messageId"], "o": ["Sun"]}, h))["data"]
    assert wrong["votePoll"]["message"] is None
    assert wrong["votePoll"]["userErrors"][0]["field"] == ["input", "options"]
    done = (await api.gql(vote, {"i": b, "p": poll["messageId"], "o": ["Tue"]}, h))["data"]
    assert done["votePoll"]["message"]["metadata"]["poll"]["tally"] == {"Mon": 0, "Tue": 1}
    await _event(api, h, a, "poll_vote", pollMessageId=poll["messageId"])

    text = (await api.gql(
        f'mutation($i: ID!) {{ sendText(instanceId: $i, phone: "{BOB}", message: "v1") '
        "{ message { messageId } } }",
        {"i": a},
        h,
    ))["data"]["sendText"]["message"]  # fmt: skip
    edit = (
        "mutation($i: ID!, $m: String!) { "
        f'editMessage(instanceId: $i, messageId: $m, message: "v2") {{ {MESSAGE} }} }}'
    )
    edited = (await api.gql(edit, {"i": a, "m": text["messageId"]}, h))["data"]["editMessage"]
    assert edited["message"]["content"] == "v2"
    await _event(api, h, b, "message_edited", messageId=text["messageId"], body="v2")
    revoke = (
        "mutation($i: ID!, $m: String!) { "
        f"revokeMessage(instanceId: $i, messageId: $m) {{ {MESSAGE} }} }}"
    )
    revoked = (await api.gql(revoke, {"i": a, "m": text["messageId"]}, h))["data"]
    assert revoked["revokeMessage"]["message"]["metadata"]["revoked"] is True
    await _event(api, h, b, "message_revoked", messageId=text["messageId"])


async def test_webhook_events_are_chosen_and_checked(api: Api) -> None:
    h, a, _ = await _pair_both(api)
    query = """mutation($i: ID!, $e: [EventType!]!) { setWebhookEvents(instanceId: $i,
        events: $e) { events userErrors { field code } } }"""
    # An unknown kind is refused by the EventType enum before the use case runs.
    bad = await api.gql(query, {"i": a, "e": ["message_reactions"]}, h)
    assert bad["data"] is None and "EventType" in bad["errors"][0]["message"], bad
    chosen = ["message_received", "message_reaction", "message_reaction", "presence_update"]
    good = (await api.gql(query, {"i": a, "e": chosen}, h))["data"]["setWebhookEvents"]
    assert good == {
        "events": ["message_received", "message_reaction", "presence_update"],
        "userErrors": [],
    }
    r = await api.client.get(f"/api/instances/{a}", headers=h)
    assert r.json()["webhookSettings"]["events"] == good["events"]
    shown = await api.gql(
        "query($i: ID!) { instance(id: $i) { webhookSettings { events } } }", {"i": a}, h
    )
    assert shown["data"]["instance"]["webhookSettings"]["events"] == good["events"]
    # an unfiltered poll now includes the chosen kind
    await api.client.post(
        f"/api/whatsapp/{_}/presence", json={"state": "composing", "chatId": ALICE}, headers=h
    )
    await _event(api, h, a, "presence_update")
    events = (await api.client.get(f"/api/instances/{a}/events?limit=1000", headers=h)).json()
    assert "presence_update" in {e["type"] for e in events["events"]}


async def test_someone_elses_instance_is_not_found(api: Api) -> None:
    h, a, _ = await _pair_both(api)
    bob = await api.new_user("bob@example.com")
    answer: dict[str, Any] = await api.gql(
        """mutation($i: ID!) { sendPresence(instanceId: $i, state: available)
        { success userErrors { code } } }""",
        {"i": a},
        bob,
    )
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "not_found"
