"""What the `wamux` command line does, as the person who runs the server.

Whoever can run `wamux` on the server can read its database and secret, so these act with
the admin's rights without a login; each goes through the same use case as the API."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.entities import Instance, Principal, Role, User
from domain.errors import NotFound
from domain.ports import UnitOfWorkFactory
from domain.users import Accounts, UserChanges

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The operator is no stored user: an admin principal that owns nothing.
OPERATOR = Principal(
    user=User(
        id="operator",
        email="operator@localhost",
        first_name="",
        last_name="",
        role=Role.ADMIN,
        password_hash="",
        api_key_hash="",
        api_key_sealed="",
        is_active=True,
        created_at=_EPOCH,
        updated_at=_EPOCH,
    )
)


class Operator:
    def __init__(self, uow: UnitOfWorkFactory, accounts: Accounts) -> None:
        self._uow = uow
        self._accounts = accounts

    async def user(self, email: str) -> User:
        async with self._uow(read_only=True) as uow:
            user = await uow.users.get_by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"no user with email {email.strip()}")
        return user

    async def reset_password(self, email: str, password: str) -> User:
        """New password; the user's tokens issued before stop working (as through the API)."""
        user = await self.user(email)
        return await self._accounts.update_user(OPERATOR, user.id, UserChanges(password=password))

    async def rotate_api_key(self, email: str) -> tuple[User, str]:
        user = await self.user(email)
        return user, await self._accounts.rotate_api_key(Principal(user=user))

    async def instances(self) -> list[tuple[Instance, str]]:
        """Every instance with its owner's email, oldest first."""
        async with self._uow(read_only=True) as uow:
            instances = await uow.instances.list()
            owners: dict[str, str] = {}
            for instance in instances:
                if instance.user_id not in owners:
                    owner = await uow.users.get(instance.user_id)
                    owners[instance.user_id] = owner.email if owner else "?"
        instances.sort(key=lambda i: i.created_at)
        return [(i, owners[i.user_id]) for i in instances]
