"""The hot read routes send their JSON as built (rest_compat.responses.serialized), without
FastAPI's validation against their response models: this validates those bodies against the
same models (extra="forbid", every key required), so a presenter that drifts still fails."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rest_compat import responses as r
from rest_compat import responses_messaging as rm
from tests.conftest import Api

OUTSIDE = "79001234567"


def matches(model: type[BaseModel], body: dict[str, Any]) -> None:
    parsed = model.model_validate(body)  # raises on a missing, extra or mistyped key
    assert parsed.model_dump(mode="json", by_alias=True) == body


async def test_history_chats_and_stats_bodies_match_their_models(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.paired_instance(headers))["id"]
    for text in ("first", "второй 😀"):
        reply = await api.client.post(
            f"/api/sandbox/{iid}/incoming",
            json={"from": OUTSIDE, "body": text, "pushName": "张三"},
            headers=headers,
        )
        assert reply.status_code == 200, reply.text

    answer = await api.client.get(f"/api/instances/{iid}/chats/{OUTSIDE}/messages", headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    history = answer.json()
    assert [m["content"] for m in history["messages"]] == ["второй 😀", "first"]
    assert "второй 😀".encode() in answer.content  # UTF-8 as is, not \u-escaped
    matches(rm.MessagePage, history)

    chats = (await api.client.get(f"/api/instances/{iid}/chats", headers=headers)).json()
    assert chats["chats"][0]["messageCount"] == 2 and chats["chats"][0]["name"] == "张三"
    matches(rm.ChatPage, chats)

    stats = (
        await api.client.get(
            f"/api/stats/instances/{iid}", params={"period": "all"}, headers=headers
        )
    ).json()
    assert stats["usage"]["messagesReceived"] == 2
    matches(r.InstanceStats, stats)
