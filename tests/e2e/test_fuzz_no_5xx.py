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


async def test_no_input_produces_a_server_error(
    start_server: StartServer, client_for, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = await start_server()
    client: Client = client_for(server)
    admin = await client.admin_headers()
    # Give the fuzzer real instances to hit, next to the random ids it makes up.
    await client.paired_instance(admin, "fuzz-paired")
    await client.new_instance(admin, "fuzz-unpaired")
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
