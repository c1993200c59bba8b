"""Password hashing (argon2), JWTs, and sealing API keys with the server secret."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import timedelta

import jwt
from cryptography.fernet import Fernet, InvalidToken
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from domain.entities import User
from domain.errors import Unauthorized
from domain.ports import Clock


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
    def __init__(self, secret: str, lifetime: timedelta, clock: Clock) -> None:
        self._secret = secret
        self._lifetime = lifetime
        self._clock = clock

    def issue(self, user: User) -> str:
        now = self._clock.now()
        claims = {"sub": user.id, "role": user.role.value, "iat": now, "exp": now + self._lifetime}
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def subject(self, token: str) -> str:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token") from None
        subject = claims.get("sub")
        if not isinstance(subject, str):
            raise Unauthorized("Invalid token")
        return subject


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
