"""Login, the current user, API keys and user management."""

from __future__ import annotations

import strawberry

from api.deps import client_address
from domain.errors import ValidationFailed
from domain.users import NewUser, UserChanges
from graphql_schema.context import Info
from graphql_schema.enums import Role
from graphql_schema.graph import After, First
from graphql_schema.payloads import UserError, attempt
from graphql_schema.relay import Connection, connection, encode_cursor, keyset_position, one_more
from graphql_schema.types import LoginPayload, Pagination, Result, User, UserPage, UserWithApiKey


@strawberry.input(description="A new user account (admin).")
class NewUserInput:
    email: str = strawberry.field(description="The login email; unique.")
    password: str = strawberry.field(description="At least 8 characters.")
    first_name: str | None = strawberry.field(default=None, description="First name.")
    last_name: str | None = strawberry.field(default=None, description="Last name.")
    role: Role = strawberry.field(default=Role.user, description="user unless said otherwise.")


@strawberry.input(description="Changes to a user (admin); an omitted field keeps its value.")
class UserChangesInput:
    email: str | None = strawberry.field(default=None, description="A new login email.")
    password: str | None = strawberry.field(
        default=None, description="A new password (at least 8 characters); old JWTs stop working."
    )
    first_name: str | None = strawberry.field(default=None, description="First name.")
    last_name: str | None = strawberry.field(default=None, description="Last name.")
    role: Role | None = strawberry.field(default=None, description="A new role.")
    is_active: bool | None = strawberry.field(
        default=None, description="False disables login and the API key."
    )


@strawberry.type(description="The user a mutation changed, or why it did not.")
class UserPayload:
    user: User | None = strawberry.field(description="Null when `userErrors` is not.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


@strawberry.type(description="The answer of `rotateUserApiKey`.")
class RotatedUserApiKeyPayload:
    api_key: str | None = strawberry.field(
        description="The user's new API key, shown once (the old one stops working at once, "
        "on open websockets too); null on userErrors."
    )
    user: User | None = strawberry.field(description="The user whose key changed.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


@strawberry.type
class AccountQuery:
    @strawberry.field(description="The calling user.")
    async def me(self, info: Info) -> User:
        return User.from_entity((await info.context.principal()).user)

    @strawberry.field(
        description="All users (admin), oldest first, by keyset cursor: users created between "
        "two pages are neither repeated nor skipped."
    )
    async def all_users(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[User]:
        asked = 100 if first is None else first
        c = info.context.container
        found = await c.accounts.user_page(
            await info.context.principal(),
            limit=one_more(first, 100),
            after=keyset_position(after, "user"),
        )
        return connection(
            found[:asked],
            User.from_entity,
            lambda u: encode_cursor("user", u.created_at.isoformat(), u.id),
            has_next=len(found) > asked,
            has_previous=after is not None,
        )

    @strawberry.field(
        description="All users (admin), by offset: `limit` 1 to 1000 (default 100), `skip` "
        "the users before the page.",
        deprecation_reason="Use allUsers (a cursor connection).",
    )
    async def users(
        self, info: Info, limit: int | None = None, skip: int | None = None
    ) -> UserPage:
        c = info.context.container
        users, page = await c.accounts.list_users(await info.context.principal(), limit, skip)
        return UserPage(
            users=[User.from_entity(u) for u in users], pagination=Pagination.from_page(page)
        )

    @strawberry.field(description="One user (admin).")
    async def user(self, info: Info, id: strawberry.ID) -> User:
        c = info.context.container
        return User.from_entity(await c.accounts.get_user(await info.context.principal(), str(id)))


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Exchange email and password for a JWT.")
    async def login(self, info: Info, email: str, password: str) -> LoginPayload:
        context = info.context
        result = await context.container.accounts.login(
            email, password, client_address(context.conn)
        )
        return LoginPayload(
            token=result.token, user=User.from_entity(result.user), api_key=result.api_key
        )

    @strawberry.mutation(
        description="Replace the caller's API key; the old one stops working.",
        deprecation_reason="Use rotateMyApiKey (a payload with userErrors).",
    )
    async def rotate_api_key(self, info: Info) -> str:
        return await info.context.container.accounts.rotate_api_key(await info.context.principal())

    @strawberry.mutation(description="Create a user (admin); returns its API key.")
    async def create_user(self, info: Info, input: NewUserInput) -> UserWithApiKey:
        c = info.context.container
        principal = await info.context.principal()
        data = NewUser(
            input.email, input.password, input.first_name, input.last_name, input.role.value
        )
        try:
            user, api_key = await c.accounts.create_user(principal, data)
        except ValidationFailed as error:
            return UserWithApiKey(
                user=None, api_key=None, user_errors=[UserError.from_validation(error)]
            )
        return UserWithApiKey(user=User.from_entity(user), api_key=api_key, user_errors=[])

    @strawberry.mutation(description="Change a user (admin).")
    async def update_user(
        self, info: Info, id: strawberry.ID, input: UserChangesInput
    ) -> UserPayload:
        changes = UserChanges(
            input.email,
            input.password,
            input.first_name,
            input.last_name,
            input.role.value if input.role is not None else None,
            input.is_active,
        )
        c = info.context.container
        principal = await info.context.principal()

        async def update() -> User:
            return User.from_entity(await c.accounts.update_user(principal, str(id), changes))

        user, errors = await attempt(update())
        return UserPayload(user=user, user_errors=errors)

    @strawberry.mutation(
        description="Replace a user's API key (admin); the old one stops working at once."
    )
    async def rotate_user_api_key(
        self, info: Info, user_id: strawberry.ID
    ) -> RotatedUserApiKeyPayload:
        c = info.context.container
        principal = await info.context.principal()
        rotated, errors = await attempt(c.accounts.rotate_user_api_key(principal, str(user_id)))
        if rotated is None:
            return RotatedUserApiKeyPayload(api_key=None, user=None, user_errors=errors)
        user, api_key = rotated
        return RotatedUserApiKeyPayload(
            api_key=api_key, user=User.from_entity(user), user_errors=[]
        )

    @strawberry.mutation(
        description="Delete a user and their instances (admin); `deletedId` is the user's id."
    )
    async def delete_user(self, info: Info, id: strawberry.ID) -> Result:
        await info.context.container.accounts.delete_user(await info.context.principal(), str(id))
        return Result(success=True, message=f"User {id} deleted successfully", deleted_id=id)
