"""A paired instance comes back connected after the server stops, gracefully or not."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


async def restart_and_check(
    start_server, client_for, old: Client, instance_id: str, sig: int
) -> Client:
    """Stops `old` with `sig`, starts a new server on the same data dir, checks the instance."""
    key = {"x-api-key": await api_key(old)}
    before = await detail(old, instance_id, key)
    assert before["status"] == "connected", before
    assert before["phone"], before
    since = await old.latest_timestamp(instance_id, key)
    assert since is not None

    code = await old.server.stop(sig)
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL, code
    else:
        # uvicorn shuts down gracefully, then re-raises the signal it caught: 0 or -SIGTERM.
        assert code in (0, -signal.SIGTERM), f"exit code {code}; stderr:\n{old.server.stderr()}"
        assert "Traceback" not in old.server.stderr(), old.server.stderr()
    assert not old.server.running

    server = await start_server(old.server.data_dir)
    new = client_for(server)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while True:
        status = await new.status(instance_id, key)
        events = await new.all_events(instance_id, key, since=since)
        if status["status"] == "connected" and any(e["type"] == "connected" for e in events):
            break
        assert loop.time() < deadline, f"not reconnected after restart: {status} {events}"
        await asyncio.sleep(0.05)

    # It reconnected from its stored session: no QR code was ever shown.
    assert [e["type"] for e in events] == ["connected"], events
    after = await detail(new, instance_id, key)
    assert after["phone"] == before["phone"], (after, before)
    r = await new.http.get(f"/api/instances/{instance_id}/qr", headers=key)
    assert r.status_code == 409, r.text

    # And the connection is live in the new process: dropping it works and it comes back.
    await new.disconnect(instance_id, key, "after restart")
    await new.wait_status(instance_id, key, "connected")
    return new


async def detail(client: Client, instance_id: str, headers: dict[str, str]) -> dict:
    r = await client.http.get(f"/api/instances/{instance_id}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def api_key(client: Client) -> str:
    r = await client.http.post(
        "/api/auth/login",
        json={"email": "admin@example.com", "password": "admin-password-1"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["user"]["apiKey"])


async def test_paired_instance_survives_restart(start_server, client_for) -> None:
    first = client_for(await start_server())
    headers = await first.admin_headers()
    instance_id = await first.paired_instance(headers, "survivor")
    unpaired = await first.new_instance(headers, "never scanned")
    await first.wait_status(unpaired, headers, "qr")

    second = await restart_and_check(start_server, client_for, first, instance_id, signal.SIGTERM)
    # The unpaired one is back to showing QR codes, not magically paired.
    await second.wait_status(unpaired, headers, "qr")

    third = await restart_and_check(start_server, client_for, second, instance_id, signal.SIGKILL)
    await third.wait_status(unpaired, headers, "qr")

    # The JWT signed by the first process is still accepted by the third.
    r = await third.http.get("/api/instances", headers=headers)
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["instances"]} == {instance_id, unpaired}
