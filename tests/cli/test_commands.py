"""The operator's commands: users, instances, database status, and bad configuration."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import main
from api.settings import Settings
from tests.cli.test_backup import _running
from tests.conftest import Api

README = Path(__file__).resolve().parents[2] / "README.md"


def test_user_commands_change_what_the_api_accepts(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env.setenv("DATA_DIR", str(tmp_path))
    assert main(["create-user", "--email", "Ops@Example.com", "--password", "first-pass-1"]) == 0
    out = capsys.readouterr().out
    first_key = re.search(r"api key: (\S+)", out)
    assert "created user ops@example.com" in out and first_key

    assert (
        main(["reset-password", "--email", "ops@example.com", "--password", "second-pass-2"]) == 0
    )
    assert "password of ops@example.com changed" in capsys.readouterr().out
    assert main(["rotate-api-key", "--email", "ops@example.com"]) == 0
    new_key = re.search(r"new api key of ops@example.com: (\S+)", capsys.readouterr().out)
    assert new_key

    async def check(api: Api) -> None:
        old = await api.client.post(
            "/api/auth/login", json={"email": "ops@example.com", "password": "first-pass-1"}
        )
        assert old.status_code == 401
        await api.login("ops@example.com", "second-pass-2")
        h = {"x-api-key": new_key.group(1)}
        assert (await api.client.get("/api/instances", headers=h)).status_code == 200
        stale = {"x-api-key": first_key.group(1)}
        assert (await api.client.get("/api/instances", headers=stale)).status_code == 401
        await api.paired_instance(h, name="listed one")

    asyncio.run(_running(tmp_path, check))

    assert main(["instances", "list"]) == 0
    out = capsys.readouterr().out
    assert "ops@example.com" in out and "connected" in out and "listed one" in out
    assert "1 instance(s)" in out
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "provider: sqlite" in out and "current" in out and re.search(r"users\s+2", out)
    assert main(["migrate"]) == 0
    assert "database at schema" in capsys.readouterr().out

    assert main(["reset-password", "--email", "nobody@example.com", "--password", "x" * 12]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["wamux reset-password: no user with email nobody@example.com"]
    assert main(["create-user", "--email", "short@example.com", "--password", "x"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "password" in err[0].lower()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("LOG_FORMAT", "xml"),
        ("SHUTDOWN_TIMEOUT", "-1"),
        ("WEBHOOK_PRIVATE_URLS", "sometimes"),
        ("JWT_EXPIRATION", "forever"),
    ],
)
def test_an_invalid_setting_is_refused_by_name(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    env.setenv("DATA_DIR", str(tmp_path))
    env.setenv(name, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"wamux: invalid configuration: {name}: "), err
    assert repr(value) in err[0]


def test_a_provider_this_release_lacks_is_refused_before_starting(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env.setenv("DATA_DIR", str(tmp_path))
    env.setenv("DATABASE_PROVIDER", "mongodb")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "wamux: invalid configuration: DATABASE_PROVIDER=mongodb is not supported by this "
        "release yet; use sqlite or postgresql"
    ]


def test_every_setting_is_in_the_readme_table() -> None:
    table = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", README.read_text("utf-8"), re.M))
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - table == set(), "add these to the README's Configuration table"


def test_the_console_command_itself(tmp_path: Path) -> None:
    """`python -m api` as an operator runs it: a bad setting stops `serve` at once."""
    environ = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_PROVIDER", "PORT")},
        "DATA_DIR": str(tmp_path),
        "JWT_SECRET": "console-" + "x" * 40,
        "PYTHONPATH": str(README.parent),
    }
    bad = subprocess.run(
        [sys.executable, "-m", "api", "serve"],
        env={**environ, "PORT": "eighty"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "wamux: invalid configuration: PORT: Input should be a valid integer, unable to parse "
        "string as an integer (got 'eighty')"
    ]
    status = subprocess.run(
        [sys.executable, "-m", "api", "db", "status"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert "provider: sqlite" in status.stdout and "schema:   none" in status.stdout
    assert status.stderr == ""
