"""Use cases for accounts: login, resolving a caller, and user management (admin)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import validation as v
from domain.entities import Page, Principal, Role, User
from domain.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from domain.login_throttle import LoginThrottle, ThrottlePolicy
from domain.ports import (
    AccountNotices,
    Clock,
    Connections,
    IdFactory,
    MediaStore,
    PasswordHasher,
    SecretBox,
    TokenService,
    UnitOfWorkFactory,
    UserRepository,
)
from domain.security import hash_api_key, new_api_key
from domain.sessions import Credential, LiveSession, PrincipalCache

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
        notices: AccountNotices,
        principal_ttl_s: float = 0.0,
        throttle: ThrottlePolicy | None = None,
        recheck_s: float = 60.0,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._box = box
        self._clock = clock
        self._ids = ids
        self._connections = connections
        self._media_store = media_store
        self._notices = notices
        self._cache = PrincipalCache(principal_ttl_s)
        self._throttle = LoginThrottle(throttle or ThrottlePolicy(), clock)
        self._recheck_s = recheck_s
        self._dummy_hash: str | None = None

    # --- authentication ----------------------------------------------------------------

    async def login(self, email: str, password: str, client: str | None = None) -> LoginResult:
        """`client` is the caller's address, throttled like the account (LoginThrottle)."""
        if not email or not password:
            raise ValidationFailed("'email' and 'password' are required")
        normalised = email.strip().lower()
        attempt = self._throttle.begin(normalised, client)
        # The password is checked outside any writing unit: hashing takes a while, and a
        # unit that writes holds the storage's write turn (one at a time on SQLite).
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get_by_email(normalised)
        if user is None or not user.is_active:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hasher.hash(_DUMMY_HASH_PASSWORD)
            await self._hasher.verify(password, self._dummy_hash)
            attempt.failed()
            raise Unauthorized("Invalid email or password")
        if not await self._hasher.verify(password, user.password_hash):
            attempt.failed()
            raise Unauthorized("Invalid email or password")
        attempt.succeeded()
        async with self._uow() as uow:
            # Read again: the account may have changed while the password was checked (the
            # token must carry the current token version).
            fresh = await uow.users.get(user.id)
            if fresh is None or not fresh.is_active:
                raise Unauthorized("Invalid email or password")
            user = fresh
            user.last_login_at = self._clock.now()
            await uow.users.record_login(user.id, user.last_login_at)
            await uow.commit()
        return LoginResult(self._tokens.issue(user), user, self.reveal_api_key(user))

    async def authenticate(self, credential: Credential) -> Principal:
        """The caller behind a bearer token or an API key; raises Unauthorized."""
        if credential.token:
            return await self.principal_from_token(credential.token)
        if credential.api_key:
            return await self.principal_from_api_key(credential.api_key)
        raise Unauthorized(
            "Missing credentials: send 'Authorization: Bearer <token>' or 'x-api-key'"
        )

    def live_session(self, credential: Credential) -> LiveSession:
        """The caller of a websocket: re-resolved per operation, watched while it streams."""
        return LiveSession(self, self._notices, self._clock, credential, self._recheck_s)

    async def principal_from_token(self, token: str) -> Principal:
        claims = self._tokens.verify(token)
        principal = await self._cached("user:" + claims.user_id, lambda u: u.get(claims.user_id))
        if principal is None:
            raise Unauthorized("The token's user no longer exists or is disabled")
        if claims.version != principal.user.token_version:
            raise Unauthorized("The token was revoked (password or rights changed); log in again")
        return Principal(principal.user, claims.expires_at)

    async def principal_from_api_key(self, api_key: str) -> Principal:
        digest = hash_api_key(api_key.strip())
        principal = await self._cached("key:" + digest, lambda u: u.get_by_api_key_hash(digest))
        if principal is None:
            raise Unauthorized("Invalid API key")
        return principal

    async def _cached(
        self, key: str, lookup: Callable[[UserRepository], Awaitable[User | None]]
    ) -> Principal | None:
        """The active user behind a cache key, from the cache or from storage."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        generation = self._cache.generation
        async with self._uow(read_only=True) as uow:
            user = await lookup(uow.users)
        if user is None or not user.is_active:
            return None
        return self._cache.put(key, Principal(user), generation)

    def forget_cached(self) -> None:
        """Drops every cached principal (after a database switch: read them again there)."""
        self._cache.clear()

    async def _changed(self, user_id: str) -> None:
        """After a committed change that may take rights away: no stale cache, no stale
        live session."""
        self._cache.clear()
        await self._notices.publish(user_id)

    def reveal_api_key(self, user: User) -> str | None:
        return self._box.open(user.api_key_sealed)

    async def rotate_api_key(self, principal: Principal) -> str:
        """The caller's own key: the old one stops working at once."""
        _, api_key = await self._rotate(principal.user_id)
        return api_key

    async def _rotate(self, user_id: str) -> tuple[User, str]:
        api_key = new_api_key()
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"User {user_id} not found")
            user.api_key_hash = hash_api_key(api_key)
            user.api_key_sealed = self._box.seal(api_key)
            user.updated_at = self._clock.now()
            await uow.users.update(user)
            await uow.commit()
        # The old key's cached principal and the sockets opened with it go as they do
        # after any change that takes rights away.
        await self._changed(user_id)
        log.info("api key rotated for user %s", user_id)
        return user, api_key

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

    async def user_page(
        self,
        principal: Principal,
        *,
        limit: int | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[User]:
        """Users oldest first (admin), strictly after `after` (created_at, id): a keyset
        page, which users created meanwhile neither shift nor repeat."""
        _require_admin(principal)
        lim, _ = v.page(limit, 0, default=100, maximum=1000)
        async with self._uow(read_only=True) as uow:
            return await uow.users.page(after=after, limit=lim)

    async def rotate_user_api_key(self, principal: Principal, user_id: str) -> tuple[User, str]:
        """Another user's (or one's own) new API key (admin): the old one stops working at
        once, on live sockets too, exactly as when the user rotates it."""
        _require_admin(principal)
        return await self._rotate(user_id)

    async def users_by_ids(self, principal: Principal, user_ids: Sequence[str]) -> dict[str, User]:
        """Many users at once (admin), e.g. the owners of a page of instances."""
        _require_admin(principal)
        async with self._uow(read_only=True) as uow:
            return await uow.users.get_many(user_ids)

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
            # Tokens issued before a password change, a demotion or a disabling stop working.
            revoking = (
                changes.password is not None
                or (user.is_admin and demoting)
                or (user.is_active and disabling)
            )
            if changes.role is not None:
                user.role = _role(changes.role)
            if changes.is_active is not None:
                user.is_active = changes.is_active
            if new_hash is not None:
                user.password_hash = new_hash
            if revoking:
                user.token_version += 1
            user.updated_at = self._clock.now()
            await uow.users.update(user)
            await uow.commit()
        await self._changed(user.id)
        if revoking:
            log.info("tokens of user %s revoked (version %d)", user.id, user.token_version)
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
        await self._changed(user_id)
        for instance in instances:
            await self._media_store.remove_instance(instance.id)
        log.info("user %s deleted with %d instance(s)", user_id, len(instances))


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("This action requires the admin role")
