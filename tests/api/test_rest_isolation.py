"""Tenants: foreign and missing ids look alike, admins see all, users take their instances
with them. Every route and field against a second tenant: test_isolation_generated.py."""

from __future__ import annotations

from tests.conftest import Api


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
