"""Signals for "nothing else happened" checks in the API tests: instead of sleeping a while,
make a second instance go through the same delay and wait until it has; anything the sandbox
would still do to the instance under test was scheduled earlier, so it has happened by then."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api

WITNESS_PHONE = "79001234567"


async def _until(check: Any, what: str, within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def reconnect_delay_passed(api: Api, headers: dict[str, str]) -> None:
    """A witness instance dropped (not logged out) now is back connected: the sandbox's
    reconnect delay has run out for anything dropped before."""
    witness = await api.paired_instance(headers, name="reconnect witness")
    r = await api.client.post(
        f"/api/sandbox/{witness['id']}/disconnect", json={"reason": "witness"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert (await api.wait_status(witness["id"], headers, "connected", within=10.0))["ready"]


async def receipt_delay_passed(api: Api, headers: dict[str, str]) -> None:
    """A message sent now by a witness instance (automatic receipts on) has been read: any
    receipt the sandbox would send for a message sent before has been sent too."""
    witness = await api.paired_instance(headers, name="receipt witness")
    r = await api.client.post(
        f"/api/whatsapp/{witness['id']}/send",
        json={"phone": WITNESS_PHONE, "message": "witness"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    path = f"/api/instances/{witness['id']}/chats/{WITNESS_PHONE}/messages"

    async def read() -> bool:
        page = await api.client.get(path, headers=headers)
        assert page.status_code == 200, page.text
        return any(m["status"] == "read" for m in page.json()["messages"])

    await _until(read, "the witness message to be read")
