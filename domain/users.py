"""Use cases for accounts: login, resolving a caller, and user management (admin)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from domain import validation as v
from domain.entities import Page, Principal, Role, User
from domain.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from domain.ports import (
    Clock,
    Connections,
    IdFactory,
    MediaStore,
    PasswordHasher,
    SecretBox,
    TokenService,
    UnitOfWorkFactory,
)
from domain.security import hash_api_key, new_api_key

log = logging.getLogger(__name__)

# Verified when an email is unknown, so a failed login takes as long either way.
_DUMMY_HASH_PASSWORD = "not-a-real-password-0000"


@dataclass(frozen=True)
class NewUser:
    email: str
    password: str
    first_name: str | None = None
    last_name: str | None = None
    role: str = "user"


@dataclass(frozen=True)
class UserChanges:
    email: str | None = None
    password: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    is_active: bool | None = None


@dataclass(frozen=True)
class LoginResult:
    token: str
    user: User
    api_key: str | None


def _role(value: str, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationFailed(f"'{field}' must be 'admin' or 'user'", {"field": field}) from None


class Accounts:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        tokens: TokenService,
        box: SecretBox,
        clock: Clock,
        ids: IdFactory,
        connections: Connections,
        media_store: MediaStore,
        principal_ttl_s: float = 0.0,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._box = box
        self._clock = clock
        self._ids = ids
        self._connections = connections
        self._media_store = media_store
        self._cache = PrincipalCache(principal_ttl_s)
        self._dummy_hash: str | None = None

    # --- authentication ----------------------------------------------------------------

    async def login(self, email: str, password: str) -> LoginResult:
        if not email or not password:
            raise ValidationFailed("'email' and 'password' are required")
        # The password is checked outside any writing unit: hashing takes a while, and a
        # unit that writes holds the storage's write turn (one at a time on SQLite).
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get_by_email(email.strip().lower())
        if user is None or not user.is_active:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hasher.hash(_DUMMY_HASH_PASSWORD)
            await self._hasher.verify(password, self._dummy_hash)
            raise Unauthorized("Invalid email or password")
        if not await self._hasher.verify(password, user.password_hash):
            raise Unauthorized("Invalid email or password")
        async with self._uow() as uow:
            # Read again: the account may have changed while the password was checked.
            fresh = await uow.users.get(user.id)
            if fresh is None or not fresh.is_active:
                raise Unauthorized("Invalid email or password")
            user = fresh
            user.last_login_at = self._clock.now()
            await uow.users.update(user)
            await uow.commit()
        return LoginResult(self._tokens.issue(user), user, self.reveal_api_key(user))

    async def principal_from_token(self, token: str) -> Principal:
        user_id = self._tokens.subject(token)
        cached = self._cache.get("user:" + user_id)
        if cached is not None:
            return cached
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get(user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The token's user no longer exists or is disabled")
        return self._cache.put("user:" + user_id, Principal(user))

    async def principal_from_api_key(self, api_key: str) -> Principal:
        digest = hash_api_key(api_key.strip())
        cached = self._cache.get("key:" + digest)
        if cached is not None:
            return cached
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get_by_api_key_hash(digest)
        if user is None or not user.is_active:
            raise Unauthorized("Invalid API key")
        return self._cache.put("key:" + digest, Principal(user))

    def reveal_api_key(self, user: User) -> str | None:
        return self._box.open(user.api_key_sealed)

    async def rotate_api_key(self, principal: Principal) -> str:
        api_key = new_api_key()
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
            if user is None:
                raise NotFound("User not found")
            user.api_key_hash = hash_api_key(api_key)
            user.api_key_sealed = self._box.seal(api_key)
            user.updated_at = self._clock.now()
            await uow.users.update(user)
            await uow.commit()
        self._cache.clear()
        log.info("api key rotated for user %s", principal.user_id)
        return api_key

    # --- administration ----------------------------------------------------------------

    async def ensure_admin(self, email: str, password: str, first: str, last: str) -> bool:
        """Creates the first admin from settings unless that email already exists."""
        async with self._uow(read_only=True) as uow:
            if await uow.users.get_by_email(email.strip().lower()) is not None:
                return False
        await self.register(NewUser(email, password, first, last, "admin"), check_password=False)
        return True

    async def create_user(self, principal: Principal, data: NewUser) -> tuple[User, str]:
        _require_admin(principal)
        return await self.register(data, check_password=True)

    async def register(self, data: NewUser, *, check_password: bool) -> tuple[User, str]:
        email = v.email(data.email)
        password = v.password(data.password) if check_password else data.password
        first = v.text(data.first_name, "firstName", max_len=100) or ""
        last = v.text(data.last_name, "lastName", max_len=100) or ""
        role = _role(data.role)
        api_key = new_api_key()
        now = self._clock.now()
        user = User(
            id=self._ids(),
            email=email,
            first_name=first,
            last_name=last,
            role=role,
            password_hash=await self._hasher.hash(password),
            api_key_hash=hash_api_key(api_key),
            api_key_sealed=self._box.seal(api_key),
            is_active=True,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if await uow.users.get_by_email(email) is not None:
                raise Conflict(f"A user with email {email} already exists", {"field": "email"})
            await uow.users.add(user)
            await uow.commit()
        log.info("user %s created (%s)", user.id, role.value)
        return user, api_key

    async def list_users(
        self, principal: Principal, limit: int | None, skip: int | None
    ) -> tuple[list[User], Page]:
        _require_admin(principal)
        lim, off = v.page(limit, skip, default=100, maximum=1000)
        async with self._uow(read_only=True) as uow:
            users, total = await uow.users.list(limit=lim, skip=off)
        return users, Page(total, lim, off)

    async def get_user(self, principal: Principal, user_id: str) -> User:
        _require_admin(principal)
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found")
        return user

    async def update_user(self, principal: Principal, user_id: str, changes: UserChanges) -> User:
        _require_admin(principal)
        # Hashed before the unit that writes, which holds the write turn while it runs.
        new_hash = (
            await self._hasher.hash(v.password(changes.password))
            if changes.password is not None
            else None
        )
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"User {user_id} not found")
            if changes.email is not None:
                email = v.email(changes.email)
                other = await uow.users.get_by_email(email)
                if other is not None and other.id != user.id:
                    raise Conflict(f"A user with email {email} already exists", {"field": "email"})
                user.email = email
            if changes.first_name is not None:
                user.first_name = v.text(changes.first_name, "firstName", max_len=100) or ""
            if changes.last_name is not None:
                user.last_name = v.text(changes.last_name, "lastName", max_len=100) or ""
            demoting = changes.role is not None and _role(changes.role) is not Role.ADMIN
            disabling = changes.is_active is False
            if user.is_admin and user.is_active and (demoting or disabling):
                if user.id == principal.user_id:
                    raise Conflict("You cannot demote or disable your own account")
                if await uow.users.count_active_admins() <= 1:
                    raise Conflict("The last active admin cannot be demoted or disabled")
            if changes.role is not None:
                user.role = _role(changes.role)
            if changes.is_active is not None:
                user.is_active = changes.is_active
            if new_hash is not None:
                user.password_hash = new_hash
            user.updated_at = self._clock.now()
            await uow.users.update(user)
            await uow.commit()
        self._cache.clear()
        return user

    async def delete_user(self, principal: Principal, user_id: str) -> None:
        _require_admin(principal)
        if user_id == principal.user_id:
            raise Conflict("You cannot delete your own account")
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"User {user_id} not found")
            instances = await uow.instances.list(user_id=user_id)
        for instance in instances:
            await self._connections.destroy(instance)
        async with self._uow() as uow:
            for instance in instances:
                await uow.instances.delete(instance.id)
            await uow.users.delete(user_id)
            await uow.commit()
        self._cache.clear()
        for instance in instances:
            await self._media_store.remove_instance(instance.id)
        log.info("user %s deleted with %d instance(s)", user_id, len(instances))


class PrincipalCache:
    """Who a credential belongs to, for a moment: saves a lookup on every request.

    Any account change in this process clears it at once; another server sees a change
    within the TTL (0 turns the cache off)."""

    def __init__(self, ttl_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._now = now
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._now():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal) -> Principal:
        if self._ttl > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (self._now() + self._ttl, principal)
        return principal

    def clear(self) -> None:
        self._entries.clear()


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("This action requires the admin role")
