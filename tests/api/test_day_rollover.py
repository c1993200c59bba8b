"""Daily limits through the REST API with the app's clock injected: at UTC midnight the
counters start again and a new day's refusal sends a new `limit_exceeded` notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.clocked_app import admin_key, clock_at, clocked_api
from tests.conftest import Api

OUTSIDE = "79001234567"


async def send(api: Api, h: dict[str, str], iid: str, text: str) -> httpx.Response:
    return await api.client.post(
        f"/api/whatsapp/{iid}/send", json={"phone": OUTSIDE, "message": text}, headers=h
    )


async def notices(api: Api, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/instances/{iid}/events?types=limit_exceeded", headers=h)
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


async def sent_today(api: Api, h: dict[str, str], iid: str) -> int:
    r = await api.client.get(f"/api/stats/instances/{iid}?period=today", headers=h)
    assert r.status_code == 200, r.text
    return int(r.json()["usage"]["messagesSent"])


async def test_limits_reset_and_notify_again_the_next_utc_day(tmp_path: Path) -> None:
    evening = datetime.now(UTC).replace(hour=23, minute=58, second=0, microsecond=0)
    clock = clock_at(evening)
    async with clocked_api(tmp_path, clock) as api:
        h = await admin_key(api)
        iid = (await api.paired_instance(h, limits={"maxMessagesSent": 2}))["id"]

        for n in range(2):
            r = await send(api, h, iid, f"day one {n}")
            assert r.status_code == 200, r.text
        for _ in range(2):
            r = await send(api, h, iid, "day one, over the cap")
            assert r.status_code == 429 and r.json()["error"] == "limit_exceeded", r.text
        first_day = await notices(api, h, iid)
        assert len(first_day) == 1
        assert await sent_today(api, h, iid) == 2

        clock.advance(minutes=3)  # 00:01 the next UTC day
        assert clock.now().date() == evening.date() + timedelta(days=1)
        assert await sent_today(api, h, iid) == 0
        for n in range(2):
            r = await send(api, h, iid, f"day two {n}")
            assert r.status_code == 200, r.text
        assert await sent_today(api, h, iid) == 2
        r = await send(api, h, iid, "day two, over the cap")
        assert r.status_code == 429, r.text
        assert r.json()["details"]["used"] == 2

        both = await notices(api, h, iid)
        assert len(both) == 2, both
        assert both[0]["id"] == first_day[0]["id"]
        assert both[1]["timestamp"].startswith(clock.now().date().isoformat())
        assert both[1]["data"]["exceededLimits"] == ["maxMessagesSent"]
        r = await api.client.get(f"/api/instances/{iid}/activity?actions=limit_exceeded", headers=h)
        assert r.status_code == 200 and r.json()["pagination"]["total"] == 2
