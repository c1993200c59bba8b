"""Security ports, reversible on purpose: never used outside unit tests."""

from __future__ import annotations

from domain.entities import User
from domain.errors import Unauthorized


class PlainHasher:
    """Stands in for argon2 in unit tests: reversible on purpose, never used for real."""

    async def hash(self, password: str) -> str:
        return "plain$" + password

    async def verify(self, password: str, password_hash: str) -> bool:
        return password_hash == "plain$" + password


class PlainBox:
    def seal(self, plaintext: str) -> str:
        return "sealed:" + plaintext

    def open(self, sealed: str) -> str | None:
        return sealed.removeprefix("sealed:") if sealed.startswith("sealed:") else None


class FakeTokens:
    def issue(self, user: User) -> str:
        return "token-for-" + user.id

    def subject(self, token: str) -> str:
        if not token.startswith("token-for-"):
            raise Unauthorized("Invalid token")
        return token.removeprefix("token-for-")
