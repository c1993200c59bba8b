"""Mutation payloads: the changed object plus `userErrors` for input the caller can fix.

Validation failures of a mutation's input are data (`userErrors`), as GitHub's and
Shopify's APIs do it; authorisation, not-found and engine failures stay GraphQL errors with
`extensions.code`. Every mutation payload carries `user_errors: list[UserError]`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry

from domain.errors import ValidationFailed

T = TypeVar("T")


@strawberry.type(description="An input the caller can correct; the mutation changed nothing.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, e.g. ['input', 'phone']; null when "
        "the error is about the input as a whole."
    )
    code: str = strawberry.field(description="Machine-readable code, e.g. 'validation_error'.")
    message: str = strawberry.field(description="Human-readable explanation.")

    @classmethod
    def from_validation(cls, error: ValidationFailed, root: str | None = "input") -> UserError:
        """`root` is the argument the field lives in (None: the field is an argument)."""
        field = error.details.get("field")
        path = ([root] if root else []) + [str(field)] if field else None
        return cls(field=path, code=error.code, message=error.message)


async def attempt(
    action: Awaitable[T], root: str | None = "input"
) -> tuple[T | None, list[UserError]]:
    """The use case's result, or the input errors it reported (it then changed nothing)."""
    try:
        return await action, []
    except ValidationFailed as error:
        return None, [UserError.from_validation(error, root)]
