"""Media ports: a fetcher with one canned answer, a media store in a dict."""

from __future__ import annotations

from domain.errors import ValidationFailed
from domain.ports import FetchedFile


class FakeFetcher:
    """Answers every URL with one canned file, or refuses it with ValidationFailed."""

    def __init__(self, file: FetchedFile | None = None, refusal: str | None = None) -> None:
        self.file = file or FetchedFile(b"\x89PNG fake image", "image/png", "picture.png")
        self.refusal = refusal
        self.urls: list[str] = []

    async def fetch(self, url: str) -> FetchedFile:
        self.urls.append(url)
        if self.refusal is not None:
            raise ValidationFailed(self.refusal, {"field": "url"})
        return self.file


class MemoryMediaStore:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}

    async def write(self, instance_id: str, media_id: str, data: bytes) -> None:
        self.files[(instance_id, media_id)] = data

    async def read(self, instance_id: str, media_id: str) -> bytes | None:
        return self.files.get((instance_id, media_id))

    async def remove_instance(self, instance_id: str) -> None:
        self.files = {k: v for k, v in self.files.items() if k[0] != instance_id}
