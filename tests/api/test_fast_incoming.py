"""The lean sandbox incoming path (rest_compat/fast_incoming.py) answers exactly as the
FastAPI route does.

Every case runs on two apps: the server as built, and the same server with the lean path
taken out, so the route answers everything. Status, body (ids aside) and the headers a
client reads must match, and so must what was stored; a plain message must not need the
route at all."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.middleware import Middleware

from rest_compat.fast_incoming import FastSandboxIncoming, plain_incoming
from tests.conftest import Api, AppFactory

OUTSIDE = "79001234567"
JSON = {"content-type": "application/json"}


def _without_fast_path(api: Api) -> Api:
    # The middleware stack is built on the first request: none was made yet.
    stack = api.app.user_middleware
    api.app.user_middleware = [m for m in stack if m.cls is not FastSandboxIncoming]
    return api


async def _setup(api: Api) -> dict[str, str]:
    headers = await api.admin()
    paired = await api.paired_instance(headers)
    unpaired = await api.new_instance(headers)
    await api.wait_status(unpaired["id"], headers, "qr")  # the same status in both runs
    return {"auth": headers["Authorization"], "paired": paired["id"], "unpaired": unpaired["id"]}


MEDIA = {"base64": "aGVsbG8=", "mimeType": "text/plain", "fileName": "a.txt"}
CASES: list[tuple[str, str, dict[str, str], Any]] = [
    # (instance, auth: "ok" / "none" / "bad", extra headers, body: dict -> JSON, bytes as is)
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "hello"}),
    ("paired", "ok", {}, {"from": "+7 900 123-45-67", "body": "你好 😀", "pushName": "Ann"}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "x", "pushName": None, "unknown": [1]}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "x", "pushName": ""}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "x", "push_name": "Py"}),
    ("paired", "ok", {}, {"sender": OUTSIDE, "body": "x"}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "caption", "media": MEDIA}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "x", "media": None}),
    ("paired", "ok", {}, {"from": OUTSIDE}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": None}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": ""}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": 5}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "x", "pushName": 5}),
    ("paired", "ok", {}, {"from": OUTSIDE, "body": "x" * 70000}),
    ("paired", "ok", {}, {"from": 79001234567, "body": "x"}),
    ("paired", "ok", {}, {"from": "not a phone", "body": "x"}),
    ("paired", "ok", {}, {"body": "x"}),
    ("paired", "ok", {}, [1, 2]),
    ("paired", "ok", {}, b"{not json"),
    ("paired", "ok", {}, b""),
    ("paired", "ok", {"content-type": "text/plain"}, b'{"from":"79001234567","body":"x"}'),
    (
        "paired",
        "ok",
        {"content-type": "application/json; charset=utf-8"},
        b'{"from":"79001234567","body":"y"}',
    ),  # fmt: skip
    ("paired", "none", {}, {"from": OUTSIDE, "body": "x"}),
    ("paired", "bad", {}, {"from": OUTSIDE, "body": "x"}),
    ("paired", "none", {}, b"{not json"),
    ("missing", "ok", {}, {"from": OUTSIDE, "body": "x"}),
    ("unpaired", "ok", {}, {"from": OUTSIDE, "body": "x"}),
]


def _normalised(text: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
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
            }[auth]
        )
        headers.update(extra)
        instance_id = ids.get(instance, "no-such-instance")
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = await api.client.post(
            f"/api/sandbox/{instance_id}/incoming", content=content, headers=headers
        )
        seen = {
            k: r.headers.get(k)
            for k in ("content-type", "www-authenticate", "x-content-type-options")
        }
        answers.append((r.status_code, _normalised(r.text, ids), seen))
    # and what was stored: the chat's messages, newest first, ids aside
    page = await api.client.get(
        f"/api/instances/{ids['paired']}/chats/{OUTSIDE}/messages",
        headers={"Authorization": ids["auth"]},
    )
    stored = [
        (m["content"], m["messageType"], m["metadata"].get("pushName"))
        for m in page.json()["messages"]
    ]
    answers.append((page.status_code, json.dumps(stored, ensure_ascii=False), {}))
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
    assert {200, 400, 401, 404, 409} <= set(statuses)


async def test_a_plain_message_never_reaches_the_route(api: Api) -> None:
    reached: list[str] = []

    class Behind:  # what the lean path hands requests to
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].endswith("/incoming"):
                reached.append(scope["path"])
            await self.app(scope, receive, send)

    stack = api.app.user_middleware
    behind = next(n for n, m in enumerate(stack) if m.cls is FastSandboxIncoming) + 1
    stack.insert(behind, Middleware(Behind))  # inner to it (built on the first request)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    path = f"/api/sandbox/{inst['id']}/incoming"
    r = await api.client.post(path, json={"from": OUTSIDE, "body": "hi"}, headers=headers)
    assert r.status_code == 200 and set(r.json()) == {"success", "messageId"}
    assert reached == []
    r = await api.client.post(path, json={"from": OUTSIDE, "body": 5}, headers=headers)
    assert r.status_code == 400 and reached == [path]


def test_only_a_text_message_the_model_takes_as_is_is_plain() -> None:
    assert plain_incoming(b'{"from": "1", "body": "x"}') == ("1", "x", None)
    assert plain_incoming(b'{"from": "1", "pushName": "A", "z": 1}') == ("1", None, "A")
    for body in (
        b'{"from": 1}',
        b'{"from": "1", "body": 2}',
        b'{"from": "1", "pushName": []}',
        b'{"from": "1", "media": null}',
        b'{"from": "1", "push_name": "A"}',
        b'{"sender": "1"}',
        b"[]",
        b"{",
        b"",
    ):
        assert plain_incoming(body) is None, body
