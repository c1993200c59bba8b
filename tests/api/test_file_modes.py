"""Files at rest: a fresh data dir is 0700; the database, its WAL and shared memory, uploads
and the generated JWT secret are 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.security.files import private_database
from tests.conftest import AppFactory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


async def test_a_fresh_data_dir_is_private(
    api_factory: AppFactory, tmp_path: Path, umask: int
) -> None:
    data = tmp_path / "fresh" / "data"
    api = await api_factory(data_dir=data, jwt_secret=None)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send-file",
        data={"phone": "79001234567"},
        files={"file": ("a.txt", b"abc", "text/plain")},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    db = data / "whatsapp-api.db"
    files = [
        data / "jwt-secret",
        db,
        Path(f"{db}-wal"),
        Path(f"{db}-shm"),
        *(data / "uploads" / inst["id"]).iterdir(),
    ]
    assert len(files) == 5
    assert {str(f.relative_to(data)): oct(mode(f)) for f in files} == {
        str(f.relative_to(data)): "0o600" for f in files
    }
    dirs = [tmp_path / "fresh", data, data / "uploads", data / "uploads" / inst["id"]]
    dirs.append(data / "instances")
    assert [oct(mode(d)) for d in dirs] == ["0o700"] * len(dirs)


def test_an_existing_database_readable_by_others_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    for path in (db, Path(f"{db}-wal")):
        path.write_bytes(b"")
        path.chmod(0o644)
    private_database(db)
    assert mode(db) == mode(Path(f"{db}-wal")) == 0o600
    assert not Path(f"{db}-shm").exists()  # nothing is created beside it
