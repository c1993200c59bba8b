"""REST: media by URL (SSRF guard, caps), file upload round trip, received media, /api/media."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import pytest

from tests.conftest import Api
from tests.local_http import PNG, local_http

OUTSIDE = "79001234567"


async def _newest(
    api: Api, instance_id: str, headers: dict[str, str], chat: str = OUTSIDE
) -> dict[str, Any]:
    r = await api.client.get(
        f"/api/instances/{instance_id}/chats/{chat}/messages?limit=1", headers=headers
    )
    return r.json()["messages"][0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://localhost:8080/a.png",
        "http://10.0.0.8/a.png",
        "http://192.168.1.1/a.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/a.png",
        "http://0.0.0.0/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
    ],
)
async def test_send_media_refuses_private_and_local_addresses(api: Api, url: str) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send-media",
        json={"phone": OUTSIDE, "url": url},
        headers=headers,
    )
    assert r.status_code == 400, r.text
    assert r.json()["details"]["reason"] == "private_address"
    assert (await api.client.get(f"/api/instances/{inst['id']}/chats", headers=headers)).json()[
        "chats"
    ] == []


async def test_send_media_bad_urls_are_400(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    for url in ("ftp://example.com/a.png", "not a url", "", "file:///etc/passwd"):
        r = await api.client.post(
            f"/api/whatsapp/{inst['id']}/send-media",
            json={"phone": OUTSIDE, "url": url},
            headers=headers,
        )
        assert r.status_code == 400, url


async def test_send_media_from_an_allowed_local_url_round_trips(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(media_allow_private_urls=True)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    routes = {
        "/img.png": (200, {"Content-Type": "image/png"}, PNG),
        "/moved": (302, {"Location": "/img.png"}, b""),
        "/named": (
            200,
            {
                "Content-Type": "application/pdf",
                "Content-Disposition": 'attachment; filename="r.pdf"',
            },
            b"%PDF-1.4",
        ),
    }
    with local_http(routes) as base:
        r = await api.client.post(
            f"/api/whatsapp/{inst['id']}/send-media",
            json={
                "phone": OUTSIDE,
                "url": f"{base}/moved",
                "caption": "图片描述",
                "filename": "image.png",
            },
            headers=headers,
        )
        assert r.status_code == 200, r.text
        msg = await _newest(api, inst["id"], headers)
        assert msg["messageId"] == r.json()["id"] and msg["hasMedia"] is True
        assert msg["messageType"] == "image" and msg["mimeType"] == "image/png"
        assert msg["fileName"] == "image.png" and msg["caption"] == "图片描述"
        assert msg["mediaSize"] == len(PNG)
        fetched = await api.client.get(msg["mediaUrl"], headers=headers)
        assert fetched.status_code == 200 and fetched.content == PNG
        assert fetched.headers["content-type"] == "image/png"

        r = await api.client.post(
            f"/api/whatsapp/{inst['id']}/send-media",
            json={"phone": OUTSIDE, "url": f"{base}/named"},
            headers=headers,
        )
        named = await _newest(api, inst["id"], headers)
        assert named["fileName"] == "r.pdf" and named["messageType"] == "document"

        r = await api.client.post(
            f"/api/whatsapp/{inst['id']}/send-media",
            json={"phone": OUTSIDE, "url": f"{base}/gone"},
            headers=headers,
        )
        assert r.status_code == 400 and r.json()["details"]["status"] == 404


async def test_fetch_caps_size_and_time(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(
        media_allow_private_urls=True, media_max_bytes=100_000, media_fetch_timeout_s=1.0
    )
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    routes = {"/big": (200, {"Content-Type": "image/png"}, b"x" * 200_000)}
    with local_http(routes) as base:
        for path, reason in (
            ("/big", "too_large"),
            ("/stream-big", "too_large"),
            ("/slow", "timeout"),
        ):
            r = await api.client.post(
                f"/api/whatsapp/{inst['id']}/send-media",
                json={"phone": OUTSIDE, "url": f"{base}{path}"},
                headers=headers,
            )
            assert r.status_code == 400, (path, r.text)
            assert r.json()["details"]["reason"] == reason, path


async def test_send_file_round_trip_returns_identical_bytes(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    payload = bytes(range(256)) * 1000 + "尾巴".encode()
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send-file",
        data={"phone": OUTSIDE, "caption": "文件描述"},
        files={"file": ("报告 2023.pdf", payload, "application/pdf")},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    msg = await _newest(api, inst["id"], headers)
    assert msg["messageId"] == r.json()["id"]
    assert msg["fileName"] == "报告 2023.pdf" and msg["mimeType"] == "application/pdf"
    assert msg["messageType"] == "document" and msg["caption"] == "文件描述"
    back = await api.client.get(msg["mediaUrl"], headers=headers)
    assert back.content == payload
    assert hashlib.sha256(back.content).hexdigest() == back.headers["etag"].strip('"')
    assert "filename*=UTF-8''" in back.headers["content-disposition"]
    # Someone else cannot read it, and an unknown id is a 404 too.
    other = await api.new_user("other@example.com")
    assert (await api.client.get(msg["mediaUrl"], headers=other)).status_code == 404
    assert (await api.client.get("/api/media/nope", headers=headers)).status_code == 404
    assert (await api.client.get(msg["mediaUrl"])).status_code == 401


async def test_send_file_errors(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(media_max_bytes=1000)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    url = f"/api/whatsapp/{inst['id']}/send-file"
    cases = [
        ({"phone": OUTSIDE}, None),  # no file
        ({"phone": OUTSIDE}, {"file": ("a.txt", b"", "text/plain")}),  # empty
        (
            {"phone": OUTSIDE},
            {"file": ("a.bin", b"x" * 1001, "application/octet-stream")},
        ),  # too big
        ({}, {"file": ("a.txt", b"abc", "text/plain")}),  # no phone
        ({"phone": "abc"}, {"file": ("a.txt", b"abc", "text/plain")}),  # bad phone
    ]
    for data, files in cases:
        r = await api.client.post(url, data=data, files=files, headers=headers)
        assert r.status_code == 400, (data, files and list(files), r.text)
    r = await api.client.post(url, json={"phone": OUTSIDE}, headers=headers)
    assert r.status_code == 400
    assert (await api.client.get(f"/api/instances/{inst['id']}/chats", headers=headers)).json()[
        "chats"
    ] == []


async def test_incoming_media_is_stored_and_served(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/incoming",
        json={
            "from": OUTSIDE,
            "body": "看这张图",
            "pushName": "张三",
            "media": {
                "base64": base64.b64encode(PNG).decode(),
                "mimeType": "image/png",
                "fileName": "p.png",
            },
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    msg = await _newest(api, inst["id"], headers)
    assert (
        msg["hasMedia"] is True and msg["caption"] == "看这张图" and msg["messageType"] == "image"
    )
    assert (await api.client.get(msg["mediaUrl"], headers=headers)).content == PNG
    event = (
        await api.client.get(
            f"/api/instances/{inst['id']}/events?types=message_received", headers=headers
        )
    ).json()["events"][0]["data"]
    assert (
        event["hasMedia"] is True
        and event["type"] == "imageMessage"
        and event["mediaUrl"] == msg["mediaUrl"]
    )


async def test_incoming_errors(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    url = f"/api/sandbox/{inst['id']}/incoming"
    for body in (
        {"body": "x"},
        {"from": "abc", "body": "x"},
        {"from": OUTSIDE},
        {"from": OUTSIDE, "media": {"base64": "***", "mimeType": "image/png"}},
        {"from": OUTSIDE, "media": {"mimeType": "image/png"}},
        {"from": OUTSIDE, "media": {"base64": "AA==", "url": "https://example.com/x"}},
        {"from": OUTSIDE, "media": {"url": "http://127.0.0.1/x"}},
    ):
        r = await api.client.post(url, json=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
    assert (await api.client.get(f"/api/instances/{inst['id']}/chats", headers=headers)).json()[
        "chats"
    ] == []


async def test_deleting_the_instance_deletes_its_media(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    await api.client.post(
        f"/api/whatsapp/{inst['id']}/send-file",
        data={"phone": OUTSIDE},
        files={"file": ("a.txt", b"abc", "text/plain")},
        headers=headers,
    )
    msg = await _newest(api, inst["id"], headers)
    assert (tmp_path / "uploads" / inst["id"]).is_dir()
    await api.client.delete(f"/api/instances/{inst['id']}", headers=headers)
    assert not (tmp_path / "uploads" / inst["id"]).exists()
    assert (await api.client.get(msg["mediaUrl"], headers=headers)).status_code == 404
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("name", "mime", "shown"),
    [
        ("page.html", "text/html", "attachment"),
        ("x.svg", "image/svg+xml", "attachment"),
        ("a.js", "application/javascript", "attachment"),
        ("notes.txt", "text/plain", "attachment"),
        ("r.pdf", "application/pdf", "attachment"),
        ("p.png", "image/png", "inline"),
        ("v.ogg", "audio/ogg", "inline"),
        ("m.mp4", "video/mp4", "inline"),
    ],
)
async def test_served_media_is_never_a_page_on_our_origin(
    api: Api, name: str, mime: str, shown: str
) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    body = b"<html><script>alert(document.cookie)</script></html>"
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send-file",
        data={"phone": OUTSIDE},
        files={"file": (name, body, mime)},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    msg = await _newest(api, inst["id"], headers)
    served = await api.client.get(msg["mediaUrl"], headers=headers)
    assert served.status_code == 200 and served.content == body
    assert served.headers["content-type"].split(";")[0] == mime
    assert served.headers["content-disposition"] == f"{shown}; filename*=UTF-8''{name}"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "sandbox"
