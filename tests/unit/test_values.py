"""Phones, times, settings parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.settings import Settings
from domain.errors import ValidationFailed
from domain.phones import normalise_phone, to_jid
from domain.times import StoredMoment, iso, iso_ms, parse_iso, to_ms


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("79001234567", "79001234567"),
        ("+7 900 123-45-67", "79001234567"),
        ("(555) 010.9999", "5550109999"),
    ],
)
def test_phone_forms_normalise(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits
    assert to_jid(raw) == f"{digits}@s.whatsapp.net"


@pytest.mark.parametrize(
    "bad", ["", "abc", "12", "+", "1" * 16, "79001234567@evil.com", "x@g.us", "ab@lid"]
)
def test_bad_phones_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        to_jid(bad)


def test_jids_pass_through() -> None:
    assert to_jid("79001234567@s.whatsapp.net") == "79001234567@s.whatsapp.net"
    assert to_jid("120363025246125244@g.us") == "120363025246125244@g.us"
    assert to_jid("98765432109876@lid") == "98765432109876@lid"  # replies to LID chats


def test_iso_round_trip_in_milliseconds() -> None:
    moment = parse_iso("2023-01-01T12:05:00.123Z", "since")
    assert iso(moment) == "2023-01-01T12:05:00.123Z"
    assert iso_ms(to_ms(moment)) == "2023-01-01T12:05:00.123Z"
    assert iso(parse_iso("2023-01-01T14:05:00+02:00", "x")) == "2023-01-01T12:05:00.000Z"
    assert iso(parse_iso("2023-01-01T12:05:00 00:00", "x")) == "2023-01-01T12:05:00.000Z"


@pytest.mark.parametrize(
    "stored",
    [
        "2024-01-01 00:00:00.000000",
        "2024-02-29 23:59:59.999999",  # truncated to the millisecond, never rounded up
        "1999-12-31 12:00:00.000500",
        "2024-01-01 00:00:00",  # no fraction: formatted instead
        "2024-01-01T08:30:00.250000",
    ],
)
def test_a_stored_moment_answers_the_text_iso_would_write(stored: str) -> None:
    moment = StoredMoment.from_stored(stored)
    plain = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    assert moment == plain and moment.tzinfo is UTC
    assert iso(moment) == iso(plain.replace(tzinfo=UTC) + timedelta(0))  # a plain datetime
    assert iso(moment.replace(hour=1)) == iso(plain.replace(hour=1))  # derived: no stale text


@pytest.mark.parametrize(
    "naive",
    [
        datetime(2024, 1, 2, 3, 4, 5, 678901),
        datetime(2024, 1, 2, 3, 4, 5),
        datetime(1999, 12, 31, 23, 59, 59, 999999),
    ],
)
def test_a_moment_from_postgresql_answers_the_text_iso_would_write(naive: datetime) -> None:
    moment = StoredMoment.from_naive(naive)  # timestamp without time zone, holding UTC
    assert moment == naive.replace(tzinfo=UTC) and moment.tzinfo is UTC
    assert iso(moment) == iso(naive.replace(tzinfo=UTC) + timedelta(0))


def test_sqlite_url_forms(tmp_path: Path) -> None:
    def path(url: str | None) -> Path:
        return Settings(data_dir=tmp_path, sqlite_database_url=url, _env_file=None).sqlite_path()

    assert path(None) == tmp_path / "whatsapp-api.db"
    assert path("file:./data/whatsapp-api.db") == Path("./data/whatsapp-api.db")
    assert path("sqlite:////var/x.db") == Path("/var/x.db")


def test_jwt_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    first = settings.resolve_jwt_secret()
    assert len(first) >= 32
    assert settings.resolve_jwt_secret() == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
