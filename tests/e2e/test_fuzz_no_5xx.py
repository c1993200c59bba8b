"""Fuzzes every REST operation of the OpenAPI document: no input may produce a 5xx, and
every answer must be one the document declares (status, content type and body schema)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Client, StartServer

pytestmark = pytest.mark.e2e

# The response models are the contract: an answer outside them is a bug, like a 5xx.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)

CHAT = "79001234567"
# Fuzzed webhook URLs are public hosts: the server's HTTP clients (httpx honours these) go
# through a closed port on 127.0.0.1 instead, so no delivery can leave the machine.
NO_WHERE = "http://127.0.0.1:1"
NOTHING_LEAVES = {"HTTP_PROXY": NO_WHERE, "HTTPS_PROXY": NO_WHERE, "ALL_PROXY": NO_WHERE}
NOTHING_LEAVES |= {name.lower(): value for name, value in NOTHING_LEAVES.items()}
NOTHING_LEAVES |= {"NO_PROXY": "", "no_proxy": ""}
# Never with a real instance: fetching a fuzzed media URL (its DNS lookup included), or
# pointing a live instance's webhook at a fuzzed host. These get an unknown id (a 404).
SHIELDED = (
    "POST /api/whatsapp/{instance_id}/send-media",
    "PUT /api/instances/{instance_id}",
    "DELETE /api/instances/{instance_id}",  # and keep the real instances for the others
)
UNKNOWN_INSTANCE = "00000000-0000-4000-8000-000000000000"


async def test_no_input_produces_a_server_error_or_an_undocumented_answer(
    start_server: StartServer, client_for, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(**NOTHING_LEAVES)
    client: Client = client_for(server)
    admin = await client.admin_headers()
    # Give the fuzzer real instances, with a chat in one, so that the 2xx bodies (not only
    # 404s for made-up ids) are checked against their schemas.
    paired = await client.paired_instance(admin, "fuzz-paired")
    unpaired = await client.new_instance(admin, "fuzz-unpaired")
    incoming = {"from": CHAT, "body": "hello", "pushName": "Fuzz"}
    r = await client.http.post(f"/api/sandbox/{paired}/incoming", json=incoming, headers=admin)
    assert r.status_code == 200, r.text
    sent = {"phone": CHAT, "message": "hi"}
    r = await client.http.post(f"/api/whatsapp/{paired}/send", json=sent, headers=admin)
    assert r.status_code == 200, r.text
    r = await client.http.post(
        f"/api/whatsapp/{paired}/send-file",
        data={"phone": CHAT},
        files={"file": ("note.txt", b"a stored file", "text/plain")},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    r = await client.http.get(f"/api/instances/{paired}/chats/{CHAT}/messages", headers=admin)
    media_id = next(m["mediaUrl"] for m in r.json()["messages"] if m["hasMedia"]).split("/")[-1]
    # Picked up from the working directory: half the ids the fuzzer sends are real ones.
    (tmp_path / "schemathesis.toml").write_text(
        "[dictionaries]\n"
        f'instances = {{ values = ["{paired}", "{unpaired}"] }}\n'
        f'chats = {{ values = ["{CHAT}"] }}\n'
        f'media = {{ values = ["{media_id}"] }}\n'
        "[parameters]\n"
        '"path.instance_id" = { dictionary = "instances", probability = 0.5 }\n'
        '"path.chat_id" = { dictionary = "chats", probability = 0.5 }\n'
        '"path.media_id" = { dictionary = "media", probability = 0.5 }\n'
        + "".join(
            f'[[operations]]\ninclude-name = "{name}"\n'
            f'parameters = {{ "path.instance_id" = "{UNKNOWN_INSTANCE}" }}\n'
            for name in SHIELDED
        )
    )
    st = Path(sys.executable).with_name("st")
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: {admin['Authorization']}",
        "--checks",
        ",".join(CHECKS),
        # Rotating the key or deleting users mid-run would only make the rest 401.
        "--exclude-path",
        "/api/auth/api-key/rotate",
        "--max-examples",
        "25",
        "--seed",
        "20261129",
        "--request-timeout",
        "10",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    report = out.decode("utf-8", "replace")
    assert proc.returncode == 0, report[-6000:]
    assert "passed" in report and " 0 passed" not in report, report[-2000:]
    assert "Traceback" not in server.stderr(), server.stderr()[-4000:]
