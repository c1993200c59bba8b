"""Files and directories only this server's user can read: the data dir (0700), the
database with its WAL and shared-memory files, uploads and the JWT secret (0600).

Each is created with its final mode (`os.open(..., 0o600)`, `mkdir(0o700)`), then set to
exactly that mode, so no umask widens it and there is no moment when it is readable by
others; an existing database file that others can read is tightened.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def private_dir(path: Path) -> Path:
    """Creates `path` and any missing parent as 0700; an existing directory is left as is."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by someone else in the meantime: not ours to change
        os.chmod(directory, DIR_MODE)  # mkdir's mode went through the umask
    return path


def create_private_file(path: Path, data: bytes) -> None:
    """Writes a new file that is 0600 from its first byte; FileExistsError if it exists."""
    fd = os.open(path, _CREATE, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """Makes an existing file 0600 if anyone but its owner may read or write it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, FILE_MODE)
        log.warning("%s was readable by others (mode %o); it is 0600 now", path, mode)


def private_database(path: Path) -> None:
    """Prepares an SQLite file so that it, its -wal and its -shm are 0600.

    SQLite creates the -wal and -shm files with the mode of the database file, so creating
    that one empty (a valid empty database) with 0600 before SQLite opens it is enough."""
    private_dir(path.parent)
    try:
        create_private_file(path, b"")
    except FileExistsError:
        for existing in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            tighten(existing)
