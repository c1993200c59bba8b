"""The commands run in-process, in a data dir of the test's own, with no developer's .env."""

from __future__ import annotations

from pathlib import Path

import pytest

SECRET = "test-secret-" + "x" * 32  # make_settings' JWT_SECRET: sealed values open again


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in (
        "DATABASE_URL",
        "SQLITE_DATABASE_URL",
        "DATABASE_PROVIDER",
        "POSTGRES_DATABASE_URL",
        "UPLOADS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("WHATSAPP_ENGINE", "sandbox")
    return monkeypatch
