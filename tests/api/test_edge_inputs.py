"""Edge inputs answer 4xx, never 5xx: integers past 64 bits on every list endpoint, and
phone digits that are not ASCII (fullwidth, Arabic-Indic), which made separate chats."""

from __future__ import annotations

from tests.conftest import Api

TWO_TO_63 = str(2**63)  # 9223372036854775808: one past SQLite's largest integer
NUMBERS = (TWO_TO_63, f"-{TWO_TO_63}", "1" + "0" * 40)
FULLWIDTH = "７９００１２３４５６７"  # 79001234567
ARABIC_INDIC = "٧٩٠٠١٢٣٤٥٦٧"


async def test_integers_past_64_bits_are_400_on_every_list_endpoint(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.paired_instance(headers))["id"]
    paged = (
        "/api/users",
        f"/api/instances/{iid}/chats",
        f"/api/instances/{iid}/chats/79001234567/messages",
        f"/api/instances/{iid}/activity",
        f"/api/instances/{iid}/contacts/db",
        f"/api/whatsapp/{iid}/contacts/db",
        f"/api/instances/{iid}/webhooks/deliveries",
    )
    for path in paged:
        for name in ("skip", "limit"):
            for number in NUMBERS:
                answer = await api.client.get(path, params={name: number}, headers=headers)
                assert answer.status_code == 400, (path, name, number, answer.text)
                assert answer.json()["error"] == "validation_error"
    events = f"/api/instances/{iid}/events"
    for name in ("limit", "since"):
        for number in NUMBERS:
            answer = await api.client.get(events, params={name: number}, headers=headers)
            assert answer.status_code == 400, (name, number, answer.text)


async def test_non_ascii_digits_are_not_phone_numbers(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.paired_instance(headers))["id"]
    for phone in (FULLWIDTH, ARABIC_INDIC, "+7 ９００ 1234567"):
        calls = (
            (f"/api/whatsapp/{iid}/send", {"phone": phone, "message": "hi"}),
            (f"/api/whatsapp/{iid}/contacts/add", {"phone": phone, "name": "x"}),
            (f"/api/instances/{iid}/contacts/save", {"number": phone, "name": "x"}),
            (f"/api/whatsapp/{iid}/check", {"phones": [phone]}),
            (f"/api/sandbox/{iid}/incoming", {"from": phone, "body": "hi"}),
        )
        for path, body in calls:
            answer = await api.client.post(path, json=body, headers=headers)
            assert answer.status_code == 400, (path, phone, answer.text)
            assert answer.json()["error"] == "validation_error"
        for jid in (f"{phone}@s.whatsapp.net", f"{phone}@lid"):
            answer = await api.client.post(
                f"/api/whatsapp/{iid}/send", json={"phone": jid, "message": "hi"}, headers=headers
            )
            assert answer.status_code == 400, (jid, answer.text)
    chats = await api.client.get(f"/api/instances/{iid}/chats", headers=headers)
    assert chats.json()["chats"] == []
    # the same number in ASCII digits is fine
    sent = await api.client.post(
        f"/api/whatsapp/{iid}/send",
        json={"phone": "+7 900 123-45-67", "message": "hi"},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text


async def test_non_ascii_digits_are_refused_over_graphql(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.paired_instance(headers))["id"]
    out = await api.gql(
        "mutation($id: ID!, $phone: String!) "
        '{ sendText(instanceId: $id, phone: $phone, message: "hi") '
        "{ message { id } userErrors { field code } } }",
        {"id": iid, "phone": FULLWIDTH},
        headers,
    )
    assert "errors" not in out, out
    payload = out["data"]["sendText"]
    assert payload["message"] is None
    assert payload["userErrors"] == [{"field": ["phone"], "code": "validation_error"}]
