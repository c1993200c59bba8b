"""REST: the spec's contact endpoints, under both prefixes."""

from __future__ import annotations

from tests.conftest import Api


async def test_whatsapp_contacts_are_the_sandbox_address_book(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.get(f"/api/whatsapp/{inst['id']}/contacts", headers=headers)
    contacts = r.json()["contacts"]
    assert len(contacts) == 6
    assert all(set(c) == {"id", "name", "number", "isGroup"} for c in contacts)
    groups = [c for c in contacts if c["isGroup"]]
    assert len(groups) == 1 and groups[0]["id"].endswith("@g.us")
    people = [c for c in contacts if not c["isGroup"]]
    assert all(c["id"] == f"{c['number']}@s.whatsapp.net" for c in people)
    again = (await api.client.get(f"/api/whatsapp/{inst['id']}/contacts", headers=headers)).json()
    assert again["contacts"] == contacts  # deterministic


async def test_contacts_need_a_connected_instance(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers)
    await api.wait_status(inst["id"], headers, "qr")
    assert (
        await api.client.get(f"/api/whatsapp/{inst['id']}/contacts", headers=headers)
    ).status_code == 409
    r = await api.client.post(f"/api/instances/{inst['id']}/contacts/import", headers=headers)
    assert r.status_code == 409


async def test_add_contact_answers_as_the_spec_and_appears_in_whatsapp(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/contacts/add",
        json={"phone": "+7 900 123-45-67", "name": "张三"},
        headers=headers,
    )
    assert r.status_code == 200
    assert r.json() == {
        "success": True,
        "message": "联系人添加成功",
        "contact": {"id": "79001234567@s.whatsapp.net", "number": "79001234567", "name": "张三"},
    }
    listed = (await api.client.get(f"/api/whatsapp/{inst['id']}/contacts", headers=headers)).json()[
        "contacts"
    ]
    assert {
        "id": "79001234567@s.whatsapp.net",
        "name": "张三",
        "number": "79001234567",
        "isGroup": False,
    } in listed
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/contacts/add", json={"phone": "x"}, headers=headers
    )
    assert r.status_code == 400


async def test_import_is_idempotent(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    for prefix in ("/api/instances", "/api/whatsapp"):
        r = await api.client.post(f"{prefix}/{inst['id']}/contacts/import", headers=headers)
        assert r.json() == {"success": True, "message": "成功导入 6 个联系人", "importedCount": 6}
    db = (await api.client.get(f"/api/instances/{inst['id']}/contacts/db", headers=headers)).json()
    assert db["pagination"]["total"] == 6
    assert len({c["remoteJid"] for c in db["contacts"]}) == 6
    first = {c["remoteJid"]: c["id"] for c in db["contacts"]}
    await api.client.post(f"/api/instances/{inst['id']}/contacts/import", headers=headers)
    again = (
        await api.client.get(f"/api/whatsapp/{inst['id']}/contacts/db", headers=headers)
    ).json()
    assert {c["remoteJid"]: c["id"] for c in again["contacts"]} == first


async def test_save_upserts_by_number_and_keeps_what_was_not_given(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers)  # saving needs no connection
    body = {
        "number": "79001234567",
        "name": "张三",
        "pushName": "三",
        "isGroup": False,
        "profilePicture": "https://example.com/p.jpg",
        "about": "用户状态",
    }
    r = await api.client.post(
        f"/api/instances/{inst['id']}/contacts/save", json=body, headers=headers
    )
    assert r.status_code == 200
    saved = r.json()
    assert {k: saved[k] for k in body} == body
    assert saved["remoteJid"] == "79001234567@s.whatsapp.net" and saved["instanceId"] == inst["id"]
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/contacts/save",
        json={"number": "+7 900 123 45 67", "about": "新状态"},
        headers=headers,
    )
    updated = r.json()
    assert updated["id"] == saved["id"] and updated["createdAt"] == saved["createdAt"]
    assert updated["name"] == "张三" and updated["about"] == "新状态"
    total = (
        await api.client.get(f"/api/instances/{inst['id']}/contacts/db", headers=headers)
    ).json()
    assert total["pagination"]["total"] == 1
    for bad in (
        {"number": ""},
        {"number": "abc"},
        {"name": "x"},
        {"number": "7900", "profilePicture": "x" * 2049},  # free text, but bounded
    ):
        r = await api.client.post(
            f"/api/instances/{inst['id']}/contacts/save", json=bad, headers=headers
        )
        assert r.status_code == 400, bad


async def test_db_contacts_search_groups_and_pagination(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    await api.client.post(f"/api/instances/{inst['id']}/contacts/import", headers=headers)
    url = f"/api/instances/{inst['id']}/contacts/db"
    by_name = (await api.client.get(f"{url}?search=alice", headers=headers)).json()["contacts"]
    assert [c["name"] for c in by_name] == ["Alice Sandbox"]
    chinese = (await api.client.get(f"{url}?search=张", headers=headers)).json()["contacts"]
    assert [c["name"] for c in chinese] == ["张三"]
    by_number = (await api.client.get(f"{url}?search=0003", headers=headers)).json()["contacts"]
    assert [c["name"] for c in by_number] == ["Carol Sandbox"]
    assert (await api.client.get(f"{url}?search=%25", headers=headers)).json()["contacts"] == []
    groups = (await api.client.get(f"{url}?onlyGroups=true", headers=headers)).json()
    assert [c["isGroup"] for c in groups["contacts"]] == [True]
    page = (await api.client.get(f"{url}?limit=4&skip=4", headers=headers)).json()
    assert len(page["contacts"]) == 2
    assert page["pagination"] == {"total": 6, "limit": 4, "skip": 4, "hasMore": False}
    for bad in ("limit=0", "skip=-2", "onlyGroups=maybe"):
        assert (await api.client.get(f"{url}?{bad}", headers=headers)).status_code == 400, bad
