"""A full backup of every stored record, provider-neutral: export walks the storage's
`RecordInventory` in one consistent snapshot; import writes into an EMPTY database of the
same schema, parents first. The lines are JSON objects:

    {"format": "wamux-backup", "version": 1, "schema": "<revision>", "counts": {...}}
    {"kind": "users", "record": {...}}            (one per record, kinds in inventory order)
    {"end": true, "records": <total>}             (a file cut short lacks it: refused)

Sealed values (API keys, webhook secrets) stay sealed: the importing server needs the same
JWT_SECRET. Password hashes are copied as they are."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.ports import RecordInventory

FORMAT = "wamux-backup"
VERSION = 1
BATCH = 500

Progress = Callable[[int], None]


class BackupError(Exception):
    """A backup that cannot be written or read back; the message says what to do."""


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


async def export_lines(
    inventory: RecordInventory, summary: Summary, on_total: Progress, progress: Progress
) -> AsyncIterator[str]:
    kinds = inventory.kinds()
    async with inventory.snapshot() as snap:
        counts = {kind: await snap.count(kind) for kind in kinds}
        on_total(sum(counts.values()))
        yield _line(
            {
                "format": FORMAT,
                "version": VERSION,
                "schema": inventory.schema_version(),
                "counts": counts,
            }
        )
        for kind in kinds:
            written = 0
            async for records in snap.records(kind, BATCH):
                for record in records:
                    yield _line({"kind": kind, "record": record})
                written += len(records)
                progress(len(records))
            summary.counts[kind] = written
    yield _line({"end": True, "records": summary.total})


def _parse(text: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise BackupError(f"line {number} is not JSON: not a wamux backup, or damaged") from None
    if not isinstance(value, dict):
        raise BackupError(f"line {number} is not a JSON object: not a wamux backup")
    return value


async def import_lines(
    inventory: RecordInventory,
    lines: Iterable[str],
    summary: Summary,
    on_total: Progress,
    progress: Progress,
) -> None:
    numbered = enumerate(lines, 1)
    first = next(numbered, None)
    if first is None:
        raise BackupError("the file is empty")
    header = _parse(first[1], 1)
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise BackupError(f"not a {FORMAT} version {VERSION} file")
    schema = inventory.schema_version()
    if header.get("schema") != schema:
        raise BackupError(
            f"the backup has schema {header.get('schema')}, this server {schema}: "
            "import it with the release that exported it, then upgrade"
        )
    kinds = inventory.kinds()
    async with inventory.snapshot() as snap:
        present = {kind: n for kind in kinds if (n := await snap.count(kind))}
    if present:
        listed = ", ".join(f"{k}: {n}" for k, n in present.items())
        raise BackupError(f"the target database is not empty ({listed}); import needs an empty one")
    counts = header.get("counts") or {}
    on_total(sum(int(n) for n in counts.values()))
    order = {kind: i for i, kind in enumerate(kinds)}
    pending: list[dict[str, Any]] = []
    current: str | None = None
    ended = False

    async def flush() -> None:
        if current is not None and pending:
            await inventory.write(current, pending)
            summary.counts[current] = summary.counts.get(current, 0) + len(pending)
            progress(len(pending))
            pending.clear()

    for number, text in numbered:
        if not text.strip():
            continue
        item = _parse(text, number)
        if item.get("end") is True:
            ended = True
            break
        kind, record = item.get("kind"), item.get("record")
        if kind not in order or not isinstance(record, dict):
            raise BackupError(f"line {number}: unknown record kind {kind!r}")
        if kind != current:
            await flush()
            if current is not None and order[kind] < order[current]:
                raise BackupError(f"line {number}: {kind} after {current}: out of order")
            current = kind
        pending.append(record)
        if len(pending) >= BATCH:
            await flush()
    await flush()
    if not ended:
        raise BackupError(
            "the file ends before its last line: it was cut short; the database now holds "
            "part of it, so empty it before importing a whole file"
        )
    for kind, expected in counts.items():
        if summary.counts.get(kind, 0) != expected:
            raise BackupError(
                f"{kind}: the header announced {expected} records, the file held "
                f"{summary.counts.get(kind, 0)}"
            )
