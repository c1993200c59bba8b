"""Tenants: a user sees and touches only their own instances; foreign ids answer 404."""

from __future__ import annotations

from tests.conftest import Api


async def test_second_user_cannot_see_or_touch_first_users_instance(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    inst = await api.paired_instance(alice, name="alice's")
    iid = inst["id"]

    listed = (await api.client.get("/api/instances", headers=bob)).json()["instances"]
    assert listed == []

    attempts = [
        ("GET", f"/api/instances/{iid}", None),
        ("GET", f"/api/instances/{iid}/status", None),
        ("PUT", f"/api/instances/{iid}", {"name": "stolen"}),
        ("POST", f"/api/instances/{iid}/reconnect", None),
        ("POST", f"/api/instances/{iid}/logout", None),
        ("GET", f"/api/instances/{iid}/qr", None),
        ("GET", f"/api/instances/{iid}/activity", None),
        ("GET", f"/api/instances/{iid}/events", None),
        ("GET", f"/api/whatsapp/{iid}/status", None),
        ("GET", f"/api/whatsapp/{iid}/qr", None),
        ("POST", f"/api/whatsapp/{iid}/logout", None),
        ("POST", f"/api/sandbox/{iid}/scan", {}),
        ("POST", f"/api/sandbox/{iid}/disconnect", {"reason": "x"}),
        ("DELETE", f"/api/instances/{iid}", None),
    ]
    for method, path, body in attempts:
        r = await api.client.request(method, path, json=body, headers=bob)
        assert r.status_code == 404, (method, path, r.status_code)
        assert r.json() == {"error": "not_found", "message": f"Instance {iid} not found"}

    # Alice's instance is untouched by all of that.
    mine = (await api.client.get(f"/api/instances/{iid}", headers=alice)).json()
    assert mine["name"] == "alice's" and mine["status"] == "connected"


async def test_foreign_and_missing_ids_look_the_same(api: Api) -> None:
    alice = await api.new_user("a2@example.com")
    bob = await api.new_user("b2@example.com")
    inst = await api.new_instance(alice)
    foreign = await api.client.get(f"/api/instances/{inst['id']}", headers=bob)
    missing = await api.client.get("/api/instances/does-not-exist", headers=bob)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == missing.json()["error"] == "not_found"


async def test_admin_sees_every_instance(api: Api) -> None:
    alice = await api.new_user("a3@example.com")
    inst = await api.new_instance(alice)
    admin = await api.admin()
    ids = {
        i["id"] for i in (await api.client.get("/api/instances", headers=admin)).json()["instances"]
    }
    assert inst["id"] in ids
    assert (await api.client.get(f"/api/instances/{inst['id']}", headers=admin)).status_code == 200


async def test_deleting_a_user_deletes_their_instances(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    admin = await api.admin()
    carol = await api.new_user("carol@example.com")
    inst = await api.paired_instance(carol)
    uid = (await api.client.get("/api/auth/me", headers=carol)).json()["id"]
    assert (await api.client.delete(f"/api/users/{uid}", headers=admin)).status_code == 200
    assert (await api.client.get(f"/api/instances/{inst['id']}", headers=admin)).status_code == 404
    assert not (tmp_path / "instances" / inst["id"]).exists()
