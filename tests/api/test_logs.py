"""Logs: JSON lines with the request id and instance id, and never a secret or a body."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api import logs
from tests.conftest import ADMIN_PASSWORD
from tests.webhook_receiver import WebhookReceiver

OUTSIDE = "79001234567"
USER_PASSWORD = "user-password-Kx81"
WRONG_PASSWORD = "wrong-password-Zq27"
WEBHOOK_SECRET = "whsec-Uj3k5Lm9Qp"
HEADER_TOKEN = "hdr-token-Vb6Nc2"
SENT_BODY = "sent body Rt5Yh8 with text"
RECEIVED_BODY = "received body Gw4Pf1 with text"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    handler = logs.configure("debug", "json", buffer)
    yield buffer
    root.removeHandler(handler)
    for old in saved[0]:
        root.addHandler(old)
    root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_no_secret_or_body_is_logged(
    api_factory: Callable[..., Any], captured: io.StringIO
) -> None:
    api = await api_factory(webhook_poll_interval_ms=50, sandbox_receipt_delay_ms=20)
    token = (await api.login())["token"]
    admin = {"Authorization": f"Bearer {token}"}
    r = await api.client.post(
        "/api/auth/login", json={"email": "admin@example.com", "password": WRONG_PASSWORD}
    )
    assert r.status_code == 401
    # The same through GraphQL, wrong then right: variables are never logged either.
    login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"
    for password in (WRONG_PASSWORD, ADMIN_PASSWORD):
        await api.gql(login, {"e": "admin@example.com", "p": password})
    r = await api.client.post(
        "/api/users",
        json={"email": "logs@example.com", "password": USER_PASSWORD, "firstName": "L"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    first_key = r.json()["apiKey"]
    rotated = await api.client.post("/api/auth/api-key/rotate", headers={"x-api-key": first_key})
    assert rotated.status_code == 200, rotated.text
    api_key = rotated.json()["apiKey"]
    h = {"x-api-key": api_key}
    async with WebhookReceiver() as rx:
        inst = await api.paired_instance(
            h,
            webhookUrl=rx.url,
            webhookEnabled=True,
            webhookSecret=WEBHOOK_SECRET,
            headers={"X-Token": HEADER_TOKEN},
        )
        iid = inst["id"]
        r = await api.client.post(
            f"/api/whatsapp/{iid}/send", json={"phone": OUTSIDE, "message": SENT_BODY}, headers=h
        )
        assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/api/sandbox/{iid}/incoming", json={"from": OUTSIDE, "body": RECEIVED_BODY}, headers=h
        )
        assert r.status_code == 200, r.text
        got = await rx.wait_for(lambda rs: any(x.event == "message_received" for x in rs))
        assert any(RECEIVED_BODY in x.body.decode() for x in got)  # it was delivered
        assert any(x.headers.get("X-Token") == HEADER_TOKEN for x in got)

    text = captured.getvalue()
    assert len(lines(captured)) >= 5, text
    for secret in (
        ADMIN_PASSWORD,
        USER_PASSWORD,
        WRONG_PASSWORD,
        token,
        first_key,
        api_key,
        WEBHOOK_SECRET,
        HEADER_TOKEN,
        "Rt5Yh8",
        "Gw4Pf1",
    ):
        assert secret not in text, f"{secret!r} was logged"

    records = lines(captured)
    # The line a request wrote carries that request's id, the one its answer echoed.
    rotation = next(x for x in records if x["message"].startswith("api key rotated"))
    assert rotation["request_id"] == rotated.headers["x-request-id"]
    assert rotation["level"] == "INFO" and rotation["logger"] == "domain.users"
    # A line about an instance carries its id, here written outside any request.
    connected = next(x for x in records if x["message"].startswith(f"instance {iid} connected"))
    assert connected["instance_id"] == iid


async def test_readable_lines_carry_the_ids(api_factory: Callable[..., Any]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    handler = logs.configure("info", "text", buffer)
    try:
        api = await api_factory()
        h = await api.new_user("plain@example.com")
        r = await api.client.post("/api/auth/api-key/rotate", headers=h)
        assert r.status_code == 200
    finally:
        root.removeHandler(handler)
        for old in saved[0]:
            root.addHandler(old)
        root.setLevel(saved[1])
    line = next(x for x in buffer.getvalue().splitlines() if "api key rotated" in x)
    assert f"[{r.headers['x-request-id']} -]" in line
    assert r.json()["apiKey"] not in buffer.getvalue()


def test_redaction_is_a_second_line_of_defence() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "headers %s", ({"x-api-key": "k-123456789"},), None
    )
    logs.Redact().filter(record)
    assert "k-123456789" not in record.getMessage()
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "auth: Bearer eyJhbGciOiJI.eyJzdWIiOiIx.c2ln", None, None
    )
    logs.Redact().filter(record)
    assert "eyJzdWIiOiIx" not in record.getMessage()
