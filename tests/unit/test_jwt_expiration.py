"""JWT_EXPIRATION is read the way jsonwebtoken's `expiresIn` reads it (the `ms` format)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from datetime import timedelta
from pathlib import Path

import pytest

from api import cli
from api.settings import Settings, parse_duration

DAY = timedelta(days=1)

ACCEPTED = [
    # a bare number is seconds (jsonwebtoken's numeric expiresIn)
    ("3600", timedelta(hours=1)),
    ("100", timedelta(seconds=100)),
    ("1.5", timedelta(seconds=1.5)),
    # the ms package's strings: number, optional spaces, case-insensitive unit or long name
    ("24h", timedelta(hours=24)),
    ("24H", timedelta(hours=24)),
    ("1.5h", timedelta(hours=1.5)),
    ("2.5 hrs", timedelta(hours=2.5)),
    ("3 hours", timedelta(hours=3)),
    ("1 hour", timedelta(hours=1)),
    ("10m", timedelta(minutes=10)),
    ("5 MINS", timedelta(minutes=5)),
    ("30 minutes", timedelta(minutes=30)),
    ("7d", 7 * DAY),
    ("2 days", 2 * DAY),
    ("1 Day", DAY),
    (".5d", DAY / 2),
    ("2w", 14 * DAY),
    ("1 week", 7 * DAY),
    ("1y", timedelta(days=365.25)),
    ("2 years", timedelta(days=730.5)),
    ("1 yr", timedelta(days=365.25)),
    ("90s", timedelta(seconds=90)),
    ("45 secs", timedelta(seconds=45)),
    ("1 second", timedelta(seconds=1)),
    ("1500ms", timedelta(seconds=1.5)),
    ("2000 msecs", timedelta(seconds=2)),
    ("3000 milliseconds", timedelta(seconds=3)),
    (" 24h ", timedelta(hours=24)),
]

REFUSED = ["", "abc", "1 fortnight", "1h30m", "1e3", "h", "24 h s", "0", "0s", "-5m", "-1"]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", REFUSED)
def test_refused_forms_name_the_variable(text: str) -> None:
    with pytest.raises(ValueError, match="JWT_EXPIRATION"):
        parse_duration(text)


def test_settings_carry_the_lifetime(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_expiration="2 days", _env_file=None)
    assert settings.token_lifetime == 2 * DAY


def test_cli_turns_a_bad_value_into_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JWT_EXPIRATION", "1 fortnight")
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(["migrate"])
    assert code == 2
    assert "JWT_EXPIRATION" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_cli_accepts_a_long_form(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JWT_EXPIRATION", "2 days")
    assert cli.main(["migrate"]) == 0
