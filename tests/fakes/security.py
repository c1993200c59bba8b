"""Security ports, reversible on purpose: never used outside unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.entities import User
from domain.errors import Unauthorized
from domain.ports import Clock, TokenClaims


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
    """Readable tokens `token-for-<user id>.v<version>[.until-<iso expiry>]`; with a clock and
    a lifetime they expire by that clock, as JwtTokens does."""

    def __init__(self, clock: Clock | None = None, lifetime: timedelta | None = None) -> None:
        self._clock = clock
        self._lifetime = lifetime

    def issue(self, user: User) -> str:
        token = f"token-for-{user.id}.v{user.token_version}"
        if self._clock is not None and self._lifetime is not None:
            token += f".until-{(self._clock.now() + self._lifetime).isoformat()}"
        return token

    def verify(self, token: str) -> TokenClaims:
        if not token.startswith("token-for-"):
            raise Unauthorized("Invalid token")
        user_id, _, rest = token.removeprefix("token-for-").partition(".v")
        version, _, until = rest.partition(".until-")
        expires_at = datetime.fromisoformat(until) if until else datetime.max.replace(tzinfo=UTC)
        if self._clock is not None and expires_at <= self._clock.now():
            raise Unauthorized("Token expired")
        return TokenClaims(user_id, int(version or 0), expires_at)
