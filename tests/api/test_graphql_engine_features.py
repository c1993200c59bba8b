"""GraphQL twins of the engine features: pairingCode, checkNumbers, engineWorkers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from domain.wire import WorkerInfo
from domain.workers import EngineWorkerView
from tests.conftest import Api

CODE_SHAPE = re.compile(r"^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$")
NOBODY = "4930555000111"
_400 = ("validation_error", 400)

PAIRING = "mutation($id: ID!, $phone: String!) { pairingCode(instanceId: $id, phone: $phone) }"
CHECK = """
query($id: ID!, $phones: [String!]!) {
  checkNumbers(instanceId: $id, phones: $phones) { phone jid exists }
}
"""
WORKERS = "{ engineWorkers { id pid status instances rssBytes restarts startedAt } }"


def error_of(out: dict[str, Any], code: str, status: int) -> dict[str, Any]:
    assert out.get("data") is None, out
    assert len(out["errors"]) == 1, out
    error = out["errors"][0]
    assert error["extensions"]["code"] == code, out
    assert error["extensions"]["status"] == status, out
    assert error["message"], out
    return error


async def api_calls(api: Api, h: dict[str, str], iid: str) -> int:
    r = await api.client.get(f"/api/stats/instances/{iid}", params={"period": "today"}, headers=h)
    return int(r.json()["usage"]["apiCalls"])


async def test_pairing_code_mutation_then_the_instance_pairs_as_that_phone(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    iid = (await api.new_instance(h))["id"]
    await api.wait_status(iid, h, "qr")
    before = await api_calls(api, h, iid)
    out = await api.gql(PAIRING, {"id": iid, "phone": "+7 900 123-45-67"}, h)
    assert CODE_SHAPE.match(out["data"]["pairingCode"]), out
    assert await api_calls(api, h, iid) == before + 1
    assert (await api.client.post(f"/api/sandbox/{iid}/scan", json={}, headers=h)).is_success
    await api.wait_status(iid, h, "connected")
    assert (await api.client.get(f"/api/instances/{iid}", headers=h)).json()["phone"] == (
        "79001234567"
    )


async def test_pairing_code_errors_bad_phone_foreign_and_wrong_state(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    iid = (await api.new_instance(alice))["id"]
    await api.wait_status(iid, alice, "qr")
    bad = error_of(await api.gql(PAIRING, {"id": iid, "phone": "089 1234567"}, alice), *_400)
    assert bad["extensions"]["field"] == "phone"
    error_of(await api.gql(PAIRING, {"id": iid, "phone": "491512345678"}, bob), "not_found", 404)
    connected = (await api.paired_instance(alice, name="paired"))["id"]
    error = error_of(
        await api.gql(PAIRING, {"id": connected, "phone": "491512345678"}, alice), "conflict", 409
    )
    assert error["extensions"]["instanceStatus"] == "connected"


async def test_check_numbers_query_answers_from_the_sandbox_network(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    me = (await api.paired_instance(h))["id"]
    other = (await api.paired_instance(h, name="other"))["id"]
    other_phone = (await api.client.get(f"/api/instances/{other}", headers=h)).json()["phone"]
    before = await api_calls(api, h, me)
    out = await api.gql(CHECK, {"id": me, "phones": [NOBODY, f"+{other_phone}"]}, h)
    assert out["data"]["checkNumbers"] == [
        {"phone": NOBODY, "jid": None, "exists": False},
        {"phone": other_phone, "jid": f"{other_phone}@s.whatsapp.net", "exists": True},
    ], out
    assert await api_calls(api, h, me) == before + 1


async def test_check_numbers_errors_bad_input_foreign_and_not_connected(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    me = (await api.paired_instance(alice))["id"]
    error = error_of(await api.gql(CHECK, {"id": me, "phones": ["12", NOBODY, "x"]}, alice), *_400)
    assert error["extensions"]["invalid"] == ["12", "x"]
    error_of(await api.gql(CHECK, {"id": me, "phones": []}, alice), *_400)
    error_of(await api.gql(CHECK, {"id": me, "phones": [NOBODY]}, bob), "not_found", 404)
    waiting = (await api.new_instance(alice, name="waiting"))["id"]
    await api.wait_status(waiting, alice, "qr")
    error = error_of(
        await api.gql(CHECK, {"id": waiting, "phones": [NOBODY]}, alice), "conflict", 409
    )
    assert error["extensions"]["instanceStatus"] == "qr"


class ListedWorkers:
    """Stands in for the neonize engine's workers (D2's WorkerEngine implements the port)."""

    def __init__(self, workers: list[WorkerInfo]) -> None:
        self.listed = workers

    async def workers(self) -> list[WorkerInfo]:
        return self.listed


async def test_engine_workers_for_admins_only_in_both_apis(api: Api) -> None:
    admin = await api.admin()
    assert (await api.gql(WORKERS, headers=admin))["data"] == {"engineWorkers": []}
    started = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    api.container.engine_workers = EngineWorkerView(
        ListedWorkers([WorkerInfo("w1", 4242, "running", ("i1",), 2**33, 2, started)])
    )
    out = await api.gql(WORKERS, headers=admin)
    expected = {
        "id": "w1",
        "pid": 4242,
        "status": "running",
        "instances": ["i1"],
        "rssBytes": 2**33,
        "restarts": 2,
        "startedAt": "2026-01-02T03:04:05.678Z",
    }
    assert out["data"] == {"engineWorkers": [expected]}, out
    r = await api.client.get("/api/engine/workers", headers=admin)
    assert r.json() == {"workers": [expected]}, r.text
    user = await api.new_user("owner@example.com")
    error_of(await api.gql(WORKERS, headers=user), "forbidden", 403)
    assert (await api.client.get("/api/engine/workers", headers=user)).status_code == 403
