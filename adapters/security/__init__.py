"""Password hashing (argon2), JWTs, and sealing API keys with the server secret."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.fernet import Fernet, InvalidToken
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from domain.entities import User
from domain.errors import Unauthorized
from domain.ports import Clock, TokenClaims


class Argon2Passwords:
    def __init__(self) -> None:
        self._hash = PasswordHash((Argon2Hasher(),))

    async def hash(self, password: str) -> str:
        # argon2 costs tens of milliseconds of CPU: keep it off the event loop.
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str) -> bool:
        try:
            return await asyncio.to_thread(self._hash.verify, password, password_hash)
        except Exception:  # a malformed stored hash is a failed login, not a crash
            return False


class JwtTokens:
    """HS256 JWTs carrying the user id (`sub`) and the user's token version (`ver`).

    Expiry is checked against the injected clock, like every other time in the product."""

    def __init__(self, secret: str, lifetime: timedelta, clock: Clock) -> None:
        self._secret = secret
        self._lifetime = lifetime
        self._clock = clock

    def issue(self, user: User) -> str:
        now = self._clock.now()
        claims = {
            "sub": user.id,
            "ver": user.token_version,
            "role": user.role.value,
            "iat": now,
            "exp": now + self._lifetime,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token") from None
        # Tokens issued before versions existed carry none: they belong to version 0.
        subject, version, exp = claims.get("sub"), claims.get("ver", 0), claims.get("exp")
        # bool is an int to Python, not a version or a time
        if (
            not isinstance(subject, str)
            or not isinstance(version, int)
            or isinstance(version, bool)
            or not isinstance(exp, int | float)
            or isinstance(exp, bool)
        ):
            raise Unauthorized("Invalid token")
        try:
            expires_at = datetime.fromtimestamp(exp, UTC)
        except (OverflowError, OSError, ValueError):
            raise Unauthorized("Invalid token") from None
        if expires_at <= self._clock.now():
            raise Unauthorized("Token expired")
        return TokenClaims(subject, version, expires_at)


class FernetBox:
    """Seals secrets with a key derived from the server secret, never stored in the database."""

    def __init__(self, server_secret: str) -> None:
        digest = hashlib.sha256(b"wamux/secret-box/v1:" + server_secret.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            return None  # sealed under another server secret
