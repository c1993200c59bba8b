"""Paging bounds: a `skip` beyond what storage can hold is a 400, never a 500."""

from __future__ import annotations

from domain.validation import MAX_SKIP
from tests.conftest import AppFactory

# Found by the schemathesis run once it had real instance ids: SQLite raised OverflowError.
HUGE = "155188442555556257496825856"


async def test_a_skip_too_large_for_storage_is_400_on_every_paged_list(
    api_factory: AppFactory,
) -> None:
    api = await api_factory()
    admin = await api.admin()
    iid = (await api.paired_instance(admin))["id"]
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
        r = await api.client.get(path, params={"skip": HUGE}, headers=admin)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["details"] == {"field": "skip"}, r.text
        # the largest allowed skip is simply past the end
        r = await api.client.get(path, params={"skip": str(MAX_SKIP)}, headers=admin)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["pagination"]["skip"] == MAX_SKIP
        assert r.json()["pagination"]["hasMore"] is False
