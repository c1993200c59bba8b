"""An API key authenticates only as a whole: changing any one character, the last included,
makes it a stranger (a digest over a prefix of the key would let near-misses in)."""

from __future__ import annotations

from tests.conftest import Api


def changed_at(key: str, index: int) -> str:
    replacement = "A" if key[index] != "A" else "B"
    return key[:index] + replacement + key[index + 1 :]


async def test_a_key_with_one_character_changed_does_not_authenticate(api: Api) -> None:
    headers = await api.new_user("whole-key@example.com")
    key = headers["x-api-key"]
    r = await api.client.get("/api/auth/me", headers=headers)
    assert r.status_code == 200, r.text
    for index in (len(key) - 1, len(key) // 2, 12, 11, 0):
        near = changed_at(key, index)
        r = await api.client.get("/api/auth/me", headers={"x-api-key": near})
        assert r.status_code == 401, (index, r.text)
        assert r.json()["error"] == "unauthorized"
    # a key cut short or extended is a stranger too
    for near in (key[:-1], key + "x"):
        r = await api.client.get("/api/auth/me", headers={"x-api-key": near})
        assert r.status_code == 401, r.text
    # and the real key still works after the near-misses (nothing was cached for them)
    assert (await api.client.get("/api/auth/me", headers=headers)).status_code == 200
