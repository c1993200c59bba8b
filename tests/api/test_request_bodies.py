"""Request bodies are capped before they are read (413 in the API's error body), per route
class, and JSON holding a lone UTF-16 surrogate is a 400 on every route, changing nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import Api, AppFactory

MiB = 1024 * 1024


async def call_asgi(api: Api, method: str, path: str, headers: dict[str, str], chunks: list[bytes]):  # type: ignore[no-untyped-def]
    """Drives the app as a server would; returns (status, body, chunks the app pulled)."""
    pulled: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        index = len(pulled)
        pulled.append(index)
        if index < len(chunks):
            return {
                "type": "http.request",
                "body": chunks[index],
                "more_body": index + 1 < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
        "state": {},
        "app": api.app,
    }
    await api.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, len(pulled)


async def test_a_declared_oversized_login_is_413_before_reading_a_byte(api: Api) -> None:
    headers = {"content-type": "application/json", "content-length": str(150 * MiB)}
    status, response_headers, body, pulled = await call_asgi(
        api, "POST", "/api/auth/login", headers, [b"{" * 1024] * 10
    )
    assert status == 413
    assert pulled == 0  # not one chunk read
    assert body.startswith(b'{"error":"payload_too_large"')
    assert response_headers[b"connection"] == b"close"


async def test_a_streamed_body_is_counted_and_refused_once_past_the_cap(api: Api) -> None:
    chunk = b" " * (256 * 1024)
    status, _, body, pulled = await call_asgi(
        api, "POST", "/api/auth/login", {"content-type": "application/json"}, [chunk] * 100
    )
    assert status == 413
    assert pulled == 5  # 1 MiB read, then the first chunk over it: no more
    assert b"1048576 bytes" in body


async def test_chunked_bodies_over_http_are_refused_with_the_error_body(api: Api) -> None:
    async def stream() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536

    for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=b"):
        answer = await api.client.post(
            "/api/auth/login", content=stream(), headers={"content-type": content_type}
        )
        assert answer.status_code == 413, (content_type, answer.text)
        assert answer.json()["error"] == "payload_too_large"
        assert answer.json()["message"]


async def test_uploads_may_carry_a_file_of_the_media_limit_other_routes_may_not(
    api_factory: AppFactory,
) -> None:
    api = await api_factory(json_body_max_bytes=64 * 1024, media_max_bytes=2 * MiB)
    headers = await api.admin()
    iid = (await api.paired_instance(headers))["id"]
    file = ("photo.png", b"\x89PNG" + b"\0" * (MiB + 1000), "image/png")
    # a 1 MiB file, over the JSON cap, is fine where a file is expected
    sent = await api.client.post(
        f"/api/whatsapp/{iid}/send-file",
        data={"phone": "79001234567"},
        files={"file": file},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    # the same multipart body anywhere else is held to the JSON cap
    other = await api.client.post(
        f"/api/whatsapp/{iid}/send", data={"phone": "1"}, files={"file": file}, headers=headers
    )
    assert other.status_code == 413, other.text
    # and a file over the media limit (plus room for the form) is refused before it is read
    huge = ("big.bin", b"\0" * (3 * MiB + MiB), "application/octet-stream")
    refused = await api.client.post(
        f"/api/whatsapp/{iid}/send-file",
        data={"phone": "79001234567"},
        files={"file": huge},
        headers=headers,
    )
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"] == "payload_too_large"
    chat = await api.client.get(f"/api/instances/{iid}/chats/79001234567/messages", headers=headers)
    assert [m["fileName"] for m in chat.json()["messages"]] == ["photo.png"]


async def test_a_large_graphql_body_is_413_like_any_json_body(api: Api) -> None:
    body = {"query": "{ __typename }", "variables": {"pad": "x" * (2 * MiB)}}
    answer = await api.client.post("/graphql", json=body)
    assert answer.status_code == 413
    assert answer.json()["error"] == "payload_too_large"


SURROGATE = '"\\ud800"'


async def test_a_lone_surrogate_is_400_on_every_route_and_changes_nothing(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.paired_instance(headers, name="kept"))["id"]
    before = await _state(api, headers, iid)
    routes = (
        ("POST", f"/api/whatsapp/{iid}/send", '{"phone": "79001234567", "message": S}'),
        ("POST", f"/api/whatsapp/{iid}/send", '{"phone": S, "message": "hi"}'),
        ("POST", "/api/instances", '{"name": S, "engine": "sandbox"}'),
        ("POST", "/api/instances", '{"name": "x", "description": S}'),
        ("PUT", f"/api/instances/{iid}", '{"name": S}'),
        ("PUT", f"/api/instances/{iid}", '{"description": S}'),
        ("POST", f"/api/sandbox/{iid}/incoming", '{"from": "79001234567", "body": S}'),
        ("POST", f"/api/sandbox/{iid}/incoming", '{"from": "79001234567", "pushName": S}'),
        ("POST", f"/api/instances/{iid}/contacts/save", '{"number": "79001234567", "name": S}'),
        ("POST", f"/api/whatsapp/{iid}/contacts/save", '{"number": "79001234567", "name": S}'),
        ("POST", f"/api/whatsapp/{iid}/contacts/add", '{"phone": "79001234567", "name": S}'),
        ("POST", "/api/users", '{"email": "a@b.cd", "password": "password-1", "firstName": S}'),
        ("POST", "/api/auth/login", '{"email": S, "password": "x"}'),
        # a surrogate escaped in the key, and one written as raw (invalid) UTF-8 bytes
        ("POST", f"/api/whatsapp/{iid}/send", '{S: 1, "phone": "79001234567", "message": "x"}'),
    )
    for method, path, body in routes:
        answer = await api.client.request(
            method,
            path,
            content=body.replace("S", SURROGATE).encode(),
            headers={**headers, "content-type": "application/json"},
        )
        assert answer.status_code == 400, (path, body, answer.text)
        assert answer.json()["error"] == "validation_error"
        assert "surrogate" in answer.json()["message"]
    raw = b'{"phone": "79001234567", "message": "\xed\xa0\x80"}'
    answer = await api.client.post(
        f"/api/whatsapp/{iid}/send",
        content=raw,
        headers={**headers, "content-type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert await _state(api, headers, iid) == before


async def test_surrogate_pairs_and_escaped_text_still_pass(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.paired_instance(headers))["id"]
    # "😀" as an escaped pair, and a backslash followed by the letters "ud800"
    body = '{"phone": "79001234567", "message": "\\ud83d\\ude00 \\\\ud800"}'
    answer = await api.client.post(
        f"/api/whatsapp/{iid}/send",
        content=body.encode(),
        headers={**headers, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    chat = await api.client.get(f"/api/instances/{iid}/chats/79001234567/messages", headers=headers)
    assert chat.json()["messages"][0]["content"] == "😀 \\ud800"


async def _state(api: Api, headers: dict[str, str], iid: str) -> Any:
    instances = (await api.client.get("/api/instances", headers=headers)).json()
    users = (await api.client.get("/api/users", headers=headers)).json()["users"]
    chats = (await api.client.get(f"/api/instances/{iid}/chats", headers=headers)).json()
    contacts = (await api.client.get(f"/api/instances/{iid}/contacts/db", headers=headers)).json()
    return instances, [u["email"] for u in users], chats, contacts
