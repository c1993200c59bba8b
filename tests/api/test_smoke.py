from tests.conftest import Api


async def test_health_needs_no_auth(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    r = await api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


async def test_pairing_via_sandbox(api: Api) -> None:
    headers = await api.admin()
    instance = await api.paired_instance(headers)
    r = await api.client.get(f"/api/instances/{instance['id']}", headers=headers)
    assert r.json()["connectionStatus"] == {"ready": True, "status": "connected", "hasQr": False}


async def test_graphql_datetime_has_milliseconds_and_z(api: Api) -> None:
    out = await api.gql("{ me { createdAt } }", headers=await api.admin())
    assert out["data"]["me"]["createdAt"].endswith("Z"), out
