"""The lean read paths (rest_compat/fast_reads.py) answer exactly as the FastAPI routes do.

Every case runs on two apps: the server as built, and the same server with the lean paths
taken out, so the routes answer everything. Status, body (ids and times aside) and the
headers a client reads must match, and so must the API calls counted meanwhile; a plain read
must not need the route at all."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.middleware import Middleware

from rest_compat.fast_reads import FastReads
from tests.conftest import Api, AppFactory

ALICE, BOB = "79001230001", "79001230002"
HISTORY = "/api/instances/{paired}/chats/{chat}/messages"
CHATS = "/api/instances/{paired}/chats"
STATS = "/api/stats/instances/{paired}"


def _without_fast_path(api: Api) -> Api:
    # The middleware stack is built on the first request: none was made yet.
    api.app.user_middleware = [m for m in api.app.user_middleware if m.cls is not FastReads]
    return api


async def _setup(api: Api) -> dict[str, str]:
    """Ids and credentials: a paired instance with messages from two contacts, one whose API
    calls are used up, one of another user, and that user's key."""
    headers = await api.admin()
    paired = await api.paired_instance(headers)
    for n, sender in enumerate((ALICE, BOB, ALICE, ALICE, BOB)):
        r = await api.client.post(
            f"/api/sandbox/{paired['id']}/incoming",
            json={"from": sender, "body": f"hello {n} 你好", "pushName": f"Push {sender[-1]}"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
    calls = await api.paired_instance(headers)
    # set once paired: the status polls while pairing count as calls already
    r = await api.client.put(
        f"/api/instances/{calls['id']}", json={"limits": {"maxApiCalls": 1}}, headers=headers
    )
    assert r.status_code == 200, r.text
    other = await api.new_user("other@example.com")
    foreign = await api.new_instance(other)
    return {
        "auth": headers["Authorization"],
        "other": other["x-api-key"],
        "paired": paired["id"],
        "calls": calls["id"],
        "foreign": foreign["id"],
    }


# (path, query, auth: "ok" / "none" / "bad" / "basic" / "other", extra headers)
CASES: list[tuple[str, str, str, dict[str, str]]] = [
    (HISTORY.replace("{chat}", ALICE), "", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=2&skip=1", "ok", {}),
    (HISTORY.replace("{chat}", ALICE + "@s.whatsapp.net"), "limit=0", "ok", {}),
    (HISTORY.replace("{chat}", quote("+7 900 123-00-01")), "limit=1&unknown=x", "ok", {}),
    (HISTORY.replace("{chat}", BOB), "startDate=2020-01-01T00:00:00.000Z", "ok", {}),
    (HISTORY.replace("{chat}", BOB), "startDate=2020-01-01&endDate=2020-01-02", "ok", {}),
    (HISTORY.replace("{chat}", BOB), "startDate=yesterday", "ok", {}),
    (HISTORY.replace("{chat}", BOB), "endDate=", "ok", {}),
    (HISTORY.replace("{chat}", "not-a-phone"), "", "ok", {}),
    (HISTORY.replace("{chat}", "79009999999"), "", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=5000", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=-1", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=abc", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=01", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=1&limit=2", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "skip=99999999999", "ok", {}),
    (HISTORY.replace("{chat}", ALICE), "", "none", {}),
    (HISTORY.replace("{chat}", ALICE), "", "bad", {}),
    (HISTORY.replace("{chat}", ALICE), "", "basic", {}),
    (HISTORY.replace("{chat}", ALICE), "", "other", {}),
    (HISTORY.replace("{chat}", ALICE), "limit=abc", "none", {}),
    (HISTORY.replace("{chat}", ALICE), "", "ok", {"content-length": "2"}),
    (HISTORY.replace("{chat}", ALICE) + "/", "", "ok", {}),
    (HISTORY.replace("{paired}", "{missing}").replace("{chat}", ALICE), "", "ok", {}),
    (HISTORY.replace("{paired}", "{foreign}").replace("{chat}", ALICE), "", "ok", {}),
    (HISTORY.replace("{paired}", "{calls}").replace("{chat}", ALICE), "", "ok", {}),
    (CHATS, "", "ok", {}),
    (CHATS, "limit=1&skip=1", "ok", {}),
    (CHATS, "skip=5", "ok", {}),
    (CHATS, "limit=1001", "ok", {}),
    (CHATS, "limit=x", "ok", {}),
    (CHATS, "skip=-1", "ok", {}),
    (CHATS, "", "none", {}),
    (CHATS, "", "other", {}),
    (CHATS.replace("{paired}", "{foreign}"), "", "ok", {}),
    (CHATS.replace("{paired}", "{calls}"), "", "ok", {}),
    (STATS, "period=all", "ok", {}),
    (STATS, "", "ok", {}),
    (STATS, "period=week&period=all", "ok", {}),
    (STATS, "period=decade", "ok", {}),
    (STATS, "period=", "ok", {}),
    (STATS, "period=all", "none", {}),
    (STATS, "period=all", "bad", {}),
    (STATS.replace("{paired}", "{foreign}"), "", "ok", {}),
    (STATS.replace("{paired}", "{foreign}"), "", "other", {}),
    (STATS.replace("{paired}", "{missing}"), "", "ok", {}),
]

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _normalised(text: str, ids: dict[str, str], calls_before: int) -> str:
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    text = re.sub(r'"used":\d+', '"used":<n>', text)  # pairing's status polls differ
    # today's API calls, counted from before the cases: every count must match
    text = re.sub(r'"apiCalls":(\d+)', lambda m: f'"apiCalls":+{int(m[1]) - calls_before}', text)
    text = _TIME.sub("<time>", text)
    text = re.sub(r'"timestamp":\d+', '"timestamp":<seconds>', text)
    text = _UUID.sub("<uuid>", text)
    return re.sub(r"[0-9A-F]{16,}", "<message id>", text)


async def _api_calls(api: Api, ids: dict[str, str], instance: str = "paired") -> int:
    r = await api.client.get(
        f"/api/stats/instances/{ids[instance]}", headers={"Authorization": ids["auth"]}
    )
    assert r.status_code == 200, r.text
    return int(r.json()["usage"]["apiCalls"])


async def _answers(api: Api) -> list[tuple[int, str, dict[str, str | None]]]:
    ids = await _setup(api)
    # Each instance's own count: pairing's status polls differ from run to run, so a count
    # is compared from where that instance stood before the cases.
    starts = {name: await _api_calls(api, ids, name) for name in ("paired", "calls", "foreign")}
    before = starts["paired"]
    answers = []
    for path, query, auth, extra in CASES:
        headers = {
            "ok": {"Authorization": ids["auth"]},
            "none": {},
            "bad": {"Authorization": "Bearer not-a-token"},
            "basic": {"Authorization": "Basic abc"},
            "other": {"x-api-key": ids["other"]},
        }[auth]
        url = path.format(**ids, missing="no-such-instance") + (f"?{query}" if query else "")
        if extra:
            r = await api.client.request("GET", url, content=b"{}", headers={**headers, **extra})
        else:
            r = await api.client.get(url, headers=headers)
        seen = {
            k: r.headers.get(k)
            for k in (
                "content-type",
                "content-length",
                "www-authenticate",
                "x-content-type-options",
            )
        }
        seen["location"] = _normalised(r.headers.get("location", ""), ids, before)
        counted = next((n for n in starts if "{" + n + "}" in path), "paired")
        answers.append((r.status_code, _normalised(r.text, ids, starts[counted]), seen))
    # and what was counted meanwhile
    answers.append((200, str(await _api_calls(api, ids) - before), {}))
    return answers


async def test_the_lean_paths_answer_every_case_as_the_routes(
    api_factory: AppFactory, tmp_path: Any
) -> None:
    fast = await api_factory(tmp_path / "fast")
    routed = _without_fast_path(await api_factory(tmp_path / "routed"))
    got, expected = await _answers(fast), await _answers(routed)
    for case, mine, theirs in zip(CASES + [("counted",)], got, expected, strict=True):  # type: ignore[list-item]
        assert mine == theirs, case
    statuses = {status for status, _, _ in got[:-1]}
    # the cases do cover what they should: answers and every kind of refusal
    assert {200, 400, 401, 404, 429} <= statuses
    assert int(got[-1][1]) > 10  # the reads on the instance were counted, the same in both
    first = next(text for status, text, _ in got if status == 200)
    assert '"messages":[' in first and "hello 3 你好" in first  # real pages were compared


async def test_a_plain_read_never_reaches_the_route(api: Api) -> None:
    reached: list[str] = []

    class Behind:  # what the lean path hands requests to
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and (
                "/chats" in scope["path"] or "/stats/" in scope["path"]
            ):
                reached.append(scope["path"])
            await self.app(scope, receive, send)

    stack = api.app.user_middleware
    behind = next(n for n, m in enumerate(stack) if m.cls is FastReads) + 1
    stack.insert(behind, Middleware(Behind))  # inner to it (built on the first request)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    for path in (
        f"/api/instances/{inst['id']}/chats/{ALICE}/messages?limit=5&startDate=2020-01-01",
        f"/api/instances/{inst['id']}/chats?skip=0",
        f"/api/stats/instances/{inst['id']}?period=all",
        f"/api/instances/{inst['id']}/chats/bad-chat/messages",  # a use case's refusal
    ):
        r = await api.client.get(path, headers=headers)
        assert r.status_code in (200, 400), r.text
    assert reached == []
    path = f"/api/instances/{inst['id']}/chats"
    r = await api.client.get(path, params={"limit": "many"}, headers=headers)
    assert r.status_code == 400 and reached == [path]
