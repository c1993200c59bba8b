"""The lean send path (rest_compat/fast_send.py) answers exactly as the FastAPI route does.

Every case runs on two apps: the server as built, and the same server with the lean path
taken out, so the route answers everything. Status, body (ids aside) and the headers a
client reads must match; a plain send must not need the route at all."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.middleware import Middleware

from rest_compat.fast_send import FastSendText, plain_send
from tests.conftest import Api, AppFactory

OUTSIDE = "79001234567"
JSON = {"content-type": "application/json"}


def _without_fast_path(api: Api) -> Api:
    # The middleware stack is built on the first request: none was made yet.
    api.app.user_middleware = [m for m in api.app.user_middleware if m.cls is not FastSendText]
    return api


async def _setup(api: Api) -> dict[str, str]:
    """Headers and ids of: a paired instance, one capped at 2 messages, one whose API calls
    are used up, an unpaired one."""
    headers = await api.admin()
    paired = await api.paired_instance(headers)
    capped = await api.paired_instance(headers, limits={"maxMessagesSent": 2})
    calls = await api.paired_instance(headers)
    # set once paired: the status polls while pairing count as calls already
    r = await api.client.put(
        f"/api/instances/{calls['id']}", json={"limits": {"maxApiCalls": 1}}, headers=headers
    )
    assert r.status_code == 200, r.text
    unpaired = await api.new_instance(headers)
    await api.wait_status(unpaired["id"], headers, "qr")  # the same status in both runs
    return {
        "auth": headers["Authorization"],
        "paired": paired["id"],
        "capped": capped["id"],
        "calls": calls["id"],
        "unpaired": unpaired["id"],
    }


CASES: list[tuple[str, str, dict[str, str], Any]] = [
    # (instance, auth: "ok" / "none" / "bad", extra headers, body: dict -> JSON, bytes as is)
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": "hello"}),
    (
        "paired",
        "ok",
        {},
        {"phone": "+7 900 123-45-67", "message": "你好 😀", "quotedMessageId": None},
    ),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": "re", "quotedMessageId": "3EB0AB"}),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": "x", "unknown": [1, 2]}),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": "x", "quoted_message_id": "3EB0CD"}),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": ""}),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": "   "}),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": 5}),
    ("paired", "ok", {}, {"phone": 79001234567, "message": "x"}),
    ("paired", "ok", {}, {"phone": "not a phone", "message": "x"}),
    ("paired", "ok", {}, {"phone": OUTSIDE, "message": "x", "quotedMessageId": 7}),
    ("paired", "ok", {}, {"message": "x"}),
    ("paired", "ok", {}, [1, 2]),
    ("paired", "ok", {}, b"{not json"),
    ("paired", "ok", {}, b""),
    ("paired", "ok", {"content-type": "text/plain"}, b'{"phone":"79001234567","message":"x"}'),
    (
        "paired",
        "ok",
        {"content-type": "application/json; charset=utf-8"},
        b'{"phone":"79001234567","message":"y"}',
    ),  # fmt: skip
    ("paired", "none", {}, {"phone": OUTSIDE, "message": "x"}),
    ("paired", "bad", {}, {"phone": OUTSIDE, "message": "x"}),
    ("paired", "basic", {}, {"phone": OUTSIDE, "message": "x"}),
    ("paired", "none", {}, b"{not json"),
    ("missing", "ok", {}, {"phone": OUTSIDE, "message": "x"}),
    ("unpaired", "ok", {}, {"phone": OUTSIDE, "message": "x"}),
    ("capped", "ok", {}, {"phone": OUTSIDE, "message": "1"}),
    ("capped", "ok", {}, {"phone": OUTSIDE, "message": "2"}),
    ("capped", "ok", {}, {"phone": OUTSIDE, "message": ""}),
    ("capped", "ok", {}, {"phone": OUTSIDE, "message": "3"}),  # maxMessagesSent: 429
    ("capped", "ok", {}, {"phone": OUTSIDE, "message": "4"}),
    ("calls", "ok", {}, {"phone": OUTSIDE, "message": "x"}),  # maxApiCalls: 429
    ("calls", "ok", {}, {"phone": OUTSIDE, "message": 5}),
]


def _normalised(text: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    if "maxApiCalls" in text:  # how many status polls pairing took differs
        text = re.sub(r'"used":\d+', '"used":<n>', text)
    return re.sub(r"3EB0[0-9A-F]{16,}", "<message id>", text)


async def _answers(api: Api) -> list[tuple[int, str, dict[str, str | None]]]:
    ids = await _setup(api)
    answers = []
    for instance, auth, extra, body in CASES:
        headers = dict(JSON)
        headers.update(
            {
                "ok": {"Authorization": ids["auth"]},
                "none": {},
                "bad": {"Authorization": "Bearer not-a-token"},
                "basic": {"Authorization": "Basic abc"},
            }[auth]
        )
        headers.update(extra)
        instance_id = ids.get(instance, "no-such-instance")
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = await api.client.post(
            f"/api/whatsapp/{instance_id}/send", content=content, headers=headers
        )
        seen = {
            k: r.headers.get(k)
            for k in ("content-type", "www-authenticate", "x-content-type-options")
        }
        answers.append((r.status_code, _normalised(r.text, ids), seen))
    # and what was stored: one message per 200, in both
    page = await api.client.get(
        f"/api/instances/{ids['paired']}/chats/{OUTSIDE}/messages",
        headers={"Authorization": ids["auth"]},
    )
    answers.append((page.status_code, str(page.json()["pagination"]["total"]), {}))
    return answers


async def test_the_lean_path_answers_every_case_as_the_route(
    api_factory: AppFactory, tmp_path: Any
) -> None:
    fast = await api_factory(tmp_path / "fast")
    routed = _without_fast_path(await api_factory(tmp_path / "routed"))
    got, expected = await _answers(fast), await _answers(routed)
    for case, mine, theirs in zip(CASES + [("stored",)], got, expected, strict=True):  # type: ignore[list-item]
        assert mine == theirs, case
    statuses = [status for status, _, _ in got[:-1]]
    # the cases do cover what they should: successes and every kind of refusal
    assert {200, 400, 401, 404, 409, 429} <= set(statuses)
    assert got[-1][1] == str(statuses[: len(CASES) - 8].count(200))


async def test_a_plain_send_never_reaches_the_route(api: Api) -> None:
    reached: list[str] = []

    class Behind:  # what the lean path hands requests to
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].endswith("/send"):
                reached.append(scope["path"])
            await self.app(scope, receive, send)

    stack = api.app.user_middleware
    behind = next(n for n, m in enumerate(stack) if m.cls is FastSendText) + 1
    stack.insert(behind, Middleware(Behind))  # inner to it (built on the first request)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    path = f"/api/whatsapp/{inst['id']}/send"
    r = await api.client.post(path, json={"phone": OUTSIDE, "message": "hi"}, headers=headers)
    assert r.status_code == 200 and set(r.json()) == {"id"}
    assert reached == []
    r = await api.client.post(path, json={"phone": OUTSIDE, "message": 5}, headers=headers)
    assert r.status_code == 400 and reached == [path]


def test_only_a_body_the_model_takes_as_is_is_plain() -> None:
    assert plain_send(b'{"phone":"1","message":"m"}') == ("1", "m", None)
    assert plain_send(b'{"phone":"1","message":"m","quotedMessageId":"q","x":1}') == ("1", "m", "q")
    for body in (
        b'{"phone":"1","message":5}',
        b'{"phone":"1","message":"m","quoted_message_id":"q"}',
        b'{"phone":"1","message":"m","quotedMessageId":false}',
        b'["phone"]',
        b"{",
        b'{"phone":"1"}',
    ):
        assert plain_send(body) is None, body
