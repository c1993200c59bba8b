"""REST: activity log filters and pagination; the event feed's cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Api


async def _cycle(api: Api, instance_id: str, headers: dict[str, str], times: int) -> None:
    for n in range(times):
        r = await api.client.post(
            f"/api/sandbox/{instance_id}/disconnect", json={"reason": f"drop-{n}"}, headers=headers
        )
        assert r.status_code == 200
        await api.wait_status(instance_id, headers, "connected")


async def test_activity_records_lifecycle_newest_first(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    body = (await api.client.get(f"/api/instances/{inst['id']}/activity", headers=headers)).json()
    actions = [log["action"] for log in body["logs"]]
    assert actions[-1] == "created"
    assert actions[0] == "connected"
    assert "qr_received" in actions
    first = body["logs"][0]
    assert set(first) == {"id", "instanceId", "action", "details", "createdAt"}
    stamps = [log["createdAt"] for log in body["logs"]]
    assert stamps == sorted(stamps, reverse=True)
    assert body["pagination"] == {"total": len(actions), "limit": 100, "skip": 0, "hasMore": False}


async def test_activity_filters_and_pagination(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    await _cycle(api, inst["id"], headers, 3)
    base = f"/api/instances/{inst['id']}/activity"
    only = (await api.client.get(f"{base}?actions=connected,disconnected", headers=headers)).json()
    assert {log["action"] for log in only["logs"]} == {"connected", "disconnected"}
    assert only["pagination"]["total"] == 7  # 4 connects + 3 drops
    page1 = (
        await api.client.get(f"{base}?actions=connected&limit=3&skip=0", headers=headers)
    ).json()
    page2 = (
        await api.client.get(f"{base}?actions=connected&limit=3&skip=3", headers=headers)
    ).json()
    assert page1["pagination"] == {"total": 4, "limit": 3, "skip": 0, "hasMore": True}
    assert page2["pagination"]["hasMore"] is False and len(page2["logs"]) == 1
    assert not {x["id"] for x in page1["logs"]} & {x["id"] for x in page2["logs"]}

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await api.client.get(f"{base}?startDate={future}", headers=headers)).json()[
        "logs"
    ] == []
    assert (await api.client.get(f"{base}?endDate={past}", headers=headers)).json()["logs"] == []
    everything = (
        await api.client.get(f"{base}?startDate={past}&endDate={future}", headers=headers)
    ).json()
    assert everything["pagination"]["total"] >= 9


async def test_activity_bad_query_is_400(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers)
    base = f"/api/instances/{inst['id']}/activity"
    for query in (
        "limit=0",
        "limit=abc",
        "skip=-1",
        "startDate=yesterday",
        "limit=100000",
        "startDate=2024-02-01&endDate=2024-01-01",
    ):
        r = await api.client.get(f"{base}?{query}", headers=headers)
        assert r.status_code == 400, query
        assert r.json()["error"] == "validation_error"


async def test_events_have_the_spec_shape_and_filters(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    body = (await api.client.get(f"/api/instances/{inst['id']}/events", headers=headers)).json()
    assert set(body) == {"events", "latestTimestamp", "count", "hasMore"}
    types = [e["type"] for e in body["events"]]
    assert types == ["qr_received", "connected"]
    assert body["count"] == 2 and body["hasMore"] is False
    assert body["latestTimestamp"] == body["events"][-1]["timestamp"]
    qr = body["events"][0]
    assert qr["data"]["instanceId"] == inst["id"] and qr["data"]["qrCode"].startswith("2@")
    only = (
        await api.client.get(f"/api/instances/{inst['id']}/events?types=connected", headers=headers)
    ).json()
    assert [e["type"] for e in only["events"]] == ["connected"]
    assert only["events"][0]["data"] == {"instanceId": inst["id"]}
    r = await api.client.get(f"/api/instances/{inst['id']}/events?types=bogus", headers=headers)
    assert r.status_code == 400
    r = await api.client.get(f"/api/instances/{inst['id']}/events?since=garbage", headers=headers)
    assert r.status_code == 400


async def test_events_since_latest_timestamp_never_repeats_or_skips(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    await _cycle(api, inst["id"], headers, 4)
    url = f"/api/instances/{inst['id']}/events"
    everything = (await api.client.get(f"{url}?limit=1000", headers=headers)).json()["events"]
    stamps = [e["timestamp"] for e in everything]
    assert len(set(stamps)) == len(stamps), "each event has its own millisecond"
    assert stamps == sorted(stamps)

    seen: list[str] = []
    since = None
    while True:
        query = f"{url}?limit=2" + (f"&since={since}" if since else "")
        page = (await api.client.get(query, headers=headers)).json()
        seen += [e["id"] for e in page["events"]]
        if not page["hasMore"]:
            break
        since = page["latestTimestamp"]
    assert seen == [e["id"] for e in everything]
    # Nothing new: an empty page that keeps the cursor where it was.
    empty = (await api.client.get(f"{url}?since={page['latestTimestamp']}", headers=headers)).json()
    assert empty["events"] == [] and empty["latestTimestamp"] == page["latestTimestamp"]
